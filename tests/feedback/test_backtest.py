"""Backtesting a draft rule set against the active one over the last N days.

The hand-made history (T = 1 June 2026, a 90-day window). Both rule sets give "VP" titles 40
fit points (A) and "Manager" titles 20 (B); cut-offs fit 40 / 20, interest 50 / 20; no decay.

| lead  | title   | activity (days before T)  | handoff      | active          | draft           |
| ----- | ------- | ------------------------- | ------------ | --------------- | --------------- |
| vera  | VP      | demo 10                   | -10 accepted | 60 → A1 MQL     | 10 → A3 nurture |
| will  | VP      | webinar 5                 | -5 timing    | 25 → A2 MQL     | 60 → A1 MQL     |
| mia   | Manager | webinar 20                | none         | 25 → B2 nurture | 60 → B1 MQL     |
| wes   | VP      | demo 30, webinar 30       | -30 accepted | 85 → A1 MQL     | 70 → A1 MQL     |
|       |         |                           | won at -10   |                 |                 |
| otto  | VP      | demo 200                  | -200 rejected| outside the window                |

Active: demo 60, webinar 25. Draft: demo 10, webinar 60.
Active: 3 MQLs, all seen by sales: 2 accepted, 1 bad timing, 1 won → 2/3 accepted, 1/3 won.
Draft: will and wes from history (1 accepted, 1 bad timing, 1 won → 1/2, 1/2) plus mia new.
Moves: vera A1 → A3, will A2 → A1. Vera drops out, mia newly qualifies.
"""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from kombu.exceptions import OperationalError

from feedback import services, tasks
from feedback.backtest import run
from feedback.models import Backtest, Outcome
from leads.models import Lead
from leads.services import record_activity
from scoring.models import RuleSet
from scoring.services import load_ruleset
from tests.feedback.history import make_handoff

pytestmark = pytest.mark.django_db

T = datetime(2026, 6, 1, tzinfo=UTC)
SAMPLE = Path(__file__).resolve().parents[1] / "scoring" / "sample_ruleset.json"


def ruleset(name: str, demo: int, webinar: int) -> dict:
    """The contract's sample settings (cut-offs 40 / 20 and 50 / 20, its matrix) with two fit
    and two behavior rules of our own."""
    data = json.loads(SAMPLE.read_text(encoding="utf-8"))
    title = {"field": "title", "operator": "contains_any"}
    once = {"mode": "once", "decays": False}
    return data | {
        "name": name,
        "fit_rules": [
            {"name": "VP", **title, "values": ["vp"], "points": 40},
            {"name": "Manager", **title, "values": ["manager"], "points": 20},
        ],
        "behavior_rules": [
            {"name": "Demo", "kind": "demo_request", **once, "points": demo},
            {"name": "Webinar", "kind": "webinar_attended", **once, "points": webinar},
        ],
    }


def lead(name: str, title: str, *activities: tuple[str, int]) -> Lead:
    person = Lead.objects.create(email=f"{name}@acme.com", title=title, created_at=T)
    for kind, days_ago in activities:
        record_activity(lead=person, kind=kind, occurred_at=T - timedelta(days=days_ago))
    return person


def handoff(person: Lead, days_ago: int, disposition: str):
    return make_handoff(
        person.email, 0, "A1", disposition, [], created_at=T - timedelta(days=days_ago), lead=person
    )


@pytest.fixture
def history() -> tuple[RuleSet, RuleSet]:
    active = load_ruleset(ruleset("Active", demo=60, webinar=25), publish=True, sync=True)
    draft = load_ruleset(ruleset("Draft", demo=10, webinar=60))
    handoff(lead("vera", "VP Sales", ("demo_request", 10)), 10, "accepted")
    handoff(lead("will", "VP Ops", ("webinar_attended", 5)), 5, "bad_timing")
    lead("mia", "Marketing Manager", ("webinar_attended", 20))
    wes = lead("wes", "VP Marketing", ("demo_request", 30), ("webinar_attended", 30))
    handoff(wes, 30, "accepted")
    Outcome.objects.create(lead=wes, type=Outcome.Type.WON, occurred_at=T - timedelta(days=10))
    handoff(lead("otto", "VP IT", ("demo_request", 200)), 200, "bad_fit")
    return active, draft


def backtest(active: RuleSet, draft: RuleSet) -> dict:
    return run({"active": active.to_spec(), "draft": draft.to_spec()}, days=90, now=T)


def test_each_rule_set_counts_the_mqls_it_would_have_handed_off_and_their_verdicts(history):
    result = backtest(*history)
    active, draft = result["sides"]["active"], result["sides"]["draft"]
    assert result["handoffs"] == 3  # otto's is older than 90 days
    assert (active["mqls"], active["from_history"], active["new"]) == (3, 3, 0)
    assert (draft["mqls"], draft["from_history"], draft["new"]) == (3, 2, 1)
    assert (active["accepted"], active["rejected_total"], active["won"]) == (2, 1, 1)
    assert (draft["accepted"], draft["rejected_total"], draft["won"]) == (1, 1, 1)
    assert active["rejected"] == draft["rejected"] == {"bad_fit": 0, "bad_timing": 1, "bad_data": 0}
    assert active["acceptance_rate"] == pytest.approx(2 / 3)
    assert draft["acceptance_rate"] == pytest.approx(1 / 2)
    assert active["mql_to_won"] == pytest.approx(1 / 3)
    assert draft["mql_to_won"] == pytest.approx(1 / 2)


def test_leads_moving_between_cells_and_in_or_out_of_the_mqls_are_named(history):
    result = backtest(*history)
    assert sorted(result["moves"]) == [["A1", "A3", 1], ["A2", "A1", 1]]
    assert result["grid"]["A1"] == {"active": 2, "draft": 2}
    assert result["grid"]["A3"] == {"active": 0, "draft": 1}
    dropped, = result["drop_out"]["examples"]  # fmt: skip
    assert (dropped["name"], dropped["disposition"]) == ("vera@acme.com", "Accepted")
    assert (dropped["active"]["cell"], dropped["draft"]["cell"]) == ("A1", "A3")
    newly, = result["newly_qualify"]["examples"]  # fmt: skip
    assert newly["name"] == "mia@acme.com"
    assert newly["at"] == (T - timedelta(days=20)).isoformat()
    assert (newly["active"]["cell"], newly["draft"]["cell"]) == ("B2", "B1")


def test_a_backtest_task_stores_its_result_and_progress(history, manager):
    active, draft = history
    queued = services.start_backtest(draft, days=90, user=manager)
    assert queued.baseline == active
    done = services.run_backtest(queued.pk, now=T)
    assert done.status == Backtest.Status.DONE
    assert (done.done, done.total, done.percent) == (4, 4, 100)  # vera, will, mia, wes
    assert done.result["sides"]["draft"]["mqls"] == 3
    assert done.finished_at is not None


@pytest.mark.django_db(transaction=True)
def test_a_backtest_asked_for_while_the_broker_is_down_is_queued_later(history, manager):
    def refuse(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    _, draft = history
    with pytest.MonkeyPatch.context() as broker_down:
        broker_down.setattr(tasks.run_backtest, "apply_async", refuse)
        asked = services.start_backtest(draft, days=90, user=manager)
        asked.refresh_from_db()
        assert asked.queued_at is None and asked.status == Backtest.Status.QUEUED

    later = asked.created_at + timedelta(seconds=settings.RECOVERY_GRACE_SECONDS + 1)
    assert services.resume_unqueued_backtests(now=later) == [asked]
    asked.refresh_from_db()
    assert asked.status == Backtest.Status.DONE and asked.queued_at is not None
    assert services.resume_unqueued_backtests(now=later) == []
