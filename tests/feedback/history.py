"""A hand-made history for the calibration tests: helpers and the March 2026 described in
test_calibration.py's docstring (the `march` fixture in conftest.py builds it)."""

import zoneinfo
from datetime import date, datetime, timedelta

from django.utils import timezone

from feedback import services
from feedback.models import Handoff, Outcome
from feedback.roles import SDR
from leads.models import Lead
from scoring.models import RuleSet
from scoring.services import load_default_ruleset
from tests.conftest import make_user

MARCH = date(2026, 3, 1)
AFTER_MARCH = datetime(2026, 4, 20, tzinfo=zoneinfo.ZoneInfo("UTC"))
UTC = zoneinfo.ZoneInfo("UTC")


def at(day: int, hour: int = 12, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def make_handoff(
    name: str,
    score: float,
    cell: str,
    disposition: str,
    rules: list[str],
    *,
    created_at: datetime,
    sdr=None,
    hours_to_decide: float | None = None,
    touched_after: float | None = 0.5,
    source: str = "website",
    lead: Lead | None = None,
) -> Handoff:
    if lead is None:
        lead = Lead.objects.create(
            email=f"{name}@example.com", source=source, created_at=created_at
        )
    handoff = Handoff.objects.create(
        lead=lead,
        ruleset=RuleSet.objects.active(),
        fit_score=40,
        interest_score=score - 40,
        total_score=score,
        cell=cell,
        contributions=[{"rule": r, "kind": "fit", "points": 10, "value": 10} for r in rules],
        mql_class="mql_priority",
        rank=1,
        assigned_to=sdr,
        created_at=created_at,
        first_touch_due=created_at + timedelta(hours=1),
        first_touched_at=(
            created_at + timedelta(hours=touched_after) if touched_after is not None else None
        ),
        disposition_due=created_at + timedelta(hours=72),
        sla_due=created_at + timedelta(hours=72),
        disposition=disposition,
        dispositioned_at=(
            created_at + timedelta(hours=hours_to_decide) if hours_to_decide else None
        ),
    )
    services.record_contributions([handoff])
    return handoff


def build_march() -> dict:
    load_default_ruleset(publish=True, sync=True)
    sam = make_user("sam", SDR, first_name="Sam", last_name="Reyes")
    pat = make_user("pat", SDR, first_name="Pat", last_name="Lee")
    h = {
        "h1": make_handoff(
            "h1",
            100,
            "A1",
            "accepted",
            ["Demo", "Title"],
            created_at=at(2),
            sdr=sam,
            hours_to_decide=2,
        ),
        "h2": make_handoff(
            "h2",
            90,
            "A1",
            "accepted",
            ["Demo"],
            created_at=at(3),
            sdr=sam,
            hours_to_decide=4,
            touched_after=3,
            source="webinar",
        ),
        "h3": make_handoff(
            "h3", 55, "A2", "accepted", ["Title"], created_at=at(4), sdr=sam, hours_to_decide=6
        ),
        "h4": make_handoff(
            "h4",
            70,
            "A2",
            "bad_fit",
            ["Title", "Webinar"],
            created_at=at(5),
            sdr=pat,
            hours_to_decide=8,
        ),
        "h5": make_handoff(
            "h5",
            60,
            "B1",
            "bad_timing",
            ["Webinar"],
            created_at=at(6),
            sdr=pat,
            hours_to_decide=10,
            source="webinar",
        ),
        "h6": make_handoff(
            "h6", 50, "B1", "bad_data", [], created_at=at(7), sdr=pat, hours_to_decide=12
        ),
        "h7": make_handoff(
            "h7", 95, "A1", "", ["Demo"], created_at=at(8), sdr=pat, touched_after=None
        ),
        # Either side of March: counted in February and April, never in March.
        "feb": make_handoff(
            "feb",
            99,
            "A1",
            "accepted",
            ["Demo"],
            created_at=at(28, 23, month=2),
            hours_to_decide=1,
        ),
        "apr": make_handoff(
            "apr",
            99,
            "A1",
            "bad_fit",
            ["Demo"],
            created_at=at(1, 0, month=4),
            hours_to_decide=1,
        ),
    }
    for name in ("quiet1", "quiet2", "quiet3"):
        Lead.objects.create(email=f"{name}@example.com", created_at=at(10))
    h1, h2 = h["h1"].lead, h["h2"].lead
    Outcome.objects.create(lead=h1, type="opportunity", occurred_at=at(10))
    Outcome.objects.create(lead=h1, type="won", occurred_at=at(20))
    Outcome.objects.create(lead=h2, type="opportunity", occurred_at=at(11))
    Outcome.objects.create(lead=h2, type="lost", occurred_at=at(25))
    # A win recorded before its handoff was created is not that handoff's win.
    Outcome.objects.create(lead=h["h3"].lead, type="won", occurred_at=at(1))
    return {"sam": sam, "pat": pat, **h}


def plant_rule_evidence(count: int) -> None:
    """`count` dispositioned MQLs of the last weeks. "Senior title" (20 points) is on every other
    one and predicts acceptance (85 % with it, 35 % without); "North America" (5 points) is on
    every other pair and predicts nothing (the same rates either way)."""
    now = timezone.now()
    for i in range(count):
        senior, north_america = i % 2 == 0, (i // 2) % 2 == 0
        accepted = (i // 4) % 20 < (17 if senior else 7)
        rules = [n for n, on in (("Senior title", senior), ("North America", north_america)) if on]
        make_handoff(
            f"m{i}",
            80,
            "A1",
            "accepted" if accepted else "bad_fit",
            rules,
            created_at=now - timedelta(days=1 + i % 60),
        )
