"""Writes of the feedback app: MQL handoffs (design §4) — opening, assignment, first touch,
dispositions, claims, the SLA sweep — and outcomes from the CRM.

Every write about a handoff is one function here, called by the rescoring paths, the queue's
views, the admin and the periodic tasks alike.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import AbstractBaseUser, User
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Max, OuterRef, Q, Subquery
from django.utils import timezone

from config import broker
from leads.models import Activity, Lead, LeadScore, Stage
from leads.services import leads_by_email
from scoring import engine
from scoring.models import RuleSet, ScoreChange
from scoring.selectors import lead_facts
from scoring.services import create_ruleset_from_spec

from . import backtest as backtests
from . import weights
from .calibration import bounds, month_figures, month_of, shift
from .models import (
    MQL_RANK,
    Backtest,
    CalibrationMonth,
    Disposition,
    Handoff,
    HandoffContribution,
    Outcome,
    ScoreFlag,
    SdrProfile,
)
from .roles import MANAGER, SDR, role_of

UNDO_SECONDS = 10
STAGE_AFTER = {
    Disposition.ACCEPTED: Stage.ACCEPTED,
    Disposition.BAD_FIT: Stage.REJECTED,
    Disposition.BAD_DATA: Stage.REJECTED,
    Disposition.BAD_TIMING: Stage.RECYCLED,
}


class HandoffError(Exception):
    """An action on a handoff that cannot be done; the message is for the person who tried."""


# Opening -----------------------------------------------------------------------------------------


def held_back(lead_ids: Sequence[int], ruleset: RuleSet, now: datetime) -> set[int]:
    """Leads whose last disposition still holds them back (design §4)."""
    last = {}
    for handoff in (
        Handoff.objects.filter(lead_id__in=lead_ids)
        .exclude(disposition="")
        .order_by("lead_id", "-dispositioned_at")
        .values("lead_id", "disposition", "dispositioned_at", "fit_score")
    ):
        last.setdefault(handoff["lead_id"], handoff)
    if not last:
        return set()
    leads = {
        row["pk"]: row
        for row in Lead.objects.filter(pk__in=last).values(
            "pk", "score__fit_score", "updated_at", "account__updated_at"
        )
    }
    newest_arrival = dict(
        Activity.objects.filter(lead_id__in=last)
        .values("lead_id")
        .annotate(at=Max("created_at"))
        .values_list("lead_id", "at")
    )
    recycle = timedelta(days=ruleset.recycle_days)
    held = set()
    for lead_id, handoff in last.items():
        when, lead = handoff["dispositioned_at"], leads[lead_id]
        disposition = handoff["disposition"]
        if disposition == Disposition.ACCEPTED:
            held.add(lead_id)  # sales owns it now
        elif disposition == Disposition.BAD_FIT:
            if not lead["score__fit_score"] > handoff["fit_score"] + 1e-9:
                held.add(lead_id)
        elif disposition == Disposition.BAD_TIMING:
            arrived = newest_arrival.get(lead_id)
            if now < when + recycle or arrived is None or arrived <= when:
                held.add(lead_id)
        elif disposition == Disposition.BAD_DATA:
            edited = max(filter(None, [lead["updated_at"], lead["account__updated_at"]]))
            if edited <= when:
                held.add(lead_id)
    return held


def _snapshot(lead: Lead, activities, spec: engine.RuleSetSpec, now: datetime) -> list[dict]:
    score = engine.score_lead(lead_facts(lead), activities, spec, now)
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


def _round_robin(count: int, now: datetime) -> list[User | None]:
    """The next `count` assignees, in turn among active SDRs who accept leads."""
    profiles = list(
        SdrProfile.objects.filter(active=True, accepting_leads=True, user__is_active=True)
        .select_related("user")
        .order_by(F("last_assigned_at").asc(nulls_first=True), "pk")
    )
    if not profiles:
        return [None] * count
    picks = [profiles[i % len(profiles)] for i in range(count)]
    for profile in profiles[: min(count, len(profiles))]:
        profile.last_assigned_at = now
    SdrProfile.objects.bulk_update(profiles[: min(count, len(profiles))], ["last_assigned_at"])
    return [profile.user for profile in picks]


def _account_owners(leads: Iterable[Lead]) -> dict[int, int]:
    """account id -> the SDR working another open or accepted handoff at that account."""
    account_ids = {lead.account_id for lead in leads if lead.account_id}
    owners = {}
    for account_id, user_id in (
        Handoff.objects.filter(lead__account_id__in=account_ids, assigned_to__isnull=False)
        .filter(Q(disposition="") | Q(disposition=Disposition.ACCEPTED))
        .order_by("-created_at")
        .values_list("lead__account_id", "assigned_to")
    ):
        owners.setdefault(account_id, user_id)
    return owners


@transaction.atomic
def open_handoffs(
    ruleset: RuleSet,
    lead_ids: Sequence[int],
    *,
    now: datetime | None = None,
    spec: engine.RuleSetSpec | None = None,
):
    """Hand these MQL-cell leads to sales, unless held back; returns the handoffs opened.
    `spec` is the rule set's, when the caller has it already.

    A database constraint allows one open handoff per lead, so concurrent rescoring of the
    same lead cannot open two: the loser's insert is skipped.
    """
    now = now or timezone.now()
    lead_ids = sorted(set(lead_ids) - held_back(lead_ids, ruleset, now))
    if not lead_ids:
        return []
    spec = spec or ruleset.to_spec()
    leads = list(Lead.objects.filter(pk__in=lead_ids).select_related("account", "score"))
    activities = defaultdict(list)
    for pk, lead_id, kind, occurred_at, url in Activity.objects.filter(
        lead_id__in=lead_ids
    ).values_list("pk", "lead_id", "kind", "occurred_at", "url"):
        activities[lead_id].append(engine.ActivityFact(pk, kind, occurred_at, url))
    # Concurrent openings (two rescore chunks, two API batches) take turns from here until
    # commit, so each reads the other's handoffs and rotation: leads at one account go to one
    # SDR, and no turn of the round robin is dealt twice.
    list(SdrProfile.objects.select_for_update().order_by("pk").values_list("pk", flat=True))
    owners = _account_owners(leads)
    unowned = [lead for lead in leads if owners.get(lead.account_id) is None]
    turn = iter(_round_robin(len(unowned), now))
    assignee_of = {lead.pk: next(turn) for lead in unowned}
    hours = ruleset.sla_hours
    new = []
    for lead in leads:
        mql_class = ruleset.matrix[lead.score.cell]
        assignee = assignee_of.get(lead.pk)
        assignee_id = owners.get(lead.account_id) or (assignee.pk if assignee else None)
        first_touch_due = now + timedelta(hours=hours[mql_class])
        new.append(
            Handoff(
                lead=lead,
                ruleset=ruleset,
                fit_score=lead.score.fit_score,
                interest_score=lead.score.interest_score,
                total_score=lead.score.total_score,
                cell=lead.score.cell,
                contributions=_snapshot(lead, activities[lead.pk], spec, now),
                mql_class=mql_class,
                rank=MQL_RANK[mql_class],
                assigned_to_id=assignee_id,
                assigned_at=now if assignee_id else None,
                created_at=now,
                first_touch_due=first_touch_due,
                sla_due=first_touch_due,
                disposition_due=now + timedelta(hours=hours["disposition"]),
            )
        )
    Handoff.objects.bulk_create(new, ignore_conflicts=True)
    opened = list(
        Handoff.objects.open().filter(lead_id__in=lead_ids, created_at=now).select_related("lead")
    )
    record_contributions(opened)
    _set_stage([h.lead for h in opened], Stage.MQL, reason=ScoreChange.Reason.HANDOFF, now=now)
    # A lead without an owner is owned by the SDR it went to, in one statement for all of them.
    Lead.objects.filter(
        pk__in=[h.lead_id for h in opened if h.assigned_to_id], owner__isnull=True
    ).update(
        owner_id=Subquery(
            Handoff.objects.open().filter(lead_id=OuterRef("pk")).values("assigned_to_id")
        )
    )
    priority = [h for h in opened if h.rank == 1 and h.assigned_to_id]
    if priority:
        transaction.on_commit(lambda: notify_priority_mqls([h.pk for h in priority]))
    return opened


def record_contributions(handoffs: Iterable[Handoff]) -> None:
    """The rules in each new handoff's snapshot as rows (the calibration counts by rule)."""
    HandoffContribution.objects.bulk_create(
        (
            HandoffContribution(handoff=h, rule=c["rule"], kind=c["kind"], value=c["value"])
            for h in handoffs
            for c in h.contributions
        ),
        batch_size=2000,
        ignore_conflicts=True,
    )


def _set_stage(leads: Sequence[Lead], stage: str, *, reason: str, now: datetime) -> None:
    """Move leads to a stage and record it. update() keeps the leads' updated_at, which only
    data edits may move (the bad-data hold-back reads it)."""
    # The scores are recorded as they stand: read in one query for all the leads.
    scores = LeadScore.objects.in_bulk([lead.pk for lead in leads])
    changes = []
    for lead in leads:
        score = scores[lead.pk]
        changes.append(
            ScoreChange(
                lead=lead,
                changed_at=now,
                reason=reason,
                ruleset_version=score.ruleset_version,
                from_cell=score.cell,
                to_cell=score.cell,
                from_stage=lead.stage,
                to_stage=stage,
                fit_score=score.fit_score,
                interest_score=score.interest_score,
                total_score=score.total_score,
                disqualified=score.disqualified,
            )
        )
    ScoreChange.objects.bulk_create(changes)
    Lead.objects.filter(pk__in=[lead.pk for lead in leads]).update(stage=stage)


def notify_priority_mqls(handoff_ids: Sequence[int]) -> None:
    """One e-mail per SDR listing their new priority MQLs (first touch due within the hour)."""
    by_sdr = defaultdict(list)
    for handoff in Handoff.objects.filter(pk__in=handoff_ids).select_related("lead", "assigned_to"):
        by_sdr[handoff.assigned_to].append(handoff)
    for sdr, handoffs in by_sdr.items():
        if not sdr.email:
            continue
        lines = [
            f"- {h.lead} ({h.lead.email}), score {h.total_score:.0f}, cell {h.cell}, "
            f"first touch due {timezone.localtime(h.first_touch_due):%H:%M}"
            for h in handoffs
        ]
        send_mail(
            subject=f"{len(handoffs)} new priority MQL{'s' if len(handoffs) > 1 else ''}",
            message="New priority MQLs are in your queue:\n\n" + "\n".join(lines),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[sdr.email],
            fail_silently=True,  # a mail outage must not lose the handoff; the queue shows it
        )


# Working a handoff -------------------------------------------------------------------------------


def _locked(handoff_id: int) -> Handoff:
    # The row lock makes two people acting at once take turns: the second sees the first's
    # result instead of overwriting it.
    return Handoff.objects.select_for_update().select_related("lead").get(pk=handoff_id)


def can_work(user: AbstractBaseUser, handoff: Handoff) -> bool:
    """SDRs act on their own handoffs; managers on any."""
    role = role_of(user)
    return role == MANAGER or (role == SDR and handoff.assigned_to_id == user.pk)


@transaction.atomic
def mark_contacted(handoff_id: int, *, user: AbstractBaseUser) -> Handoff:
    handoff = _locked(handoff_id)
    if not can_work(user, handoff):
        raise HandoffError("This MQL is not yours to work.")
    if not handoff.is_open:
        raise HandoffError(_already_done(handoff))
    if handoff.first_touched_at is None:
        handoff.first_touched_at = timezone.now()
        handoff.sla_due = handoff.disposition_due
        handoff.save(update_fields=["first_touched_at", "sla_due"])
    return handoff


def _audit(user: AbstractBaseUser, handoff: Handoff, message: str) -> None:
    """Who did what to a handoff and when, in the admin's history of it."""
    LogEntry.objects.log_actions(user.pk, [handoff], CHANGE, message, single_object=True)


def _name(user: AbstractBaseUser | None, *, nobody: str = "the pool") -> str:
    return (user.get_full_name() or user.get_username()) if user else nobody


def _already_done(handoff: Handoff) -> str:
    name = _name(handoff.dispositioned_by, nobody="someone")
    when = timezone.localtime(handoff.dispositioned_at)
    return (
        f"{name} already marked this MQL {handoff.get_disposition_display().lower()} "
        f"at {when:%H:%M} on {when:%d %b}."
    )


@transaction.atomic
def disposition(
    handoff_id: int, *, user: AbstractBaseUser, outcome: str, note: str = ""
) -> Handoff:
    """Accepted, bad fit, bad timing or bad data: the end of the MQL episode."""
    if outcome not in Disposition.values:
        raise HandoffError(f"Unknown disposition {outcome!r}.")
    handoff = _locked(handoff_id)
    if not handoff.is_open:
        raise HandoffError(_already_done(handoff))
    if not can_work(user, handoff):
        raise HandoffError("This MQL is not yours to work.")
    now = timezone.now()
    handoff.disposition, handoff.note = outcome, note.strip()
    handoff.dispositioned_by, handoff.dispositioned_at = user, now
    if handoff.first_touched_at is None:
        handoff.first_touched_at = now  # deciding on a lead means it was looked at
    handoff.save()
    _set_stage([handoff.lead], STAGE_AFTER[outcome], reason=ScoreChange.Reason.HANDOFF, now=now)
    _audit(user, handoff, f"Dispositioned: {handoff.get_disposition_display()}.")
    return handoff


@transaction.atomic
def undo_disposition(handoff_id: int, *, user: AbstractBaseUser) -> Handoff:
    """Take back one's own disposition within a few seconds of making it."""
    handoff = _locked(handoff_id)
    recent = handoff.dispositioned_at and (
        timezone.now() - handoff.dispositioned_at <= timedelta(seconds=UNDO_SECONDS)
    )
    if handoff.is_open or handoff.dispositioned_by_id != user.pk or not recent:
        raise HandoffError("Too late to undo: the disposition stands.")
    handoff.disposition, handoff.note = "", ""
    handoff.dispositioned_by = handoff.dispositioned_at = None
    handoff.save()
    _set_stage([handoff.lead], Stage.MQL, reason=ScoreChange.Reason.HANDOFF, now=timezone.now())
    _audit(user, handoff, "Undid the disposition.")
    return handoff


@transaction.atomic
def claim(handoff_id: int, *, user: AbstractBaseUser) -> Handoff:
    """An SDR takes an unassigned MQL from the pool."""
    handoff = _locked(handoff_id)
    if role_of(user) not in (SDR, MANAGER):
        raise HandoffError("Only SDRs and managers can claim MQLs.")
    if handoff.assigned_to_id is not None:
        raise HandoffError("Someone claimed this MQL a moment ago.")
    if not handoff.is_open:
        raise HandoffError(_already_done(handoff))
    handoff.assigned_to, handoff.assigned_at = user, timezone.now()
    handoff.save(update_fields=["assigned_to", "assigned_at"])
    Lead.objects.filter(pk=handoff.lead_id, owner__isnull=True).update(owner=user)
    _audit(user, handoff, "Claimed from the pool.")
    return handoff


@transaction.atomic
def reassign(handoff_id: int, *, user: AbstractBaseUser, to: AbstractBaseUser | None) -> Handoff:
    if role_of(user) != MANAGER:
        raise HandoffError("Only managers can reassign MQLs.")
    handoff = _locked(handoff_id)
    if not handoff.is_open:
        raise HandoffError(_already_done(handoff))
    before = handoff.assigned_to
    handoff.assigned_to, handoff.assigned_at = to, timezone.now() if to else None
    handoff.save(update_fields=["assigned_to", "assigned_at"])
    _audit(user, handoff, f"Reassigned from {_name(before)} to {_name(to)}.")
    return handoff


# SLA -------------------------------------------------------------------------------------------


def sweep_sla(*, now: datetime | None = None) -> list[Handoff]:
    """Mark open handoffs past their first-touch or disposition deadline, and send managers a
    digest of the new breaches. Marked once, so a second sweep sends nothing new."""
    now = now or timezone.now()
    with transaction.atomic():
        late = (
            Handoff.objects.open()
            .filter(sla_breached_at__isnull=True, sla_due__lt=now)
            # "of": PostgreSQL cannot lock the nullable side of the assigned_to join.
            .select_for_update(skip_locked=True, of=("self",))
        )
        breached = list(late.select_related("lead", "assigned_to"))
        Handoff.objects.filter(pk__in=[h.pk for h in breached]).update(sla_breached_at=now)
    if breached:
        managers = User.objects.filter(groups__name=MANAGER, is_active=True).exclude(email="")
        lines = [
            f"- {h.lead} ({h.get_mql_class_display()}), "
            f"{'first touch' if h.first_touched_at is None else 'disposition'} was due "
            f"{timezone.localtime(h.sla_due):%d %b %H:%M}, "
            f"SDR: {h.assigned_to.get_full_name() if h.assigned_to else 'unassigned'}"
            for h in breached
        ]
        send_mail(
            subject=f"SLA: {len(breached)} MQL{'s' if len(breached) > 1 else ''} past due",
            message="These MQLs passed their SLA:\n\n" + "\n".join(lines),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[m.email for m in managers],
            fail_silently=True,
        )
    return breached


# Outcomes ---------------------------------------------------------------------------------------


@dataclass
class NewOutcome:
    email: str
    type: str
    occurred_at: datetime
    amount: Decimal | None = None
    external_id: str | None = None


@dataclass
class OutcomeResult:
    created: int = 0
    duplicates: int = 0
    leads_created: int = 0


@transaction.atomic
def record_outcomes(items: Sequence[NewOutcome]) -> OutcomeResult:
    """Store what the CRM reports, idempotent on external_id (or, without one, on lead, type
    and date), so a resent outcome is never counted twice."""
    result = OutcomeResult()
    lead_of_email, result.leads_created = leads_by_email(i.email for i in items)
    seen_ids = set(
        Outcome.objects.filter(
            external_id__in={i.external_id for i in items if i.external_id}
        ).values_list("external_id", flat=True)
    )
    seen_keys = set(
        Outcome.objects.filter(
            lead_id__in=lead_of_email.values(), external_id__isnull=True
        ).values_list("lead_id", "type", "occurred_at")
    )
    new = []
    for item in items:
        lead_id = lead_of_email[item.email.strip().lower()]
        key, seen = (
            (item.external_id, seen_ids)
            if item.external_id
            else ((lead_id, item.type, item.occurred_at), seen_keys)
        )
        if key in seen:
            result.duplicates += 1
            continue
        seen.add(key)
        new.append(
            Outcome(
                lead_id=lead_id,
                type=item.type,
                occurred_at=item.occurred_at,
                amount=item.amount,
                external_id=item.external_id or None,
            )
        )
    Outcome.objects.bulk_create(new)
    result.created = len(new)
    _follow_outcomes({o.lead_id for o in new})
    return result


def _follow_outcomes(lead_ids: set[int]) -> None:
    """A lead's stage follows its latest outcome: opportunity, then won or lost."""
    latest = {}
    for lead_id, kind in (
        Outcome.objects.filter(lead_id__in=lead_ids)
        .order_by("lead_id", "occurred_at", "pk")
        .values_list("lead_id", "type")
    ):
        latest[lead_id] = kind
    now = timezone.now()
    for stage in {Stage(kind) for kind in latest.values()}:
        leads = Lead.objects.filter(pk__in=[k for k, v in latest.items() if v == stage])
        _set_stage(
            list(leads.exclude(stage=stage)), stage, reason=ScoreChange.Reason.OUTCOME, now=now
        )


# Score flags ------------------------------------------------------------------------------------


@transaction.atomic
def flag_score(lead_id: int, *, user: AbstractBaseUser, direction: str, reason: str) -> ScoreFlag:
    """An SDR's (or manager's) "this score is wrong", kept with the score the lead had then and
    the open handoff, if any, so marketing can read it next to the rules that made the score."""
    if role_of(user) not in (SDR, MANAGER):
        raise HandoffError("Only SDRs and managers can flag a score.")
    if direction not in ScoreFlag.Direction.values:
        raise ValidationError({"direction": "Say whether the score is too high or too low."})
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why, so marketing can fix the rule."})
    lead = Lead.objects.select_related("score").get(pk=lead_id)
    return ScoreFlag.objects.create(
        lead=lead,
        handoff=Handoff.objects.open().filter(lead=lead).first(),
        direction=direction,
        reason=reason,
        total_score=lead.score.total_score,
        flagged_by=user,
    )


def resolve_flags(flag_ids: Iterable[int], *, now: datetime | None = None) -> int:
    """Marketing has read these flags (and changed a rule, or not): they leave the open list."""
    return ScoreFlag.objects.filter(pk__in=list(flag_ids), resolved_at__isnull=True).update(
        resolved_at=now or timezone.now()
    )


# Month close --------------------------------------------------------------------------------------

CLOSE_AFTER_DAYS = 7  # late dispositions of a month's last MQLs still count


def close_month(month: date, *, now: datetime | None = None) -> CalibrationMonth:
    """Store the month's calibration figures so they never shift. Closing a month again keeps
    the stored figures: a closed month is history."""
    now = now or timezone.now()
    snapshot, _ = CalibrationMonth.objects.get_or_create(
        month=month, defaults={"figures": month_figures(month, now=now), "closed_at": now}
    )
    return snapshot


def close_finished_months(*, now: datetime | None = None) -> list[date]:
    """Close every month with handoffs that ended CLOSE_AFTER_DAYS ago or more and is not closed
    yet (the beat runs this daily, so a missed day catches up)."""
    now = now or timezone.now()
    first = Handoff.objects.order_by("created_at").values_list("created_at", flat=True).first()
    if first is None:
        return []
    closed = set(CalibrationMonth.objects.values_list("month", flat=True))
    month, newly = month_of(first), []
    while bounds(month)[1] + timedelta(days=CLOSE_AFTER_DAYS) <= now:
        if month not in closed:
            close_month(month, now=now)
            newly.append(month)
        month = shift(month, 1)
    return newly


# Backtests ---------------------------------------------------------------------------------------


def start_backtest(ruleset: RuleSet, *, days: int, user: AbstractBaseUser | None) -> Backtest:
    """Queue a backtest of `ruleset` against the active rule set over the last `days`."""
    backtest = Backtest.objects.create(
        ruleset=ruleset, baseline=RuleSet.objects.active(), days=days, created_by=user
    )
    transaction.on_commit(lambda: queue_backtest(backtest))
    return backtest


def queue_backtest(backtest: Backtest) -> bool:
    """Hand a backtest to Celery; when the broker is down it waits, queued_at empty, for
    `resume_unqueued_backtests`."""
    from .tasks import run_backtest as task  # tasks imports this module

    if not broker.send(task, backtest.pk):
        return False
    Backtest.objects.filter(pk=backtest.pk).update(queued_at=timezone.now())
    return True


def resume_unqueued_backtests(*, now: datetime | None = None) -> list[Backtest]:
    """Queue the backtests that could not be queued when they were asked for."""
    waited = (now or timezone.now()) - timedelta(seconds=settings.RECOVERY_GRACE_SECONDS)
    unqueued = Backtest.objects.filter(
        status=Backtest.Status.QUEUED, queued_at__isnull=True, created_at__lt=waited
    )
    return [backtest for backtest in unqueued if queue_backtest(backtest)]


def run_backtest(backtest_id: int, *, now: datetime | None = None) -> Backtest:
    """Compute a queued backtest, saving its progress as it goes; a failure is kept on the row
    for the person waiting on the page."""
    backtest = Backtest.objects.select_related("ruleset", "baseline").get(pk=backtest_id)
    if backtest.status == Backtest.Status.DONE:
        return backtest  # a redelivered task: the result stands
    baseline = backtest.baseline or RuleSet.objects.active() or backtest.ruleset
    specs = {"active": baseline.to_spec(), "draft": backtest.ruleset.to_spec()}
    Backtest.objects.filter(pk=backtest.pk).update(status=Backtest.Status.RUNNING)

    def progress(done: int, total: int) -> None:
        Backtest.objects.filter(pk=backtest.pk).update(done=done, total=total)

    try:
        result = backtests.run(specs, days=backtest.days, now=now, progress=progress)
    except Exception as error:
        Backtest.objects.filter(pk=backtest.pk).update(
            status=Backtest.Status.FAILED, error=str(error), finished_at=timezone.now()
        )
        raise
    Backtest.objects.filter(pk=backtest.pk).update(
        status=Backtest.Status.DONE, result=result, finished_at=timezone.now()
    )
    backtest.refresh_from_db()
    return backtest


def draft_with_suggested_weights(*, user: AbstractBaseUser | None) -> RuleSet:
    """A draft copy of the active rule set with the suggested points, ready to backtest."""
    suggestions = weights.suggest()
    if not suggestions.enough:
        raise ValidationError(suggestions.message)
    return create_ruleset_from_spec(
        weights.suggested_spec(suggestions), user=user, based_on=suggestions.ruleset
    )
