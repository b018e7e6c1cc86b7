import json
from pathlib import Path

import pytest
from django.contrib.admin.models import LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from leads.models import Lead
from scoring.models import FitRule, RuleSet, ScoreChange
from scoring.services import load_default_ruleset, load_ruleset

SAMPLE = json.loads((Path(__file__).parent / "sample_ruleset.json").read_text())

pytestmark = pytest.mark.django_db


@pytest.fixture
def marketing_client(client, marketer):
    client.force_login(marketer)
    return client


def change_url(ruleset):
    return reverse("admin:scoring_ruleset_change", args=[ruleset.pk])


def draft_post_data(ruleset, fit_rules=(), behavior_rules=()):
    """The change form's POST for a draft, with the given inline rows."""
    data = {
        "name": ruleset.name,
        "description": "",
        "half_life_days": "30",
        "fit_high": "40",
        "fit_medium": "20",
        "interest_high": "50",
        "interest_medium": "20",
        "recycle_days": "30",
        **{f"cell_{cell}": action for cell, action in ruleset.matrix.items()},
        **{f"sla_{key}": str(hours) for key, hours in ruleset.sla_hours.items()},
    }
    for prefix, rows, existing in (
        ("fit_rules", fit_rules, ruleset.fit_rules.count()),
        ("behavior_rules", behavior_rules, ruleset.behavior_rules.count()),
    ):
        data.update(
            {
                f"{prefix}-TOTAL_FORMS": str(len(rows)),
                f"{prefix}-INITIAL_FORMS": str(existing),
                f"{prefix}-MIN_NUM_FORMS": "0",
                f"{prefix}-MAX_NUM_FORMS": "1000",
            }
        )
        for i, row in enumerate(rows):
            data.update({f"{prefix}-{i}-{key}": value for key, value in row.items()})
    return data


def test_marketing_edits_a_drafts_matrix_and_tiers_in_the_browser(marketing_client):
    draft = load_ruleset(SAMPLE)
    data = draft_post_data(draft)
    data.update({"fit_high": "45", "cell_B2": "mql_standard", "sla_mql_priority": "2"})
    response = marketing_client.post(change_url(draft), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    draft.refresh_from_db()
    assert (draft.fit_high, draft.matrix["B2"], draft.sla_hours["mql_priority"]) == (
        45,
        "mql_standard",
        2,
    )
    assert LogEntry.objects.filter(object_id=str(draft.pk)).exists()  # who changed what, when


def test_a_rule_with_bad_values_is_refused_naming_the_field():
    from scoring.forms import FitRuleForm

    form = FitRuleForm(
        data={
            "name": "Size",
            "field": "employee_count",
            "operator": "between",
            "values": "",
            "min": "500",
            "max": "50",
            "points": "10",
            "order": "0",
        }
    )
    assert not form.is_valid()
    assert "min" in str(form.errors) or "max" in str(form.errors)

    form = FitRuleForm(
        data={
            "name": "Title",
            "field": "shoe_size",
            "operator": "contains_any",
            "values": "vp",
            "points": "10",
            "order": "0",
        }
    )
    assert not form.is_valid()
    assert "field" in form.errors


def test_inline_rules_are_validated_in_the_admin_and_nothing_is_saved(marketing_client):
    draft = load_ruleset({"name": "Empty"})
    data = draft_post_data(
        draft,
        fit_rules=[
            {
                "name": "Between nothing",
                "field": "employee_count",
                "operator": "between",
                "points": "10",
                "order": "0",
            },
        ],
    )
    response = marketing_client.post(change_url(draft), data)
    assert response.status_code == 200
    assert "between" in response.content.decode()
    assert not FitRule.objects.exists()


def test_a_published_rule_set_cannot_be_edited_in_place(marketing_client):
    active = load_ruleset(SAMPLE, publish=True, sync=True)
    page = marketing_client.get(change_url(active))
    assert page.status_code == 200
    assert "Clone to draft" in page.content.decode()
    assert 'name="name"' not in page.content.decode()  # read-only, no inputs
    data = draft_post_data(active)
    data["fit_high"] = "99"
    marketing_client.post(change_url(active), data)
    active.refresh_from_db()
    assert active.fit_high == 40


def test_clone_to_draft_then_publish_archives_the_old_and_rescores(
    marketing_client, django_capture_on_commit_callbacks
):
    Lead.objects.create(email="dana@northwind.com", title="VP Marketing")
    active = load_ruleset(SAMPLE, publish=True, sync=True)
    response = marketing_client.post(reverse("admin:scoring_ruleset_clone", args=[active.pk]))
    draft = RuleSet.objects.get(status=RuleSet.Status.DRAFT)
    assert response.url == change_url(draft)
    assert draft.fit_rules.count() == active.fit_rules.count()
    draft.fit_rules.filter(name="Senior title").update(points=30)

    with django_capture_on_commit_callbacks(execute=True):
        marketing_client.post(reverse("admin:scoring_ruleset_publish", args=[draft.pk]))
    active.refresh_from_db()
    draft.refresh_from_db()
    assert (active.status, draft.status) == ("archived", "active")
    lead = Lead.objects.get()
    assert (lead.score.fit_score, lead.score.ruleset_version) == (30, draft.version)
    assert "100%" in marketing_client.get(change_url(draft)).content.decode()


def test_the_matrix_of_a_published_rule_set_is_shown_read_only(marketing_client):
    active = load_default_ruleset(publish=True, sync=True)
    html = marketing_client.get(change_url(active)).content.decode()
    assert "matrix-table" in html and "MQL — priority" in html.replace("&mdash;", "—")


def test_a_manager_reads_a_drafts_matrix_without_being_able_to_edit_it(client, manager):
    draft = load_default_ruleset(publish=False)
    manager.is_staff = True
    manager.save()
    client.force_login(manager)
    html = client.get(change_url(draft)).content.decode().replace("&mdash;", "—")
    assert "matrix-table" in html and "MQL — priority" in html
    assert 'name="cell_A1"' not in html  # nothing to edit
    # … nor buttons they may not use; a backtest they may run.
    assert "Clone to draft" not in html and "Publish and rescore" not in html
    assert "Backtest the last 90 days" in html
    assert "First touch, MQL priority: 1 h" in html  # the service levels, read-only
    assert "vp, svp, evp, vice president" in html  # word lists as the form shows them, not JSON
    assert "[&quot;vp&quot;" not in html


def test_marketing_sees_clone_and_publish_on_a_draft(marketing_client):
    html = marketing_client.get(change_url(load_default_ruleset(publish=False))).content.decode()
    assert "Clone to draft" in html and "Publish and rescore" in html


def test_import_refuses_a_bad_file_listing_every_problem(marketing_client):
    bad = {**SAMPLE, "half_life_days": -1, "fit_high": "high"}
    upload = SimpleUploadedFile("rules.json", json.dumps(bad).encode(), "application/json")
    response = marketing_client.post(reverse("admin:scoring_ruleset_import"), {"file": upload})
    html = response.content.decode()
    assert "nothing changed" in html
    assert "half_life_days" in html and "fit_high" in html
    assert not RuleSet.objects.exists()


def test_import_then_export_round_trips(marketing_client):
    upload = SimpleUploadedFile("rules.json", json.dumps(SAMPLE).encode(), "application/json")
    marketing_client.post(reverse("admin:scoring_ruleset_import"), {"file": upload})
    ruleset = RuleSet.objects.get()
    response = marketing_client.get(reverse("admin:scoring_ruleset_export", args=[ruleset.pk]))
    assert json.loads(response.content) == SAMPLE


def test_sdrs_cannot_open_the_rule_admin(client, sdr):
    client.force_login(sdr)
    response = client.get(reverse("admin:scoring_ruleset_changelist"))
    assert response.status_code == 302  # not staff: sent to the admin login


def test_the_history_names_who_changed_which_rule_and_who_published(marketing_client, marketer):
    draft = load_ruleset(SAMPLE)
    rules = list(draft.fit_rules.order_by("order", "pk"))
    rows = [
        {
            "id": str(rule.pk),
            "ruleset": str(draft.pk),
            "name": rule.name,
            "field": rule.field,
            "operator": rule.operator,
            "values": ", ".join(rule.values),
            "min": "" if rule.min is None else str(rule.min),
            "max": "" if rule.max is None else str(rule.max),
            "points": str(rule.points + (7 if i == 0 else 0)),
            "group": rule.group,
            "order": str(rule.order),
            "disqualify": "on" if rule.disqualify else "",
        }
        for i, rule in enumerate(rules)
    ]
    data = draft_post_data(draft, fit_rules=rows)
    data["behavior_rules-INITIAL_FORMS"] = data["behavior_rules-TOTAL_FORMS"] = "0"
    response = marketing_client.post(change_url(draft), data)
    assert response.status_code == 302, [
        (f.formset.errors, f.formset.non_form_errors())
        for f in response.context["inline_admin_formsets"]
    ]
    marketing_client.post(reverse("admin:scoring_ruleset_publish", args=[draft.pk]))

    history = marketing_client.get(reverse("admin:scoring_ruleset_history", args=[draft.pk]))
    page = history.content.decode()
    assert f"<td>Changed Points for fit rule “{rules[0].name}”.</td>" in page
    assert "Published" in page
    assert LogEntry.objects.filter(object_id=str(draft.pk), user=marketer).count() == 2


def test_the_score_history_shows_the_newest_first_and_filters_by_cell_and_address(admin_client):
    dana = Lead.objects.create(email="dana@northwind.com")
    sam = Lead.objects.create(email="sam@northwind.com")
    ScoreChange.objects.all().delete()  # whatever creating them recorded
    for lead, to_cell in [(dana, "B2"), (sam, "A1"), (dana, "A1")]:
        ScoreChange.objects.create(
            lead=lead,
            reason=ScoreChange.Reason.RESCORE,
            from_cell="C3",
            to_cell=to_cell,
            fit_score=0,
            interest_score=0,
            total_score=41.6,
        )
    url = reverse("admin:scoring_scorechange_changelist")

    def rows(**query):
        changes = admin_client.get(url, query).context["cl"].result_list
        return [(c.lead.email, c.to_cell) for c in changes]

    assert rows() == [
        ("dana@northwind.com", "A1"),
        ("sam@northwind.com", "A1"),
        ("dana@northwind.com", "B2"),
    ]
    assert rows(to_cell="B2") == [("dana@northwind.com", "B2")]
    assert rows(q="Sam@Northwind.com") == [("sam@northwind.com", "A1")]
    assert rows(q="northwind") == []  # an address, exactly
    page = admin_client.get(url).content.decode()
    assert "?to_cell=C2" in page  # every cell offered
    assert '<td class="field-total_points">42</td>' in page  # whole points
    assert "41.6" not in page
