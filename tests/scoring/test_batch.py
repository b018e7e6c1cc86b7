"""The stored scores (SQL, set-based) agree with the engine (Python) — on SQLite here, and on
PostgreSQL when the suite runs there (CI)."""

import json
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import DEFAULT_DB_ALIAS, connection, connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leads.models import Account, Activity, Lead
from scoring import engine
from scoring.models import RuleSet, ScoreChange
from scoring.rulesets import parse_ruleset
from scoring.selectors import explain_lead
from scoring.services import (
    apply_scores,
    create_ruleset_from_spec,
    decay_scores,
    lead_id_chunks,
    start_rescore,
)
from scoring.sql import LeadSelection
from tests.conftest import heap_fetches_counting_leads

T = datetime(2026, 6, 1, tzinfo=UTC)
SAMPLE = json.loads((Path(__file__).parent / "sample_ruleset.json").read_text())

pytestmark = pytest.mark.django_db


def active(spec: engine.RuleSetSpec) -> RuleSet:
    ruleset = create_ruleset_from_spec(spec)
    RuleSet.objects.filter(status=RuleSet.Status.ACTIVE).update(status=RuleSet.Status.ARCHIVED)
    ruleset.status = RuleSet.Status.ACTIVE
    ruleset.save()
    return ruleset


def make_dana() -> Lead:
    account = Account.objects.create(
        name="Northwind",
        domain="northwind.com",
        industry="Software",
        employee_count=300,
        country="US",
    )
    dana = Lead.objects.create(email="dana@northwind.com", title="VP Marketing", account=account)
    events = [("demo_request", 15, "")] + [("page_view", d, "/pricing") for d in (1, 9, 22)]
    events += [("email_open", d, "") for d in (2, 3, 10, 40, 41)]
    Activity.objects.bulk_create(
        Activity(lead=dana, kind=kind, url=url, occurred_at=T - timedelta(days=days))
        for kind, days, url in events
    )
    return dana


def test_the_worked_example_is_stored_to_the_hundredth_of_a_point():
    ruleset = active(parse_ruleset(SAMPLE))
    dana = make_dana()
    start_rescore(ruleset, reason=ScoreChange.Reason.RESCORE, as_of=T, sync=True)
    dana.refresh_from_db()
    assert round(dana.score.fit_score, 2) == 55.00
    assert round(dana.score.interest_score, 2) == 55.39
    assert round(dana.score.total_score, 2) == 110.39
    assert (dana.score.fit_tier, dana.score.interest_tier, dana.score.cell) == ("A", 1, "A1")
    assert dana.score.scored_at == T
    assert dana.score.ruleset_version == ruleset.version


def test_a_cell_move_is_recorded_once_and_a_second_run_changes_nothing():
    ruleset = active(parse_ruleset(SAMPLE))
    dana = make_dana()
    assert apply_scores(ruleset, LeadSelection(), as_of=T, reason="rescore") == 1
    change = ScoreChange.objects.get(reason="rescore")
    assert (change.from_cell, change.to_cell, change.lead_id) == ("", "A1", dana.pk)
    assert apply_scores(ruleset, LeadSelection(), as_of=T, reason="rescore") == 0
    assert ScoreChange.objects.filter(reason="rescore").count() == 1


def test_a_veto_on_the_title_is_recorded_with_the_leads_cell_and_stage_and_spares_other_leads():
    first = active(parse_ruleset(SAMPLE))
    dana = make_dana()
    student = Lead.objects.create(email="sam@northwind.com", title="Student Ambassador")
    apply_scores(first, LeadSelection(), as_of=T, reason="rescore")
    dana = Lead.objects.select_related("score").get(pk=dana.pk)  # its score as first stored
    Lead.objects.filter(pk=dana.pk).update(title="Student Ambassador", stage="recycled")
    veto = {
        "name": "Student veto",
        "field": "title",
        "operator": "contains_any",
        "values": ["student"],
        "points": 0,
        "disqualify": True,
    }
    second = active(parse_ruleset({**SAMPLE, "fit_rules": [*SAMPLE["fit_rules"], veto]}))

    # A range of one lead: the title's rules are matched once per distinct title in it.
    apply_scores(second, LeadSelection(start=dana.pk, stop=dana.pk + 1), as_of=T, reason="publish")

    change = ScoreChange.objects.get(reason="publish")
    assert change.lead_id == dana.pk and change.disqualified
    assert (change.from_stage, change.to_stage) == ("recycled", "recycled")
    assert change.from_cell == dana.score.cell  # scored before the edit, with the first rule set
    dana.refresh_from_db()
    assert dana.score.disqualified and dana.score.ruleset_version == second.version
    assert dana.score.fit_score == pytest.approx(explain_lead(dana, as_of=T).fit)
    student.refresh_from_db()
    assert not student.score.disqualified and student.score.ruleset_version == first.version


def test_text_rules_ignore_the_case_of_letters_beyond_ascii_as_the_engine_does():
    rules = {
        **SAMPLE,
        "fit_rules": [
            {
                "name": "Doctors",
                "field": "industry",
                "operator": "equals_any",
                "values": ["ärzte"],
                "points": 10,
            }
        ],
        "behavior_rules": [
            {
                "name": "About us",
                "kind": "page_view",
                "url_contains": ["über"],
                "mode": "each",
                "points": 5,
            }
        ],
    }
    ruleset = active(parse_ruleset(rules))
    account = Account.objects.create(name="Praxis", domain="praxis.de", industry="ÄRZTE")
    eva = Lead.objects.create(email="eva@praxis.de", account=account)
    Activity.objects.create(lead=eva, kind="page_view", url="/ÜBER/uns", occurred_at=T)
    apply_scores(ruleset, LeadSelection(), as_of=T, reason="rescore")
    eva.refresh_from_db()
    explained = explain_lead(eva, as_of=T)
    assert (eva.score.fit_score, eva.score.interest_score) == (10, 5)
    assert (explained.fit, explained.interest) == pytest.approx((10, 5))


def test_decay_lowers_interest_as_time_passes_and_moves_the_cell():
    ruleset = active(parse_ruleset(SAMPLE))
    dana = make_dana()
    apply_scores(ruleset, LeadSelection(), as_of=T, reason="rescore")
    decay_scores(as_of=T + timedelta(days=60))
    dana.refresh_from_db()
    assert dana.score.interest_score < 20  # two half-lives later, and the pricing tier fell away
    assert dana.score.cell == "A3"
    assert ScoreChange.objects.filter(reason="decay", from_cell="A1", to_cell="A3").exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's visibility map")
@pytest.mark.django_db(transaction=True)
def test_a_decay_pass_leaves_the_leads_countable_from_the_cell_index():
    ruleset = active(parse_ruleset(SAMPLE))
    make_dana()
    apply_scores(ruleset, LeadSelection(), as_of=T, reason="rescore")
    assert heap_fetches_counting_leads() > 0  # each index entry sends it to the table
    decay_scores(as_of=T + timedelta(days=60))
    assert heap_fetches_counting_leads() == 0


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's visibility map")
@pytest.mark.django_db(transaction=True)
def test_a_rescore_run_on_the_workers_leaves_the_leads_countable_from_the_cell_index():
    ruleset = active(parse_ruleset(SAMPLE))
    make_dana()
    Lead.objects.create(email="sam@example.com")
    run = start_rescore(ruleset, reason=ScoreChange.Reason.RESCORE, as_of=T)  # Celery, eager here
    run.refresh_from_db()
    assert run.status == run.Status.DONE
    assert heap_fetches_counting_leads() == 0


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's visibility map")
@pytest.mark.django_db(transaction=True)
def test_the_rescore_command_leaves_the_leads_countable_from_the_cell_index():
    active(parse_ruleset(SAMPLE))
    make_dana()
    call_command("rescore", "--sync", stdout=StringIO())
    assert Lead.objects.get().score.scored_at is not None
    assert heap_fetches_counting_leads() == 0


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's locks")
@pytest.mark.django_db(transaction=True)
def test_a_decay_pass_whose_vacuum_cannot_run_keeps_its_scores_and_says_why(caplog):
    ruleset = active(parse_ruleset(SAMPLE))
    dana = make_dana()
    apply_scores(ruleset, LeadSelection(), as_of=T, reason="rescore")
    # Another session holds the lock a vacuum needs (as a long ANALYZE or index build would).
    other = connections.create_connection(DEFAULT_DB_ALIAS)
    other.set_autocommit(False)
    with other.cursor() as cursor:
        cursor.execute("LOCK TABLE leads_leadscore IN SHARE UPDATE EXCLUSIVE MODE")
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '100ms'")
    try:
        assert decay_scores(as_of=T + timedelta(days=60)) == 1
    finally:
        other.rollback()
        other.close()
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
    dana.refresh_from_db()
    assert dana.score.cell == "A3"  # the decay pass's scores are stored
    assert "vacuuming the score rows failed" in caplog.text


def test_the_explanation_adds_up_to_the_stored_score():
    active(parse_ruleset(SAMPLE))
    dana = make_dana()
    apply_scores(RuleSet.objects.active(), LeadSelection(), as_of=T, reason="rescore")
    dana.refresh_from_db()
    score = explain_lead(dana, as_of=T)
    assert score.total == pytest.approx(dana.score.total_score, abs=1e-6)
    assert sum(c.value for c in score.contributions) == pytest.approx(dana.score.total_score)


# Property: for random rules and activities, SQL and engine agree. ------------------------------

WORDS = ["vp", "director", "student", "manager", "cto", "vice president", "head of"]
TITLES = [
    "VP Sales",
    "Director of IT",
    "Student",
    "Account Manager",
    "CTO",
    "Senior Vice President, Sales",
    "Head of Growth",
    "Directorate",
    "",
    "Intern",
]
KINDS = ["page_view", "email_open", "demo_request"]
URLS = ["", "/pricing", "/Pricing?x=1", "/PRICING/Über", "/blog/a", "/case-studies/x", "/100%_off"]


fit_rules = st.one_of(
    st.builds(
        lambda words, pts, grp, order: {
            "field": "title",
            "operator": "contains_any",
            "values": words,
            "points": pts,
            "group": grp,
            "order": order,
        },
        st.lists(st.sampled_from(WORDS), min_size=1, max_size=3, unique=True),
        st.integers(-30, 30),
        st.sampled_from([None, "title"]),
        st.integers(0, 3),
    ),
    st.builds(
        lambda lo, width, pts: {
            "field": "employee_count",
            "operator": "between",
            "min": lo,
            "max": None if width is None else lo + width,
            "points": pts,
        },
        st.integers(0, 600),
        st.one_of(st.none(), st.integers(0, 600)),
        st.integers(-20, 20),
    ),
    st.builds(
        lambda vals, pts: {
            "field": "industry",
            "operator": "equals_any",
            "values": vals,
            "points": pts,
        },
        st.lists(st.sampled_from(["software", " Logistics", "FINTECH"]), min_size=1, unique=True),
        st.integers(-20, 20),
    ),
    st.builds(
        lambda op, pts: {"field": "email_is_free", "operator": op, "points": pts},
        st.sampled_from(["is_true", "is_false"]),
        st.integers(-20, 20),
    ),
    st.builds(
        lambda field, pts, disq: {
            "field": field,
            "operator": "is_blank",
            "points": pts,
            "disqualify": disq,
        },
        st.sampled_from(["title", "employee_count", "technologies", "attributes.plan"]),
        st.integers(-20, 20),
        st.booleans(),
    ),
    st.builds(
        lambda vals, pts: {
            "field": "technologies",
            "operator": "includes_any",
            "values": vals,
            "points": pts,
        },
        st.lists(st.sampled_from(["salesforce", "HubSpot", "snowflake"]), min_size=1, unique=True),
        st.integers(-20, 20),
    ),
    st.builds(
        lambda op, vals, lo, pts: {
            "field": "attributes.plan",
            "operator": op,
            "points": pts,
            **(
                {"values": vals}
                if op in ("equals_any", "contains_any")
                else {"min": lo}
                if op == "between"
                else {}
            ),
        },
        st.sampled_from(["equals_any", "contains_any", "between", "is_true"]),
        st.lists(st.sampled_from(["pro", "Enterprise", "5"]), min_size=1, unique=True),
        st.integers(0, 10),
        st.integers(-20, 20),
    ),
)

behavior_rules = st.builds(
    lambda kind, urls, mode, pts, cap, min_count, window, decays, grp, order: {
        "kind": kind,
        "url_contains": urls,
        "mode": mode,
        "points": pts,
        **({"max_count": cap} if mode == "each" and cap else {}),
        **({"min_count": min_count} if mode == "once" else {}),
        **({"window_days": window} if window else {}),
        "decays": decays,
        "group": grp,
        "order": order,
    },
    st.sampled_from(KINDS),
    st.lists(st.sampled_from(["/pricing", "/case-studies/", "100%"]), max_size=2, unique=True),
    st.sampled_from(["each", "once"]),
    st.integers(-30, 40),
    st.one_of(st.none(), st.integers(1, 4)),
    st.integers(1, 4),
    st.one_of(st.none(), st.sampled_from([1.5, 7, 30])),
    st.booleans(),
    st.sampled_from([None, "g1", "g2"]),
    st.integers(0, 3),
)

leads = st.fixed_dictionaries(
    {
        "title": st.sampled_from(TITLES),
        "employee_count": st.one_of(st.none(), st.integers(0, 1200)),
        "industry": st.sampled_from(["", "Software", "logistics ", "Retail"]),
        "free": st.booleans(),
        "technologies": st.lists(st.sampled_from(["Salesforce", "hubspot", "Marketo"]), max_size=2),
        "plan": st.sampled_from([None, "Pro", "enterprise", 5, 7.5, True, "", [], "10"]),
        "activities": st.lists(
            st.tuples(
                st.sampled_from(KINDS), st.sampled_from(URLS), st.floats(-2, 60, allow_nan=False)
            ),
            max_size=8,
        ),
    }
)


def _named(rules, prefix):
    return [{**r, "name": f"{prefix} {i}"} for i, r in enumerate(rules)]


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    fits=st.lists(fit_rules, max_size=5),
    behaviors=st.lists(behavior_rules, max_size=5),
    people=st.lists(leads, min_size=1, max_size=4),
    half_life=st.sampled_from([7, 30, 45.5]),
    by_ids=st.booleans(),
)
def test_stored_scores_match_the_engine_for_random_rules_and_activity(
    fits, behaviors, people, half_life, by_ids
):
    Lead.objects.all().delete()
    RuleSet.objects.all().delete()
    Account.objects.all().delete()
    data = {
        "name": "Random",
        "half_life_days": half_life,
        "fit_rules": _named(fits, "Fit"),
        "behavior_rules": _named(behaviors, "Behavior"),
    }
    spec = parse_ruleset(data)
    ruleset = active(spec)
    created = []
    for n, person in enumerate(people):
        account = Account.objects.create(
            name=f"Co {n}",
            domain=f"co{n}.com",
            industry=person["industry"],
            employee_count=person["employee_count"],
            technologies=person["technologies"],
        )
        attributes = {} if person["plan"] is None else {"plan": person["plan"]}
        lead = Lead.objects.create(
            email=f"p{n}@{'gmail.com' if person['free'] else f'co{n}.com'}",
            title=person["title"],
            account=account,
            attributes=attributes,
        )
        Activity.objects.bulk_create(
            Activity(lead=lead, kind=kind, url=url, occurred_at=T - timedelta(days=days))
            for kind, url, days in person["activities"]
        )
        created.append(lead)

    # A batch's leads by id, or a range (which matches title rules once per distinct title).
    selection = LeadSelection(ids=tuple(lead.pk for lead in created)) if by_ids else LeadSelection()
    apply_scores(ruleset, selection, as_of=T, reason="rescore", open_handoffs=False)

    for lead in created:
        lead.refresh_from_db()
        expected = explain_lead(lead, as_of=T)
        assert lead.score.fit_score == pytest.approx(expected.fit, abs=1e-6), lead.title
        assert lead.score.interest_score == pytest.approx(expected.interest, abs=1e-6)
        assert lead.score.disqualified == expected.disqualified
        assert lead.score.cell == expected.cell


def _peak_python_memory_of_a_full_rescore(activities_per_lead: int) -> int:
    import tracemalloc

    Lead.objects.all().delete()
    RuleSet.objects.all().delete()
    ruleset = active(parse_ruleset(SAMPLE))
    people = Lead.objects.bulk_create(Lead(email=f"p{i}@co{i}.com") for i in range(50))
    Activity.objects.bulk_create(
        Activity(lead=lead, kind="email_open", occurred_at=T - timedelta(hours=n))
        for lead in people
        for n in range(activities_per_lead)
    )
    tracemalloc.start()
    start_rescore(ruleset, reason=ScoreChange.Reason.RESCORE, as_of=T, sync=True)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_rescore_memory_does_not_grow_with_the_number_of_activities():
    few = _peak_python_memory_of_a_full_rescore(2)
    many = _peak_python_memory_of_a_full_rescore(200)  # 100 times the activities
    assert many < few * 1.5 + 100_000


@pytest.mark.parametrize(
    ("lead_count", "chunk_size", "connections", "sizes"),
    [
        # Fewer leads than a chunk: still one chunk per connection, the second cut in two and
        # its second half scored last, so the connections write their leads at other moments.
        (5, 100, 2, [3, 1, 1]),
        (30, 10, 2, [8, 4, 8, 6, 4]),  # three chunks' worth: four equal ones, the second halved
        (20, 10, 2, [10, 5, 5]),
        (30, 10, 3, [10, 6, 3, 7, 4]),  # the third connection starts on a third of a chunk
        (7, 10, 1, [7]),
    ],
)
def test_a_rescore_cuts_equal_chunks_for_every_connection_and_starts_them_out_of_step(
    lead_count, chunk_size, connections, sizes, settings
):
    settings.RESCORE_SYNC_CONNECTIONS = connections
    ids = [
        lead.pk
        for lead in Lead.objects.bulk_create(
            Lead(email=f"chunk{n}@northwind.com") for n in range(lead_count)
        )
    ]

    chunks = lead_id_chunks(chunk_size)

    assert [sum(start <= pk < stop for pk in ids) for start, stop in chunks] == sizes


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's settings")
def test_the_scoring_statements_settings_end_with_it():
    # Inside a request's transaction: the rest of it must run with the usual work_mem and JIT.
    ruleset = active(parse_ruleset(SAMPLE))
    make_dana()
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('work_mem'), current_setting('jit')")
        before = cursor.fetchone()
        apply_scores(ruleset, LeadSelection(), as_of=T, reason="rescore")
        cursor.execute("SELECT current_setting('work_mem'), current_setting('jit')")
        assert cursor.fetchone() == before


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's storage setting")
def test_leads_leave_room_in_each_page_for_hot_updates():
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'leads_lead'")
        assert "fillfactor=45" in cursor.fetchone()[0]
