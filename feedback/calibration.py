"""Reads for the monthly calibration (design §5) and the matrix's month figures.

A month is a calendar month in the site's time zone and counts the handoffs *created* in it.
`month_figures()` computes every figure of a month as one JSON-ready dict: counts come from
aggregate queries, and the per-handoff numbers that need an order (median, AUC, quintiles,
histograms) from one narrow query of that month's handoffs. A closed month's dict is stored
(`CalibrationMonth`, written by `services.close_month`) and read back unchanged; the current
month is live. Definitions, so every figure can be re-derived by hand:

- acceptance rate = accepted ÷ dispositioned (open handoffs are not counted yet);
- rejection mix = bad fit, bad timing and bad data, each ÷ rejections;
- lead→MQL = leads created in the month that were ever handed off ÷ leads created in it;
- MQL→accepted / →opportunity / →won = handoffs whose lead was accepted / got an opportunity
  (or a win) / was won at or after the handoff ÷ handoffs;
- hours to disposition: the median of dispositioned_at − created_at;
- SLA compliance: first touches made by their deadline ÷ first touches due (made, or past
  due); the same for dispositions;
- score quintiles: the month's handoffs split into five equal-count bands by score at MQL;
- AUC: the chance an accepted handoff outscored a rejected one at MQL (0.5 = a coin toss);
- per-rule lift: acceptance of dispositioned handoffs whose snapshot has the rule ÷ acceptance
  of those without it, with a 95 % interval and n. Recommendations read the lift over the last
  12 months, since one month seldom has enough dispositions per rule.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import urlencode

from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from leads.models import Lead

from . import stats
from .models import CalibrationMonth, Disposition, Handoff, HandoffContribution, Outcome, ScoreFlag
from .roles import MANAGER, MARKETING, SDR, role_of

ACCEPTANCE_BAND = (0.60, 0.80)
MQL_TO_WON_FLOOR = 0.05
SLA_TARGET = 0.90
HISTOGRAM_WIDTH = 10  # points per bar of the score-at-MQL histograms
MIN_DISPOSITIONS = 20  # below this a month's rates are shown but not judged
MIN_RULE_N = 30  # dispositions with the rule before its lift is judged
TREND_MONTHS = 12
LIVE_FIGURES_SECONDS = 60  # how stale the live month's figures may be (see live_figures)
REJECTIONS = (Disposition.BAD_FIT, Disposition.BAD_TIMING, Disposition.BAD_DATA)


# Months -----------------------------------------------------------------------------------------


def month_of(moment: datetime) -> date:
    local = timezone.localtime(moment)
    return date(local.year, local.month, 1)


def shift(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def bounds(month: date) -> tuple[datetime, datetime]:
    """The month's first instant and the next month's, in the site's time zone."""
    start = timezone.make_aware(datetime(month.year, month.month, 1))
    end = shift(month, 1)
    return start, timezone.make_aware(datetime(end.year, end.month, 1))


def parse_month(text: str) -> date | None:
    """ "2026-11" -> date(2026, 11, 1); None for anything else."""
    try:
        year, month = (int(part) for part in text.split("-"))
        return date(year, month, 1) if 2000 <= year <= 2100 else None
    except ValueError:
        return None


# Who sees what ---------------------------------------------------------------------------------


def can_read_dashboards(user: AbstractBaseUser) -> bool:
    """Managers and marketing read the team's figures; SDRs their own."""
    return role_of(user) in (MANAGER, MARKETING, SDR)


def own_figures_only(user: AbstractBaseUser) -> bool:
    return role_of(user) == SDR


# The figures of a month -------------------------------------------------------------------------


def month_handoffs(month: date, *, sdr: AbstractBaseUser | None = None) -> QuerySet[Handoff]:
    start, end = bounds(month)
    handoffs = Handoff.objects.filter(created_at__gte=start, created_at__lt=end)
    return handoffs.filter(assigned_to=sdr) if sdr is not None else handoffs


def _after_handoff(*types: str) -> Exists:
    return Exists(
        Outcome.objects.filter(
            lead=OuterRef("lead_id"), type__in=types, occurred_at__gte=OuterRef("created_at")
        )
    )


def _by(rows: list[dict], key) -> dict:
    """Counts per group: handoffs, dispositioned, accepted, won and the rates they give."""
    groups: dict = {}
    for row in rows:
        g = groups.setdefault(key(row), Counter())
        g["handoffs"] += 1
        g["dispositioned"] += bool(row["disposition"])
        g["accepted"] += row["disposition"] == Disposition.ACCEPTED
        g["won"] += row["won"]
    return {
        name: {
            **g,
            "acceptance_rate": stats.rate(g["accepted"], g["dispositioned"]),
            "win_rate": stats.rate(g["won"], g["handoffs"]),
        }
        for name, g in groups.items()
    }


def _on_time(rows: list[dict], done: str, due: str, now: datetime) -> dict:
    """Deadlines met ÷ deadlines that have come (met, or passed unmet)."""
    came = [r for r in rows if r[done] is not None or r[due] <= now]
    met = sum(1 for r in came if r[done] is not None and r[done] <= r[due])
    return {"met": met, "n": len(came), "rate": stats.rate(met, len(came))}


def _histogram(rows: list[dict]) -> dict:
    """Score at MQL in HISTOGRAM_WIDTH-point bars, for won, lost and rejected handoffs."""
    groups = {
        "won": [r["total_score"] for r in rows if r["won"]],
        "lost": [r["total_score"] for r in rows if r["lost"] and not r["won"]],
        "rejected": [
            r["total_score"] for r in rows if r["disposition"] in REJECTIONS and not r["won"]
        ],
    }
    scores = [s for values in groups.values() for s in values]
    if not scores:
        return {"edges": [], **{name: [] for name in groups}}
    low = int(min(scores) // HISTOGRAM_WIDTH) * HISTOGRAM_WIDTH
    high = int(max(scores) // HISTOGRAM_WIDTH) * HISTOGRAM_WIDTH
    edges = list(range(low, high + HISTOGRAM_WIDTH, HISTOGRAM_WIDTH))
    counts = {}
    for name, values in groups.items():
        bars = [0] * len(edges)
        for value in values:
            bars[int((value - low) // HISTOGRAM_WIDTH)] += 1
        counts[name] = bars
    return {"edges": edges, **counts}


def _quintiles(rows: list[dict]) -> list[dict]:
    scores = [r["total_score"] for r in rows]
    edges = stats.quantile_edges(scores, 5)
    bands: list[list[dict]] = [[] for _ in range(5)]
    for row in rows:
        bands[bisect_right(edges, row["total_score"]) if edges else 0].append(row)
    result = []
    for number, band in enumerate(bands, start=1):
        if not band:
            continue
        g = _by(band, lambda _: "band")["band"]
        band_scores = [r["total_score"] for r in band]
        result.append({"quintile": number, "low": min(band_scores), "high": max(band_scores), **g})
    return result


def _rule_counts(handoffs: QuerySet[Handoff]) -> list[dict]:
    """Per rule in the snapshots: dispositioned handoffs with it, and how many were accepted."""
    return list(
        HandoffContribution.objects.filter(handoff__in=handoffs.exclude(disposition=""))
        .values("rule", "kind")
        .annotate(
            n=Count("id"),
            accepted=Count("id", filter=Q(handoff__disposition=Disposition.ACCEPTED)),
            points=Sum("value"),
        )
        .order_by("kind", "rule")
    )


def rule_lift(counts: list[dict], dispositioned: int, accepted: int) -> list[dict]:
    """Each rule's lift from its counts and the totals they are part of."""
    rows = []
    for c in counts:
        n_without, accepted_without = dispositioned - c["n"], accepted - c["accepted"]
        interval = stats.lift(c["accepted"], c["n"], accepted_without, n_without)
        rows.append(
            {
                **c,
                "acceptance_with": stats.rate(c["accepted"], c["n"]),
                "acceptance_without": stats.rate(accepted_without, n_without),
                "n_without": n_without,
                "lift": interval[0] if interval else None,
                "low": interval[1] if interval else None,
                "high": interval[2] if interval else None,
            }
        )
    return sorted(rows, key=lambda r: (r["lift"] is None, -(r["lift"] or 0)))


def month_figures(
    month: date, *, sdr: AbstractBaseUser | None = None, now: datetime | None = None
) -> dict:
    """Every figure of design §5 for the month (the team's, or one SDR's), JSON-ready."""
    now = now or timezone.now()
    handoffs = month_handoffs(month, sdr=sdr)
    rows = list(
        handoffs.annotate(
            won=_after_handoff(Outcome.Type.WON),
            lost=_after_handoff(Outcome.Type.LOST),
            opportunity=_after_handoff(Outcome.Type.OPPORTUNITY, Outcome.Type.WON),
        ).values(
            "total_score",
            "cell",
            "disposition",
            "created_at",
            "first_touch_due",
            "first_touched_at",
            "disposition_due",
            "dispositioned_at",
            "assigned_to_id",
            "assigned_to__first_name",
            "assigned_to__last_name",
            "assigned_to__username",
            "lead__source",
            "won",
            "lost",
            "opportunity",
        )
    )
    dispositions = Counter(r["disposition"] for r in rows if r["disposition"])
    dispositioned = sum(dispositions.values())
    accepted = dispositions[Disposition.ACCEPTED]
    rejected = dispositioned - accepted
    won = sum(r["won"] for r in rows)
    opportunities = sum(r["opportunity"] for r in rows)
    start, end = bounds(month)
    created = Lead.objects.filter(created_at__gte=start, created_at__lt=end)
    if sdr is not None:
        created = created.filter(handoffs__assigned_to=sdr).distinct()
    leads_created = created.count()
    leads_mql = created.filter(Exists(Handoff.objects.filter(lead=OuterRef("pk")))).count()
    accepted_scores = [r["total_score"] for r in rows if r["disposition"] == "accepted"]
    rejected_scores = [r["total_score"] for r in rows if r["disposition"] in REJECTIONS]
    hours = [
        (r["dispositioned_at"] - r["created_at"]).total_seconds() / 3600
        for r in rows
        if r["dispositioned_at"]
    ]
    sdr_names = {
        r["assigned_to_id"]: (
            f"{r['assigned_to__first_name']} {r['assigned_to__last_name']}".strip()
            or r["assigned_to__username"]
        )
        for r in rows
        if r["assigned_to_id"]
    }
    by_sdr = _by(rows, lambda r: r["assigned_to_id"])
    for sdr_id, figures in by_sdr.items():
        mine = [r for r in rows if r["assigned_to_id"] == sdr_id]
        figures["name"] = sdr_names.get(sdr_id, "Unassigned")
        figures["median_hours"] = stats.median(
            [
                (r["dispositioned_at"] - r["created_at"]).total_seconds() / 3600
                for r in mine
                if r["dispositioned_at"]
            ]
        )
        figures["first_touch"] = _on_time(mine, "first_touched_at", "first_touch_due", now)
    return {
        "month": f"{month:%Y-%m}",
        "computed_at": now.isoformat(),
        "handoffs": len(rows),
        "open": len(rows) - dispositioned,
        "dispositioned": dispositioned,
        "accepted": accepted,
        "rejected": rejected,
        "acceptance_rate": stats.rate(accepted, dispositioned),
        "rejections": {d.value: dispositions[d] for d in REJECTIONS},
        "leads_created": leads_created,
        "leads_mql": leads_mql,
        "lead_to_mql_rate": stats.rate(leads_mql, leads_created),
        "opportunities": opportunities,
        "won": won,
        "lost": sum(r["lost"] for r in rows),
        "mql_to_accepted": stats.rate(accepted, len(rows)),
        "mql_to_opportunity": stats.rate(opportunities, len(rows)),
        "mql_to_won": stats.rate(won, len(rows)),
        "median_hours_to_disposition": stats.median(hours),
        "first_touch": _on_time(rows, "first_touched_at", "first_touch_due", now),
        "disposition_sla": _on_time(rows, "dispositioned_at", "disposition_due", now),
        "auc": stats.auc(accepted_scores, rejected_scores),
        "histogram": _histogram(rows),
        "quintiles": _quintiles(rows),
        "cells": _by(rows, lambda r: r["cell"]),
        "sdrs": sorted(by_sdr.values(), key=lambda s: (s["name"] == "Unassigned", s["name"])),
        "sources": sorted(
            (
                {"source": k or "(none)", **v}
                for k, v in _by(rows, lambda r: r["lead__source"]).items()
            ),
            key=lambda s: -s["handoffs"],
        ),
        "rule_counts": _rule_counts(handoffs),
    }


def figures_for(month: date, *, user: AbstractBaseUser, now: datetime | None = None) -> dict:
    """The month as this user may see it: the stored snapshot of a closed month for the team,
    live figures otherwise (the current month, and an SDR's own figures)."""
    if own_figures_only(user):
        return {**live_figures(month, sdr=user, now=now), "closed_at": None}
    snapshot = CalibrationMonth.objects.filter(month=month).first()
    if snapshot:
        return {**snapshot.figures, "closed_at": snapshot.closed_at.isoformat()}
    return {**live_figures(month, now=now), "closed_at": None}


def live_figures(
    month: date, *, sdr: AbstractBaseUser | None = None, now: datetime | None = None
) -> dict:
    """`month_figures` as of now, computed at most LIVE_FIGURES_SECONDS ago.

    Computing a month reads every handoff of it and every lead created in it: with a million
    leads that is most of a second, on every visit to a page managers keep open and reload.
    A minute's delay is well inside "live" for figures read monthly. An explicit `now` (a past
    instant, a test) is always computed.
    """
    if now is not None:
        return month_figures(month, sdr=sdr, now=now)
    key = f"calibration:live:{month:%Y-%m}:{sdr.pk if sdr is not None else 'team'}"
    figures = cache.get(key)
    if figures is None:
        figures = month_figures(month, sdr=sdr)
        cache.set(key, figures, LIVE_FIGURES_SECONDS)
    return figures


# The dashboard ----------------------------------------------------------------------------------


@dataclass
class Dashboard:
    month: date
    figures: dict
    rules: list[dict]  # this month's lift
    rules_year: list[dict]  # over the 12 months up to this one
    trend: list[dict]
    recommendations: list[str]
    flags: list[ScoreFlag]
    own_only: bool

    @property
    def histogram_bars(self) -> list[dict]:
        """One group of bars per score band, with heights as a share of the tallest bar."""
        h = self.figures["histogram"]
        tallest = max([*h["won"], *h["lost"], *h["rejected"], 1])
        return [
            {
                "low": edge,
                "high": edge + HISTOGRAM_WIDTH - 1,
                **{name: h[name][i] for name in ("won", "lost", "rejected")},
                **{f"{name}_h": 100 * h[name][i] / tallest for name in ("won", "lost", "rejected")},
            }
            for i, edge in enumerate(h["edges"])
        ]

    @property
    def rejection_rows(self) -> list[dict]:
        mix, rejected = self.figures["rejections"], self.figures["rejected"]
        meaning = {
            Disposition.BAD_FIT: "Look at the fit rules",
            Disposition.BAD_TIMING: "Look at nurture and the interest cut-offs",
            Disposition.BAD_DATA: "Look at data quality",
        }
        return [
            {
                "label": d.label,
                "count": mix[d.value],
                "share": stats.rate(mix[d.value], rejected),
                "meaning": meaning[d],
            }
            for d in REJECTIONS
        ]

    @property
    def handoffs_query(self) -> str:
        """The admin's handoff list filtered to the handoffs this month counts."""
        start, end = bounds(self.month)
        return urlencode({"created_at__gte": start.isoformat(), "created_at__lt": end.isoformat()})

    @property
    def previous(self) -> date:
        return shift(self.month, -1)

    @property
    def next(self) -> date | None:
        following = shift(self.month, 1)
        return following if following <= month_of(timezone.now()) else None


def _sum_rule_counts(months: list[dict]) -> tuple[list[dict], int, int]:
    totals: dict[tuple[str, str], Counter] = {}
    for figures in months:
        for c in figures["rule_counts"]:
            totals.setdefault((c["rule"], c["kind"]), Counter()).update(
                n=c["n"], accepted=c["accepted"], points=c["points"]
            )
    counts = [{"rule": r, "kind": k, **t} for (r, k), t in totals.items()]
    return (
        counts,
        sum(f["dispositioned"] for f in months),
        sum(f["accepted"] for f in months),
    )


def dashboard(month: date, user: AbstractBaseUser, *, now: datetime | None = None) -> Dashboard:
    """The page's figures; `now` left out reads the live months as of now, from the cache."""
    months = [shift(month, -k) for k in range(TREND_MONTHS - 1, -1, -1)]
    year = [figures_for(m, user=user, now=now) for m in months]
    figures = year[-1]
    year_counts, year_dispositioned, year_accepted = _sum_rule_counts(year)
    rules_year = rule_lift(year_counts, year_dispositioned, year_accepted)
    flags = ScoreFlag.objects.filter(resolved_at__isnull=True).select_related("lead", "flagged_by")
    if own_figures_only(user):
        flags = flags.filter(flagged_by=user)
    for rule in rules_year:
        # Where the point and its interval sit on the page's 0-2 lift axis (1 in the middle).
        rule["axis"] = {
            key: min(100.0, 50 * rule[key]) if rule[key] is not None else None
            for key in ("lift", "low", "high")
        }
    return Dashboard(
        month=month,
        figures=figures,
        rules=rule_lift(figures["rule_counts"], figures["dispositioned"], figures["accepted"]),
        rules_year=rules_year,
        trend=[
            {
                "month": m,
                "handoffs": f["handoffs"],
                "acceptance_rate": f["acceptance_rate"],
                "mql_to_won": f["mql_to_won"],
            }
            for m, f in zip(months, year, strict=True)
        ],
        recommendations=recommendations(figures, rules_year),
        flags=list(flags[:20]),
        own_only=own_figures_only(user),
    )


def _pct(value: float) -> str:
    return f"{value * 100:.0f} %"


def recommendations(figures: dict, rules_year: list[dict]) -> list[str]:
    """Plain-language advice that follows from the month's figures and the year's rule lift."""
    advice = []
    if figures["dispositioned"] < MIN_DISPOSITIONS:
        count = figures["dispositioned"]
        dispositioned = {
            0: "No MQL was dispositioned this month",
            1: "Only 1 MQL was dispositioned this month",
        }.get(count, f"Only {count} MQLs were dispositioned this month")
        advice.append(
            f"{dispositioned}: too few to judge the month's rates; the rule advice below reads "
            "the last 12 months."
        )
    else:
        acceptance = figures["acceptance_rate"]
        low, high = ACCEPTANCE_BAND
        mix = figures["rejections"]
        worst = max(REJECTIONS, key=lambda d: mix[d])
        if acceptance < low:
            cause = {
                Disposition.BAD_FIT: "most rejections are bad fit: the fit rules give points "
                "to leads sales does not want, so raise fit_medium or lower the rules with "
                "lift below 1",
                Disposition.BAD_TIMING: "most rejections are bad timing: interest alone is "
                "qualifying leads too early, so raise the interest cut-offs or send the "
                "fast-track cell to nurture",
                Disposition.BAD_DATA: "most rejections are bad data: the records are the "
                "problem, not the scoring; fix enrichment and form validation first",
            }[worst]
            advice.append(f"Acceptance is {_pct(acceptance)}, below the 60–80 % band: {cause}.")
        elif acceptance > high:
            advice.append(
                f"Acceptance is {_pct(acceptance)}, above the 60–80 % band: the thresholds may "
                "be too tight, so good leads wait in nurture. Consider lowering the interest "
                "cut-offs to hand off more."
            )
        else:
            advice.append(f"Acceptance is {_pct(acceptance)}, inside the 60–80 % band.")
        if figures["rejected"] and mix[Disposition.BAD_DATA] / figures["rejected"] >= 0.3:
            advice.append(
                f"{_pct(mix[Disposition.BAD_DATA] / figures['rejected'])} of rejections are bad "
                "data: check where these leads come from before changing any rule."
            )
    if figures["won"] and figures["mql_to_won"] < MQL_TO_WON_FLOOR:
        advice.append(
            f"Only {_pct(figures['mql_to_won'])} of MQLs were won (floor 5 %): the score does "
            "not predict buying yet."
        )
    auc = figures["auc"]
    if auc is not None and auc < 0.6 and figures["dispositioned"] >= MIN_DISPOSITIONS:
        advice.append(
            f"The score at MQL barely separates accepted from rejected leads (AUC "
            f"{auc:.2f}; 0.5 is a coin toss)."
        )
    first_touch = figures["first_touch"]
    if first_touch["n"] >= MIN_DISPOSITIONS and first_touch["rate"] < SLA_TARGET:
        advice.append(
            f"{_pct(first_touch['rate'])} of first touches were on time (target 90 %): MQLs "
            "cool while they wait."
        )
    judged = [r for r in rules_year if r["lift"] is not None and r["n"] >= MIN_RULE_N]
    for rule in judged:
        name, times, n = rule["rule"], f"{rule['lift']:.1f}×", rule["n"]
        gives = rule["points"] > 0
        if gives and rule["low"] > 1:
            advice.append(
                f"“{name}” earns its points: leads with it are accepted {times} as often "
                f"(n = {n}). Consider raising it."
            )
        elif gives and rule["high"] < 1:
            advice.append(
                f"“{name}” gives points to leads sales rejects: they are accepted only {times} "
                f"as often (n = {n}). Lower or remove its points."
            )
        elif not gives and rule["low"] > 1:
            advice.append(
                f"“{name}” takes points from leads sales accepts {times} as often (n = {n}). "
                "Make its penalty smaller."
            )
    return advice


def csv_rows(board: Dashboard):
    """The dashboard as long-format rows: section, name, figure, value, n."""
    f = board.figures
    n = f["handoffs"]
    yield from (
        ("summary", "", "handoffs", n, ""),
        ("summary", "", "dispositioned", f["dispositioned"], n),
        ("summary", "", "acceptance_rate", f["acceptance_rate"], f["dispositioned"]),
        ("summary", "", "lead_to_mql_rate", f["lead_to_mql_rate"], f["leads_created"]),
        ("summary", "", "mql_to_accepted", f["mql_to_accepted"], n),
        ("summary", "", "mql_to_opportunity", f["mql_to_opportunity"], n),
        ("summary", "", "mql_to_won", f["mql_to_won"], n),
        ("summary", "", "median_hours_to_disposition", f["median_hours_to_disposition"], ""),
        ("summary", "", "first_touch_on_time", f["first_touch"]["rate"], f["first_touch"]["n"]),
        (
            "summary",
            "",
            "disposition_on_time",
            f["disposition_sla"]["rate"],
            f["disposition_sla"]["n"],
        ),
        ("summary", "", "auc", f["auc"], f["dispositioned"]),
    )
    for reason, count in f["rejections"].items():
        yield ("rejections", reason, "count", count, f["rejected"])
    groups = (
        ("cell", sorted(f["cells"].items())),
        ("quintile", [(str(q["quintile"]), q) for q in f["quintiles"]]),
        ("sdr", [(s["name"], s) for s in f["sdrs"]]),
        ("source", [(s["source"], s) for s in f["sources"]]),
    )
    for section, items in groups:
        for name, g in items:
            yield (section, name, "handoffs", g["handoffs"], "")
            yield (section, name, "acceptance_rate", g["acceptance_rate"], g["dispositioned"])
            yield (section, name, "win_rate", g["win_rate"], g["handoffs"])
    for section, rules in (("rule_month", board.rules), ("rule_12_months", board.rules_year)):
        for r in rules:
            yield (section, r["rule"], "lift", r["lift"], r["n"])
            yield (section, r["rule"], "lift_low_95", r["low"], r["n"])
            yield (section, r["rule"], "lift_high_95", r["high"], r["n"])
    for t in board.trend:
        yield (
            "trend",
            f"{t['month']:%Y-%m}",
            "acceptance_rate",
            t["acceptance_rate"],
            t["handoffs"],
        )
        yield ("trend", f"{t['month']:%Y-%m}", "mql_to_won", t["mql_to_won"], t["handoffs"])
