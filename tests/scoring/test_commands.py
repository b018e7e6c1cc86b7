import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from leads.models import Account, Activity, Lead
from scoring.models import RuleSet

SAMPLE_PATH = Path(__file__).parent / "sample_ruleset.json"
SAMPLE = json.loads(SAMPLE_PATH.read_text())
T = datetime(2026, 6, 1, tzinfo=UTC)

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def write(tmp_path, data) -> Path:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def test_load_then_dump_gives_back_an_equal_file():
    run("load_ruleset", str(SAMPLE_PATH), "--publish")
    assert json.loads(run("dump_ruleset")) == SAMPLE


def test_load_without_publish_makes_a_draft_and_changes_no_score():
    run("load_ruleset", str(SAMPLE_PATH))
    assert RuleSet.objects.get().status == RuleSet.Status.DRAFT
    with pytest.raises(CommandError, match="No rule set is active"):
        run("dump_ruleset")


def test_a_bad_rule_set_file_is_refused_whole_with_every_problem_listed(tmp_path):
    bad = json.loads(json.dumps(SAMPLE))
    bad["fit_rules"][0]["operator"] = "sounds_like"
    bad["fit_rules"][3]["min"], bad["fit_rules"][3]["max"] = None, None
    bad["behavior_rules"][2]["min_count"] = 0
    bad["behavior_rules"][3]["name"] = bad["behavior_rules"][2]["name"]
    del bad["matrix"]["B2"]
    with pytest.raises(CommandError) as error:
        run("load_ruleset", str(write(tmp_path, bad)), "--publish")
    message = str(error.value)
    assert "nothing changed" in message
    assert 'fit rule "Student or intern"' in message and "sounds_like" in message
    assert 'fit rule "Under 20 employees"' in message
    assert "min_count" in message
    assert "Pricing 3+ in 30 days" in message and "B2" in message
    assert not RuleSet.objects.exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [("{not json", "not valid JSON"), ("[1, 2]", "JSON object")],
)
def test_a_file_that_is_not_a_rule_set_object_is_refused(tmp_path, content, expected):
    with pytest.raises(CommandError, match=expected):
        run("load_ruleset", str(write(tmp_path, content)))
    assert not RuleSet.objects.exists()


def test_a_missing_file_is_named():
    with pytest.raises(CommandError, match="no such file"):
        run("load_ruleset", "/nonexistent/rules.json")


def make_leads():
    account = Account.objects.create(
        name="Northwind",
        domain="northwind.com",
        industry="Software",
        employee_count=300,
        country="US",
    )
    dana = Lead.objects.create(email="dana@northwind.com", title="VP Marketing", account=account)
    Lead.objects.create(email="kim@gmail.com", title="Student")
    Lead.objects.create(email="eve@rivalco.com", title="CMO")
    Activity.objects.create(lead=dana, kind="demo_request", occurred_at=T - timedelta(days=15))


def test_rescore_as_of_then_export_scores_gives_the_contract_columns():
    make_leads()
    run("load_ruleset", str(SAMPLE_PATH), "--publish")
    output = run("rescore", "--as-of", "2026-06-01T00:00:00+00:00", "--sync")
    assert "100%" in output
    rows = list(csv.DictReader(io.StringIO(run("export_scores"))))
    assert [r["email"] for r in rows] == ["dana@northwind.com", "eve@rivalco.com", "kim@gmail.com"]
    dana, eve, kim = rows
    assert dana == {
        "email": "dana@northwind.com",
        "fit_score": "55.00",
        "interest_score": "28.28",
        "total_score": "83.28",
        "fit_tier": "A",
        "interest_tier": "2",
        "cell": "A2",
        "action": "mql_fast_track",
        "disqualified": "false",
        "stage": "lead",
    }
    assert (eve["disqualified"], eve["fit_tier"]) == ("true", "B")
    assert kim["fit_score"] == "-45.00"


def test_export_scores_as_json_has_numbers_and_booleans():
    make_leads()
    run("load_ruleset", str(SAMPLE_PATH), "--publish")
    run("rescore", "--as-of", "2026-06-01T00:00Z", "--sync")
    rows = json.loads(run("export_scores", "--format", "json"))
    assert rows[0]["total_score"] == 83.28
    assert rows[1]["disqualified"] is True


def test_rescore_refuses_a_malformed_instant():
    run("load_ruleset", str(SAMPLE_PATH), "--publish")
    with pytest.raises(CommandError, match="ISO 8601"):
        run("rescore", "--as-of", "last tuesday", "--sync")


def test_rescore_without_an_active_rule_set_says_so():
    with pytest.raises(CommandError, match="No rule set is active"):
        run("rescore", "--sync")
