"""Scoring keeps a lead's stored fit while neither the fit rules nor anything they read changed
(`leads.fit_triggers`, `scoring.sql.fit_rules_digest`): whatever changes a lead's fit fields,
the next rescore gives the fit the engine computes from the lead as it now is."""

import json
import threading
import time
from dataclasses import replace

import pytest
from django.db import connection, connections, transaction

from leads.models import Account, Lead, LeadScore
from scoring import engine
from scoring.models import RuleSet, ScoreChange
from scoring.rulesets import FIT_FIELDS, parse_ruleset
from scoring.selectors import explain_lead
from scoring.services import (
    apply_scores,
    create_ruleset_from_spec,
    publish_ruleset,
    start_rescore,
)
from scoring.sql import LeadSelection, dialect_for, fit_rules_digest, score_select
from tests.scoring.test_batch import SAMPLE, T, active

pytestmark = pytest.mark.django_db


def rescore(ruleset: RuleSet) -> None:
    start_rescore(ruleset, reason=ScoreChange.Reason.RESCORE, as_of=T, sync=True)


def engine_fit(lead: Lead) -> float:
    lead = Lead.objects.select_related("account").get(pk=lead.pk)
    return explain_lead(lead, as_of=T).fit


def one_rule(field: str, operator: str, **rule) -> RuleSet:
    spec = replace(
        parse_ruleset(SAMPLE),
        fit_rules=(
            engine.FitRuleSpec(name="the rule", field=field, operator=operator, points=10, **rule),
        ),
    )
    return active(spec)


def make_lead() -> Lead:
    account = Account.objects.create(
        name="Northwind",
        domain="northwind.com",
        industry="Software",
        employee_count=300,
        annual_revenue=5_000_000,
        country="US",
        funding_stage="series_a",
        technologies=["HubSpot"],
    )
    return Lead.objects.create(
        email="dana@northwind.com",
        title="VP Marketing",
        source="webinar",
        account=account,
        attributes={"plan": "pro", "n": 1},
    )


# Each fit field, a rule that matches the lead as made, and a change (by queryset update, which
# no Python code sees) after which it no longer does.
FIELD_CHANGES = [
    ("title", "contains_any", {"values": ("VP",)}, "lead", {"title": "Intern"}),
    ("source", "equals_any", {"values": ("webinar",)}, "lead", {"source": "ads"}),
    (
        "email_domain",
        "equals_any",
        {"values": ("northwind.com",)},
        "lead",
        {"email": "dana@contoso.com", "email_domain": "contoso.com"},
    ),
    ("email_is_free", "is_false", {}, "lead", {"email_is_free": True}),
    ("attributes.plan", "equals_any", {"values": ("pro",)}, "lead", {"attributes": {"n": 1}}),
    # Equal as PostgreSQL's jsonb, but a rule reads the texts "1" and "1.0".
    (
        "attributes.n",
        "equals_any",
        {"values": ("1",)},
        "lead",
        {"attributes": {"plan": "pro", "n": 1.0}},
    ),
    ("industry", "equals_any", {"values": ("Software",)}, "account", {"industry": "Retail"}),
    ("country", "equals_any", {"values": ("US",)}, "account", {"country": "FR"}),
    (
        "funding_stage",
        "equals_any",
        {"values": ("series_a",)},
        "account",
        {"funding_stage": "seed"},
    ),
    ("employee_count", "between", {"min": 200}, "account", {"employee_count": 5}),
    ("annual_revenue", "between", {"min": 1_000_000}, "account", {"annual_revenue": 10}),
    ("technologies", "includes_any", {"values": ("hubspot",)}, "account", {"technologies": []}),
]


def test_every_fit_field_is_checked_by_a_change_behind_the_apps_back():
    assert set(FIT_FIELDS) <= {field for field, *_ in FIELD_CHANGES}


@pytest.mark.parametrize(("field", "operator", "rule", "table", "change"), FIELD_CHANGES)
def test_a_fit_field_changed_behind_the_apps_back_changes_fit_on_the_next_rescore(
    field, operator, rule, table, change
):
    ruleset = one_rule(field, operator, **rule)
    dana = make_lead()
    rescore(ruleset)
    assert Lead.objects.get(pk=dana.pk).score.fit_score == 10

    if table == "lead":
        Lead.objects.filter(pk=dana.pk).update(**change)
    else:
        Account.objects.filter(pk=dana.account_id).update(**change)
    rescore(ruleset)

    assert Lead.objects.get(pk=dana.pk).score.fit_score == 0 == engine_fit(dana)


def test_a_lead_moved_to_another_account_is_scored_with_the_new_accounts_fields():
    ruleset = one_rule("employee_count", "between", min=200)
    dana = make_lead()
    small = Account.objects.create(name="Tiny", domain="tiny.io", employee_count=3)
    rescore(ruleset)

    Lead.objects.filter(pk=dana.pk).update(account=small)
    rescore(ruleset)

    assert Lead.objects.get(pk=dana.pk).score.fit_score == 0 == engine_fit(dana)


def test_a_stale_copy_of_a_lead_saved_whole_does_not_leave_its_old_fit_behind():
    ruleset = one_rule("employee_count", "between", min=200)
    dana = make_lead()
    rescore(ruleset)
    stale = Lead.objects.get(pk=dana.pk)  # fit 10, read before the account shrinks

    Account.objects.filter(pk=dana.account_id).update(employee_count=5)
    rescore(ruleset)  # fit 0
    stale.first_name = "Dana"
    stale.save()  # saved whole, it would put back fit 10 under the current rules' digest
    rescore(ruleset)

    assert Lead.objects.get(pk=dana.pk).score.fit_score == 0 == engine_fit(dana)


def test_a_fit_score_written_directly_is_replaced_by_the_rules_fit_on_the_next_rescore():
    ruleset = one_rule("employee_count", "between", min=200)
    dana = make_lead()
    rescore(ruleset)

    LeadScore.objects.filter(pk=dana.pk).update(fit_score=99, disqualified=True)  # a "data fix"
    rescore(ruleset)

    dana.refresh_from_db()
    assert (dana.score.fit_score, dana.score.disqualified) == (10, False)


def test_a_lead_copied_from_another_is_scored_from_its_own_fields():
    ruleset = one_rule("title", "contains_any", values=("VP",))
    dana = make_lead()
    rescore(ruleset)

    copy = Lead.objects.get(pk=dana.pk)
    copy.pk, copy.email, copy.title = None, "sam@northwind.com", "Intern"
    copy.save()
    rescore(ruleset)

    assert Lead.objects.get(pk=copy.pk).score.fit_score == 0 == engine_fit(copy)


def accounts_read_scoring(leads: list[Lead], ruleset: RuleSet) -> int:
    """How many times scoring these leads reads the accounts: once when it computes fit for
    any of them, never when it keeps every stored fit."""
    ids = [lead.pk for lead in leads]
    select = score_select(
        ruleset.to_spec(), T, LeadSelection(min(ids), max(ids) + 1), dialect_for(connection)
    )
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + select.text, select.params)
        (plan,) = cursor.fetchone()
    plan = json.loads(plan) if isinstance(plan, str) else plan
    nodes, loops = [plan[0]["Plan"]], 0
    while nodes:
        node = nodes.pop()
        if node.get("Relation Name") == "leads_account":
            loops += node["Actual Loops"]
        nodes.extend(node.get("Plans", []))
    return loops


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's EXPLAIN ANALYZE")
def test_a_rescore_keeps_every_stored_fit_until_a_fit_field_changes():
    ruleset = active(parse_ruleset(SAMPLE))
    dana = make_lead()
    rescore(ruleset)
    assert accounts_read_scoring([dana], ruleset) == 0

    # A title fit rules score the same: computed once more, then kept again.
    Lead.objects.filter(pk=dana.pk).update(title="VP Sales")
    assert accounts_read_scoring([dana], ruleset) == 1
    rescore(ruleset)
    assert accounts_read_scoring([dana], ruleset) == 0


def test_a_publish_that_changes_fit_rules_rescores_fit_and_one_that_does_not_keeps_it():
    ruleset = active(parse_ruleset(SAMPLE))
    dana = make_lead()
    rescore(ruleset)
    kept = fit_rules_digest(ruleset.to_spec(), dialect_for(connection))
    assert Lead.objects.get(pk=dana.pk).score.fit_rules_digest == kept

    behavior_only = replace(ruleset.to_spec(), interest_high=ruleset.interest_high + 5)
    publish_ruleset(create_ruleset_from_spec(behavior_only), sync=True)
    assert Lead.objects.get(pk=dana.pk).score.fit_rules_digest == kept

    spec = ruleset.to_spec()
    richer = replace(spec, fit_rules=tuple(replace(r, points=r.points * 2) for r in spec.fit_rules))
    publish_ruleset(create_ruleset_from_spec(richer), sync=True)
    dana.refresh_from_db()
    assert dana.score.fit_score == engine_fit(dana) == 2 * 55
    assert dana.score.fit_rules_digest == fit_rules_digest(richer, dialect_for(connection))


def test_the_digest_ignores_rule_names_and_cut_offs_but_not_what_a_rule_matches():
    spec = parse_ruleset(SAMPLE)
    renamed = replace(spec, fit_rules=tuple(replace(r, name=r.name + "!") for r in spec.fit_rules))
    cut_offs = replace(spec, fit_high=spec.fit_high + 1)
    first = spec.fit_rules[0]
    widened = replace(spec, fit_rules=(replace(first, values=(*first.values, "x")),))

    d = dialect_for(connection)
    digest = fit_rules_digest(spec, d)
    assert fit_rules_digest(renamed, d) == fit_rules_digest(cut_offs, d) == digest
    assert fit_rules_digest(widened, d) != digest


def lock_waits() -> int:
    with connection.cursor() as cursor:
        # Activity is read once per transaction unless the snapshot is cleared.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT COUNT(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return cursor.fetchone()[0]


def score_during(edit, ruleset: RuleSet, lead: Lead) -> None:
    """Score the lead's chunk while `edit` holds its row: the chunk reads the lead as it was
    before the edit, waits for the edit to commit, then stores its score on the edited row."""

    def score_the_chunk():
        try:
            apply_scores(
                ruleset,
                LeadSelection(start=lead.pk, stop=lead.pk + 1),
                as_of=T,
                reason=ScoreChange.Reason.RESCORE,
            )
        finally:
            connections.close_all()

    chunk = threading.Thread(target=score_the_chunk)
    with transaction.atomic():
        edit()
        chunk.start()
        for _ in range(200):
            if lock_waits():
                break
            time.sleep(0.05)
        assert lock_waits() == 1, "the chunk never waited for the edit"
    chunk.join(30)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's concurrent writers")
@pytest.mark.django_db(transaction=True)
def test_a_lead_edited_while_its_chunk_is_being_scored_gets_its_fit_computed_again():
    ruleset = one_rule("title", "contains_any", values=("VP",))
    dana = make_lead()
    rescore(ruleset)
    LeadScore.objects.filter(pk=dana.pk).update(ruleset_version=None)  # due to be written again

    score_during(lambda: Lead.objects.filter(pk=dana.pk).update(title="Intern"), ruleset, dana)
    rescore(ruleset)

    assert Lead.objects.get(pk=dana.pk).score.fit_score == 0 == engine_fit(dana)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's concurrent writers")
@pytest.mark.django_db(transaction=True)
def test_an_account_edited_while_its_leads_are_being_scored_gets_their_fit_computed_again():
    ruleset = one_rule("employee_count", "between", min=200)
    dana = make_lead()
    rescore(ruleset)
    # Due to be written again, and with no digest (as before its first scoring, or after an
    # edit): the account's trigger must still mark the lead as changed.
    LeadScore.objects.filter(pk=dana.pk).update(ruleset_version=None, fit_rules_digest=None)

    score_during(
        lambda: Account.objects.filter(pk=dana.account_id).update(employee_count=5), ruleset, dana
    )
    rescore(ruleset)

    assert Lead.objects.get(pk=dana.pk).score.fit_score == 0 == engine_fit(dana)
