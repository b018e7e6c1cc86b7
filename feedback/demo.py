"""A year of sales feedback for the demo: handoffs, dispositions and outcomes (design §4-5).

`seed_demo_history()` replays the seeded leads' history under a rule set and writes what sales
would have done with the MQLs, drawing every decision from the demo's hidden truth
(`leads.demo.demo_truth`), so the calibration can find it again.

How the history is made
-----------------------
1. *Replay.* Interest only rises when an activity arrives (decay only lowers it, and fit never
   changes in the demo), so a lead can only enter an MQL cell at one of its activities. Each
   lead is scored with the pure engine as of each of its activity instants, oldest first, the
   same as the live activity path does (negative points that decay would break this; the default
   rules' do not). Disqualified leads, those whose fit tier has no MQL cell and those whose
   activity could never add up to the interest it needs are skipped at once. The first instant
   in an MQL cell opens a handoff a few seconds later, with the engine's score as its snapshot,
   unless the lead is held back as in design §4: an open handoff; *accepted*, *bad fit* (fit
   never rises here) and *bad data* (records are never edited here) for good; *bad timing* until
   `recycle_days` have passed and an activity arrived since - checked at the next activity or by
   the hourly decay pass.
2. *Sales' decision*, from the truth of the lead as of the handoff, split in two: f, the logit
   of its truth from who it is alone (title, size, industry, e-mail), and i, what its activity
   adds to that (logit p - f). P(accepted) = sigmoid(ACCEPT_BIAS + ACCEPT_FIT * f +
   ACCEPT_INTEREST * i): SDRs judge who a lead is more than what it read, which keeps the fit
   rules' lift visible although MQL cells trade fit for interest. Students, interns and the
   competitor (p = 0) are never accepted. A steady 5-8 % are bad data (more where the record
   is thin); the other rejections are bad fit where the fit is truly poor and bad timing where
   the interest is mostly noise (e-mail opens, reading), each with a note to match.
3. *Timing.* First touch after a few minutes to a couple of days (about a fifth past the
   class's SLA; sdr1 is quicker than sdr2, sdr3 slower), a decision hours to days later
   (some past the 72-hour SLA); SLA breaches are stamped as the 10-minute sweep would have.
   Handoffs from the last OPEN_DAYS days, and any whose decision would lie in the future,
   stay open, so the queue has work.
4. *Assignment*, in time order across all leads: the SDR of another open or accepted
   handoff at the same account, otherwise round-robin over the SDRs; a few of today's open
   handoffs wait unassigned.
5. *Outcomes* for accepted leads: an opportunity 1-4 weeks later with probability
   OPPORTUNITY_BASE + OPPORTUNITY_SLOPE * p, then won or lost 2-10 weeks after that, with
   P(won | opportunity) such that P(won | accepted) = p; amounts scale with company size.
   Only what lies in the past is written.
6. Each lead's stage ends where its story did (mql, accepted, rejected, recycled,
   opportunity, won, lost); each step is a ScoreChange ("handoff" or "outcome") at its time.

Dana Whitfield (leads.demo.DANA_EMAIL), the lead of the demo script, was nurtured until her
demo request three days ago: her history starts there, so she waits in the queue as a
priority MQL.

Everything is drawn from random generators seeded from `seed` (one per lead, one for the
assignment), so the same data and seed give the same history, shifted in time with `now`.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from leads.demo import DANA_EMAIL, TruthRow, demo_truth, truth_row_from_activities
from leads.models import Activity, Lead, Stage
from scoring import engine
from scoring.models import RuleSet, ScoreChange
from scoring.rulesets import MQL_ACTIONS
from scoring.selectors import lead_facts

from .models import MQL_RANK, Disposition, Handoff, Outcome, SdrProfile
from .services import STAGE_AFTER, record_contributions

# Sales' decision (step 2): about two thirds of the handoffs are accepted.
ACCEPT_BIAS, ACCEPT_FIT, ACCEPT_INTEREST = 13.5, 3.0, 1.0
# Outcomes (step 5).
OPPORTUNITY_BASE, OPPORTUNITY_SLOPE = 0.35, 0.6
# Handoffs created this recently stay open.
OPEN_DAYS = 4
# How quickly each SDR makes the first touch, relative to the others (by position).
SDR_PACE = (0.6, 1.0, 1.7)
# Share of the open handoffs (with no account owner) that wait unassigned.
UNASSIGNED_SHARE = 0.15
SWEEP_MINUTES = 10  # feedback.tasks.sweep_sla runs this often (settings.CELERY_BEAT_SCHEDULE)
BATCH_SIZE = 1000
PROGRESS_STEP = 250

NOTES = {
    Disposition.ACCEPTED: (
        "Booked a discovery call for next week.",
        "Evaluating vendors this quarter; demo with their team on Thursday.",
        "Replied to the first e-mail, meeting set.",
        "Budget approved, wants pricing for their whole team.",
        "Good call: real project, decision by end of quarter.",
        "Connected on the phone; qualified.",
        "",
        "",
    ),
    "student": (
        "Student writing a thesis on lead scoring.",
        "Intern researching tools for a class project.",
    ),
    "small": (
        "Company too small for us, a team of a few people.",
        "Freelancer; no team to use it.",
    ),
    "free_mail": (
        "Personal e-mail and no company to tie it to.",
        "Gmail address; could not find the company.",
    ),
    Disposition.BAD_FIT: (
        "Wrong department; no say in the purchase.",
        "No CRM and no sales team; not a fit.",
        "Consultant researching for a client.",
        "Not a fit for their industry.",
        "",
    ),
    Disposition.BAD_TIMING: (
        "Only opened newsletters; no project yet.",
        "Interested, but not before next quarter.",
        "Just renewed with another vendor; revisit next year.",
        "Reading our content, not evaluating anything.",
        "Asked us to check back in a few months.",
        "No reply after three attempts.",
        "",
    ),
    Disposition.BAD_DATA: (
        "E-mail bounces and the phone number is wrong.",
        "Fake name on the form.",
        "Duplicate of an existing contact.",
        "Left the company (auto-reply).",
        "Company field doesn't match the e-mail domain.",
    ),
}


@dataclass(slots=True)
class _Lead:
    """One lead as the replay needs it, activities oldest first."""

    pk: int
    account_id: int | None
    email: str
    created_at: datetime
    employee_count: int | None
    facts: dict
    truth_fields: dict
    activities: list[engine.ActivityFact] = field(default_factory=list)
    times: list[datetime] = field(default_factory=list)


@dataclass(slots=True)
class _Outcome:
    type: str
    occurred_at: datetime
    amount: Decimal


@dataclass(slots=True)
class _Episode:
    """One handoff, before it is assigned and written."""

    lead: _Lead
    created_at: datetime
    score: engine.Score
    p: float
    disposition: str  # "" while open
    note: str
    first_touch_after: timedelta
    dispositioned_at: datetime | None
    outcomes: list[_Outcome]


@dataclass(frozen=True, slots=True)
class HistorySummary:
    handoffs: int
    open: int
    dispositions: dict[str, int]
    outcomes: dict[str, int]

    @property
    def acceptance_rate(self) -> float:
        decided = sum(self.dispositions.values())
        return self.dispositions.get(Disposition.ACCEPTED, 0) / decided if decided else 0.0


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


# Loading --------------------------------------------------------------------------------------


def _load_leads() -> list[_Lead]:
    """The leads with their activities, oldest first."""
    leads: dict[int, _Lead] = {}
    for lead in Lead.objects.select_related("account").order_by("pk"):
        account = lead.account
        leads[lead.pk] = _Lead(
            pk=lead.pk,
            account_id=lead.account_id,
            email=lead.email,
            created_at=lead.created_at,
            employee_count=account.employee_count if account else None,
            facts=lead_facts(lead),
            truth_fields={
                "title": lead.title,
                "employee_count": account.employee_count if account else None,
                "industry": (account.industry if account else "") or "",
                "email_domain": lead.email_domain,
                "email_is_free": lead.email_is_free,
            },
        )
    for pk, lead_id, kind, occurred_at, url in (
        Activity.objects.order_by("lead_id", "occurred_at", "pk")
        .values_list("pk", "lead_id", "kind", "occurred_at", "url")
        .iterator(chunk_size=10_000)
    ):
        lead = leads[lead_id]
        lead.activities.append(engine.ActivityFact(pk, kind, occurred_at, url))
        lead.times.append(occurred_at)
    return list(leads.values())


# Step 1: the replay ---------------------------------------------------------------------------


class _Rules:
    """The rule set, split for the replay: fit is fixed per lead, so only interest is redone."""

    def __init__(self, spec: engine.RuleSetSpec) -> None:
        self.spec = spec
        self.interest_only = replace(spec, fit_rules=())
        self.kinds = frozenset(rule.kind for rule in spec.behavior_rules)
        self.needles = [
            (rule, tuple(u.lower() for u in rule.url_contains if u))
            for rule in spec.behavior_rules
            if rule.points > 0
        ]
        # For each fit tier, the least interest that puts a lead in an MQL cell.
        self.threshold = {}
        for tier in "ABC":
            levels = [spec.interest_high, spec.interest_medium, float("-inf")]
            reach = [
                level
                for i, level in enumerate(levels, 1)
                if spec.matrix.get(f"{tier}{i}") in MQL_ACTIONS
            ]
            self.threshold[tier] = min(reach) if reach else None

    def most_interest(self, activities: Sequence[engine.ActivityFact]) -> float:
        """An upper bound of the lead's interest at any time: no decay, no groups."""
        total = 0.0
        for rule, needles in self.needles:
            count = sum(
                1
                for a in activities
                if a.kind == rule.kind
                and (not needles or any(n in (a.url or "").lower() for n in needles))
            )
            if rule.mode == "each":
                total += rule.points * min(count, rule.max_count or count)
            elif count >= max(rule.min_count, 1):
                total += rule.points
        return total

    def mql_action(self, lead: _Lead, fit_tier: str, when: datetime) -> str | None:
        upto = lead.activities[: bisect_right(lead.times, when)]
        interest = engine.score_lead({}, upto, self.interest_only, when).interest
        action = self.spec.matrix.get(f"{fit_tier}{engine.interest_tier(interest, self.spec)}")
        return action if action in MQL_ACTIONS else None

    def score(self, lead: _Lead, when: datetime) -> engine.Score:
        upto = lead.activities[: bisect_right(lead.times, when)]
        return engine.score_lead(lead.facts, upto, self.spec, when)


def _truth_at(lead: _Lead, when: datetime) -> TruthRow:
    upto = lead.activities[: bisect_right(lead.times, when)]
    return truth_row_from_activities(((a.kind, a.url) for a in upto), **lead.truth_fields)


def _replay(lead: _Lead, rules: _Rules, rng: random.Random, now: datetime) -> list[_Episode]:
    """The lead's MQL episodes, oldest first (see the module docstring, steps 1-3 and 5)."""
    fit = engine.score_lead(lead.facts, (), rules.spec, now)
    threshold = rules.threshold[fit.fit_tier]
    if fit.disqualified or threshold is None or rules.most_interest(lead.activities) < threshold:
        return []
    instants = sorted({a.occurred_at for a in lead.activities if a.kind in rules.kinds})
    if lead.email == DANA_EMAIL:
        demos = [a.occurred_at for a in lead.activities if a.kind == "demo_request"]
        if demos:
            instants = [t for t in instants if t >= demos[-1]]
    recycle = timedelta(days=rules.spec.recycle_days)
    episodes: list[_Episode] = []
    blocked_until: datetime | None = None
    recycled_at: datetime | None = None  # bad timing: needs an activity after this
    decay_pass: datetime | None = None
    position = 0
    while True:
        upcoming = instants[position] if position < len(instants) else None
        if decay_pass is not None and (upcoming is None or decay_pass <= upcoming):
            when, decay_pass = decay_pass, None
        elif upcoming is not None:
            when, position = upcoming, position + 1
        else:
            break
        if when > now:
            break
        if blocked_until is not None and when < blocked_until:
            continue
        if recycled_at is not None:
            # Seeded activities arrive when they occur (created_at = occurred_at).
            arrived = bisect_right(lead.times, when)
            if not arrived or lead.times[arrived - 1] <= recycled_at:
                continue
        # The live path rescores within the request: the handoff follows in seconds.
        created = min(when + timedelta(seconds=rng.uniform(2, 90)), now)
        if rules.mql_action(lead, fit.fit_tier, created) is None:
            continue
        episode = _episode(lead, rules.score(lead, created), created, rules.spec, rng, now)
        episodes.append(episode)
        if episode.disposition != Disposition.BAD_TIMING:
            break  # open, or held back for good
        blocked_until = episode.dispositioned_at + recycle
        recycled_at = episode.dispositioned_at
        # The hourly decay pass looks again once the recycle period is over.
        decay_pass = blocked_until + timedelta(minutes=rng.uniform(0, 60))
    return episodes


# Steps 2, 3 and 5: sales' decision, its timing and what came of it ----------------------------


def _episode(
    lead: _Lead,
    score: engine.Score,
    created: datetime,
    spec: engine.RuleSetSpec,
    rng: random.Random,
    now: datetime,
) -> _Episode:
    row = _truth_at(lead, created)
    p = demo_truth(row)
    sla = spec.sla_hours[score.action]
    first_touch = timedelta(hours=max(0.05, sla * rng.lognormvariate(math.log(0.45), 0.9)))
    deciding = timedelta(hours=max(0.5, rng.lognormvariate(math.log(14), 1.0)))
    decided = created + first_touch + deciding
    disposition, note = _decide(lead, row, p, rng)
    if created >= now - timedelta(days=OPEN_DAYS) or decided >= now:
        disposition, note, decided = "", "", None
    outcomes = _outcomes(lead, p, decided, rng, now) if disposition == Disposition.ACCEPTED else []
    return _Episode(
        lead=lead,
        created_at=created,
        score=score,
        p=p,
        disposition=disposition,
        note=note,
        first_touch_after=first_touch,
        dispositioned_at=decided,
        outcomes=outcomes,
    )


def _decide(lead: _Lead, row: TruthRow, p: float, rng: random.Random) -> tuple[str, str]:
    """Accepted or why not, with a note, following the hidden truth."""
    thin = (not row.title.strip()) + (lead.account_id is None) + (row.employee_count is None)
    if rng.random() < 0.05 + 0.05 * thin:
        return Disposition.BAD_DATA, rng.choice(NOTES[Disposition.BAD_DATA])
    fit_only = demo_truth(TruthRow(**lead.truth_fields))
    if fit_only > 0:  # 0: students, interns and the competitor never buy
        fit, interest = _logit(fit_only), _logit(p) - _logit(fit_only)
        if rng.random() < _sigmoid(ACCEPT_BIAS + ACCEPT_FIT * fit + ACCEPT_INTEREST * interest):
            return Disposition.ACCEPTED, rng.choice(NOTES[Disposition.ACCEPTED])
        # Bad fit where who they are is the problem, bad timing where what they did is.
        poor_fit = _sigmoid(-6.0 - fit)
        weak_interest = _sigmoid(1.5 - interest)
        timing = rng.random() < (0.1 + weak_interest) / (0.2 + poor_fit + weak_interest)
        if timing:
            return Disposition.BAD_TIMING, rng.choice(NOTES[Disposition.BAD_TIMING])
    if fit_only == 0:
        reason = "student"
    elif row.employee_count is not None and row.employee_count < 20:
        reason = "small"
    elif row.email_is_free:
        reason = "free_mail"
    else:
        reason = Disposition.BAD_FIT
    return Disposition.BAD_FIT, rng.choice(NOTES[reason])


def _outcomes(
    lead: _Lead, p: float, accepted_at: datetime | None, rng: random.Random, now: datetime
) -> list[_Outcome]:
    """An opportunity for most accepted leads, then won (about p) or lost; past ones only."""
    if accepted_at is None or rng.random() >= OPPORTUNITY_BASE + OPPORTUNITY_SLOPE * p:
        return []
    size = min(max(lead.employee_count or 100, 10), 20_000)
    amount = 15_000 * (size / 100) ** 0.4 * rng.lognormvariate(0, 0.35)
    amount = Decimal(max(2_500, round(amount, -2)))
    opened = accepted_at + timedelta(days=rng.uniform(7, 28), hours=rng.uniform(0, 8))
    if opened >= now:
        return []
    outcomes = [_Outcome(Outcome.Type.OPPORTUNITY, opened, amount)]
    # P(won | opportunity) such that P(won | accepted) is the truth's p.
    won = rng.random() < min(0.95, p / (OPPORTUNITY_BASE + OPPORTUNITY_SLOPE * p))
    closed = opened + timedelta(days=rng.uniform(14, 70), hours=rng.uniform(0, 8))
    if closed < now:
        final = Decimal(round(float(amount) * rng.uniform(0.85, 1.1), -2)) if won else amount
        outcomes.append(_Outcome(Outcome.Type.WON if won else Outcome.Type.LOST, closed, final))
    return outcomes


# Step 4 and writing ---------------------------------------------------------------------------


def _assign(
    episodes: Sequence[_Episode], sdrs: Sequence[User], rng: random.Random
) -> list[User | None]:
    """Who worked each episode (in time order): the account's SDR, else the next in turn."""
    assignees: list[User | None] = []
    at_account: dict[int, list[tuple[_Episode, User]]] = defaultdict(list)
    turn = 0
    for episode in episodes:
        owner = None
        for earlier, user in reversed(at_account.get(episode.lead.account_id, ())):
            rejected = earlier.disposition not in ("", Disposition.ACCEPTED)
            if not (rejected and earlier.dispositioned_at <= episode.created_at):
                owner = user
                break
        if owner is None and sdrs:
            if episode.disposition == "" and rng.random() < UNASSIGNED_SHARE:
                owner = None  # came in while every SDR was away: it waits in the pool
            else:
                owner, turn = sdrs[turn % len(sdrs)], turn + 1
        if owner is not None and episode.lead.account_id is not None:
            at_account[episode.lead.account_id].append((episode, owner))
        assignees.append(owner)
    return assignees


def _handoff(
    episode: _Episode,
    assignee: User | None,
    pace: float,
    ruleset: RuleSet,
    now: datetime,
    rng: random.Random,
) -> Handoff:
    score, created = episode.score, episode.created_at
    hours = ruleset.sla_hours
    first_touch_due = created + timedelta(hours=hours[score.action])
    disposition_due = created + timedelta(hours=hours["disposition"])
    touched: datetime | None = created + episode.first_touch_after * pace
    if episode.dispositioned_at is not None:
        touched = min(touched, episode.dispositioned_at - timedelta(minutes=rng.uniform(1, 20)))
        touched = max(touched, created + timedelta(minutes=1))
    elif assignee is None or touched >= now:
        touched = None
    sla_due = disposition_due if touched else first_touch_due
    # The sweep stamps the first deadline missed, some minutes after it passed.
    lag = timedelta(minutes=rng.uniform(0, SWEEP_MINUTES))
    end = episode.dispositioned_at or now
    breached = None
    if (touched or end) > first_touch_due + lag:
        breached = first_touch_due + lag
    elif end > disposition_due + lag:
        breached = disposition_due + lag
    return Handoff(
        lead_id=episode.lead.pk,
        ruleset=ruleset,
        fit_score=score.fit,
        interest_score=score.interest,
        total_score=score.total,
        cell=score.cell,
        contributions=_contributions(score),
        mql_class=score.action,
        rank=MQL_RANK[score.action],
        assigned_to=assignee,
        assigned_at=created if assignee else None,
        created_at=created,
        first_touch_due=first_touch_due,
        first_touched_at=touched,
        disposition_due=disposition_due,
        sla_due=sla_due,
        sla_breached_at=breached,
        disposition=episode.disposition,
        note=episode.note,
        dispositioned_by=assignee if episode.disposition else None,
        dispositioned_at=episode.dispositioned_at,
    )


def _contributions(score: engine.Score) -> list[dict]:
    """The snapshot in the shape feedback.services stores it."""
    return [
        {
            "rule": c.rule,
            "kind": c.kind,
            "points": c.points,
            "value": round(c.value, 4),
            "activities": [
                {
                    "id": a.activity_id,
                    "occurred_at": a.occurred_at.isoformat(),
                    "points": a.points,
                    "value": round(a.value, 4),
                }
                for a in c.activities
            ],
        }
        for c in score.contributions
    ]


def _score_change(
    episode: _Episode, at: datetime, stages: tuple[str, str], reason: str, version: int
) -> ScoreChange:
    score = episode.score
    return ScoreChange(
        lead_id=episode.lead.pk,
        changed_at=at,
        reason=reason,
        ruleset_version=version,
        from_cell=score.cell,
        to_cell=score.cell,
        from_stage=stages[0],
        to_stage=stages[1],
        fit_score=score.fit,
        interest_score=score.interest,
        total_score=score.total,
        disqualified=False,
    )


def _chunks(items: Sequence, size: int = 900):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _grouped(mapping: dict[int, Any]) -> dict[Any, list[int]]:
    """{key: value} -> {value: [keys]}, for one UPDATE per value."""
    groups: dict[Any, list[int]] = defaultdict(list)
    for key, value in mapping.items():
        groups[value].append(key)
    return groups


@transaction.atomic
def seed_demo_history(
    *,
    ruleset: RuleSet,
    seed: int,
    sdrs: Sequence[User],
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> HistorySummary:
    """Write the handoffs, dispositions and outcomes of the leads' past (module docstring)."""
    now = now or timezone.now()
    rules = _Rules(ruleset.to_spec())
    leads = _load_leads()
    sdrs = sorted(sdrs, key=lambda user: user.username)
    episodes: list[_Episode] = []
    for done, lead in enumerate(leads, 1):
        rng = random.Random(f"history-{seed}-{done}")
        episodes += _replay(lead, rules, rng, now)
        if progress and (done % PROGRESS_STEP == 0 or done == len(leads)):
            progress(done, len(leads))
    episodes.sort(key=lambda e: (e.created_at, e.lead.pk))

    rng = random.Random(f"assign-{seed}")
    assignees = _assign(episodes, sdrs, rng)
    pace = {user.pk: SDR_PACE[i % len(SDR_PACE)] for i, user in enumerate(sdrs)}
    version = ruleset.version
    handoffs, outcomes, changes = [], [], []
    stage: dict[int, str] = {}  # lead id -> where its story ends
    owner_of: dict[int, int] = {}
    last_assigned: dict[int, datetime] = {}
    for number, (episode, assignee) in enumerate(zip(episodes, assignees, strict=True), 1):
        pk = episode.lead.pk
        user_id = assignee.pk if assignee else None
        handoffs.append(_handoff(episode, assignee, pace.get(user_id, 1.0), ruleset, now, rng))
        if user_id:
            owner_of.setdefault(pk, user_id)
            last_assigned[user_id] = episode.created_at
        steps = [(episode.created_at, Stage.MQL, ScoreChange.Reason.HANDOFF)]
        if episode.disposition:
            after = STAGE_AFTER[episode.disposition]
            steps.append((episode.dispositioned_at, after, ScoreChange.Reason.HANDOFF))
        crm_id = f"006DEMO{seed % 10_000:04d}{number:07d}"
        for outcome in episode.outcomes:
            suffix = "" if outcome.type == Outcome.Type.OPPORTUNITY else f"-{outcome.type}"
            outcomes.append(
                Outcome(
                    lead_id=pk,
                    type=outcome.type,
                    occurred_at=outcome.occurred_at,
                    amount=outcome.amount,
                    external_id=f"{crm_id}{suffix}",
                )
            )
            steps.append((outcome.occurred_at, outcome.type, ScoreChange.Reason.OUTCOME))
        for at, to_stage, reason in steps:
            before = stage.get(pk, Stage.LEAD)
            changes.append(_score_change(episode, at, (before, to_stage), reason, version))
            stage[pk] = to_stage
    Handoff.objects.bulk_create(handoffs, batch_size=BATCH_SIZE)
    record_contributions(handoffs)
    Outcome.objects.bulk_create(outcomes, batch_size=BATCH_SIZE)
    ScoreChange.objects.bulk_create(changes, batch_size=BATCH_SIZE)
    # Bulk updates; update() leaves updated_at alone (the bad-data hold-back reads it).
    for value, pks in _grouped(stage).items():
        for chunk in _chunks(pks):
            Lead.objects.filter(pk__in=chunk).update(stage=value)
    for user_id, pks in _grouped(owner_of).items():
        for chunk in _chunks(pks):
            Lead.objects.filter(pk__in=chunk, owner__isnull=True).update(owner_id=user_id)
    # The live round-robin carries on from where the history left it.
    for user_id, when in last_assigned.items():
        SdrProfile.objects.filter(user_id=user_id).update(last_assigned_at=when)
    return HistorySummary(
        handoffs=len(handoffs),
        open=sum(1 for h in handoffs if not h.disposition),
        dispositions=dict(Counter(h.disposition for h in handoffs if h.disposition)),
        outcomes=dict(Counter(o.type for o in outcomes)),
    )
