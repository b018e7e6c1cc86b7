"""What a draft rule set would have done: the last N days of history scored with it and with the
active rule set, side by side (a backtest).

Each handoff of the window is scored as of the moment it became an MQL, with the lead's current
fields and the activities it had by then, under both rule sets: the verdict sales gave it (and
whether it was won) counts for the rule sets that would also have handed it off. Leads with
activity in the window but no handoff in it are checked at each activity that could raise their
interest (interest only rises when an activity arrives), the first instant in an MQL cell
counting as a new MQL - whose verdict nobody knows, so it counts in the MQL totals but not in
the acceptance rates. Hold-backs are not replayed: every episode is judged on its own.

The engine (`scoring.engine`) does the scoring; the database is read in chunks of leads, one
query each for the leads, their activities and their handoffs, never a query per lead.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef
from django.utils import timezone

from leads.models import Activity, Lead
from scoring import engine
from scoring.rulesets import MATRIX_CELLS, MQL_ACTIONS
from scoring.selectors import lead_facts

from . import stats
from .models import Disposition, Handoff, Outcome

CHUNK = 500
EXAMPLES = 8
SIDES = ("active", "draft")


@dataclass
class Verdict:
    cell: str
    mql: bool
    total: float


def verdict(facts: dict, activities: Sequence[engine.ActivityFact], spec, at: datetime) -> Verdict:
    score = engine.score_lead(facts, activities, spec, at)
    return Verdict(score.cell, score.action in MQL_ACTIONS and not score.disqualified, score.total)


def _can_become_mql(facts: dict, spec: engine.RuleSetSpec, at: datetime) -> bool:
    """Whether any interest could put the lead in an MQL cell: fit does not change with time,
    so a disqualified lead, or one whose fit row has no MQL action, never can."""
    score = engine.score_lead(facts, (), spec, at)
    row = [spec.matrix[f"{score.fit_tier}{interest}"] for interest in "123"]
    return not score.disqualified and any(action in MQL_ACTIONS for action in row)


def _rising_kinds(spec: engine.RuleSetSpec) -> set[str]:
    return {rule.kind for rule in spec.behavior_rules if rule.points > 0}


def window_population(since: datetime, until: datetime) -> tuple[list[int], int]:
    """Lead ids to check, in order, and how many of them have a handoff in the window."""
    handed = set(
        Handoff.objects.filter(created_at__gte=since, created_at__lt=until).values_list(
            "lead_id", flat=True
        )
    )
    active = set(
        Activity.objects.filter(occurred_at__gte=since, occurred_at__lt=until)
        .values_list("lead_id", flat=True)
        .distinct()
    )
    return sorted(handed | active), len(handed)


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _empty_side() -> dict:
    return {
        "mqls": 0,
        "from_history": 0,
        "new": 0,
        "accepted": 0,
        "rejected": Counter(),
        "open": 0,
        "won": 0,
    }


def run(
    specs: dict[str, engine.RuleSetSpec],
    *,
    days: int,
    now: datetime | None = None,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> dict:
    """The backtest's figures for specs {"active": ..., "draft": ...}, JSON-ready."""
    now = now or timezone.now()
    since = now - timedelta(days=days)
    lead_ids, _ = window_population(since, now)
    sides = {side: _empty_side() for side in SIDES}
    movement = Counter()
    newly, dropped = [], []
    counts = Counter()
    rising = {side: _rising_kinds(spec) for side, spec in specs.items()}
    progress(0, len(lead_ids))
    done = 0
    for chunk in _chunks(lead_ids):
        leads = {
            lead.pk: lead for lead in Lead.objects.filter(pk__in=chunk).select_related("account")
        }
        activities = defaultdict(list)
        for pk, lead_id, kind, occurred_at, url in (
            Activity.objects.filter(lead_id__in=chunk, occurred_at__lt=now)
            .order_by("occurred_at")
            .values_list("pk", "lead_id", "kind", "occurred_at", "url")
        ):
            activities[lead_id].append(engine.ActivityFact(pk, kind, occurred_at, url))
        handoffs = defaultdict(list)
        for h in (
            Handoff.objects.filter(lead_id__in=chunk, created_at__gte=since, created_at__lt=now)
            .annotate(
                won=Exists(
                    Outcome.objects.filter(
                        lead=OuterRef("lead_id"),
                        type=Outcome.Type.WON,
                        occurred_at__gte=OuterRef("created_at"),
                    )
                )
            )
            .values("lead_id", "created_at", "disposition", "won")
        ):
            handoffs[h["lead_id"]].append(h)
        for lead_id in chunk:
            lead, acts = leads[lead_id], activities[lead_id]
            facts = lead_facts(lead)
            if handoffs[lead_id]:
                for h in handoffs[lead_id]:
                    counts["handoffs"] += 1
                    seen = {
                        side: verdict(facts, acts, specs[side], h["created_at"]) for side in SIDES
                    }
                    movement[(seen["active"].cell, seen["draft"].cell)] += 1
                    for side in SIDES:
                        if seen[side].mql:
                            _count_known(sides[side], h)
                    if seen["active"].mql and not seen["draft"].mql:
                        dropped.append(_example(lead, h["created_at"], seen, h["disposition"]))
                continue
            counts["leads_without_handoff"] += 1
            first = _first_mql(facts, acts, specs, rising, since)
            for side, found in first.items():
                if found:
                    sides[side]["mqls"] += 1
                    sides[side]["new"] += 1
            if first["draft"] and not first["active"]:
                at, seen = first["draft"]
                newly.append(_example(lead, at, seen, ""))
        done += len(chunk)
        progress(done, len(lead_ids))
    return _summary(days, since, now, counts, sides, movement, newly, dropped)


def _count_known(side: dict, handoff: dict) -> None:
    side["mqls"] += 1
    side["from_history"] += 1
    disposition = handoff["disposition"]
    if disposition == Disposition.ACCEPTED:
        side["accepted"] += 1
    elif disposition:
        side["rejected"][disposition] += 1
    else:
        side["open"] += 1
    side["won"] += handoff["won"]


def _first_mql(facts, acts, specs, rising, since) -> dict:
    """For each rule set, (instant, verdicts) of the first MQL cell in the window, or None."""
    found = {}
    for side, spec in specs.items():
        found[side] = None
        if not _can_become_mql(facts, spec, since):
            continue
        for activity in acts:
            if activity.occurred_at < since or activity.kind not in rising[side]:
                continue
            seen = verdict(facts, acts, spec, activity.occurred_at)
            if seen.mql:
                other = SIDES[1] if side == SIDES[0] else SIDES[0]
                both = {side: seen, other: verdict(facts, acts, specs[other], activity.occurred_at)}
                found[side] = (activity.occurred_at, both)
                break
    return found


def _example(lead: Lead, at: datetime, seen: dict, disposition: str) -> dict:
    return {
        "lead_id": lead.pk,
        "name": str(lead),
        "title": lead.title,
        "at": at.isoformat(),
        "active": {"cell": seen["active"].cell, "total": round(seen["active"].total, 1)},
        "draft": {"cell": seen["draft"].cell, "total": round(seen["draft"].total, 1)},
        "disposition": Disposition(disposition).label if disposition else "",
    }


def _summary(days, since, now, counts, sides, movement, newly, dropped) -> dict:
    result = {
        "days": days,
        "since": since.isoformat(),
        "until": now.isoformat(),
        "handoffs": counts["handoffs"],
        "leads_without_handoff": counts["leads_without_handoff"],
        "sides": {},
        # Where the window's handoffs land under each rule set, and the moves between cells.
        "grid": {
            cell: {
                "active": sum(n for (a, _), n in movement.items() if a == cell),
                "draft": sum(n for (_, d), n in movement.items() if d == cell),
            }
            for cell in MATRIX_CELLS
        },
        "moves": [[a, d, n] for (a, d), n in movement.most_common() if a != d][:12],
        "newly_qualify": {"count": len(newly), "examples": _top(newly)},
        "drop_out": {"count": len(dropped), "examples": _top(dropped)},
    }
    for side, s in sides.items():
        rejected = sum(s["rejected"].values())
        result["sides"][side] = {
            **{k: v for k, v in s.items() if k != "rejected"},
            "rejected": {d.value: s["rejected"][d.value] for d in Disposition if d != "accepted"},
            "rejected_total": rejected,
            "acceptance_rate": stats.rate(s["accepted"], s["accepted"] + rejected),
            "mql_to_won": stats.rate(s["won"], s["from_history"]),
        }
    return result


def _top(examples: list[dict]) -> list[dict]:
    return sorted(examples, key=lambda e: -e["draft"]["total"])[:EXAMPLES]
