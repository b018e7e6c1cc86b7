from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from leads.models import time_problem


class SdrProfile(models.Model):
    """Whether an SDR takes new MQLs; round-robin assignment only picks active, accepting SDRs."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sdr_profile"
    )
    active = models.BooleanField(default=True)
    accepting_leads = models.BooleanField(
        default=True, help_text="Untick while on holiday: no new MQLs are assigned."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Round-robin: the next new MQL goes to the accepting SDR who waited longest.
    last_assigned_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "SDR profile"

    def __str__(self) -> str:
        return self.user.get_full_name() or self.user.get_username()


class Outcome(models.Model):
    """What the CRM says became of a lead: an opportunity, then won or lost."""

    class Type(models.TextChoices):
        OPPORTUNITY = "opportunity", "Opportunity created"
        WON = "won", "Closed won"
        LOST = "lost", "Closed lost"

    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="outcomes")
    type = models.CharField(max_length=12, choices=Type.choices)
    occurred_at = models.DateTimeField()
    amount = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(0)]
    )
    external_id = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at"]
        constraints = [
            # The CRM resends; the same outcome id is the same outcome.
            models.UniqueConstraint(
                fields=["external_id"],
                condition=models.Q(external_id__isnull=False),
                name="outcome_external_id_unique",
            ),
        ]
        indexes = [models.Index(fields=["lead", "type"], name="outcome_lead_type_idx")]

    def __str__(self) -> str:
        return f"{self.get_type_display()} {self.occurred_at:%Y-%m-%d}"

    def clean(self):
        problem = self.occurred_at and time_problem(self.occurred_at)
        if problem:
            raise ValidationError({"occurred_at": problem})


class MqlClass(models.TextChoices):
    """The matrix's MQL actions; `rank` orders the queue (priority first)."""

    PRIORITY = "mql_priority", "Priority"
    FAST_TRACK = "mql_fast_track", "Fast track"
    STANDARD = "mql_standard", "Standard"


MQL_RANK = {MqlClass.PRIORITY: 1, MqlClass.FAST_TRACK: 2, MqlClass.STANDARD: 3}


class Disposition(models.TextChoices):
    ACCEPTED = "accepted", "Accepted"
    BAD_FIT = "bad_fit", "Bad fit"
    BAD_TIMING = "bad_timing", "Bad timing"
    BAD_DATA = "bad_data", "Bad data"


class HandoffQuerySet(models.QuerySet):
    def open(self):
        return self.filter(disposition="")


class Handoff(models.Model):
    """One MQL episode: a lead handed to sales with the score it had then, until dispositioned.

    The score snapshot never changes afterwards; the lead's live score does.
    """

    # No index of its own: handoff_lead_idx starts with lead_id.
    lead = models.ForeignKey(
        "leads.Lead", on_delete=models.CASCADE, related_name="handoffs", db_index=False
    )
    ruleset = models.ForeignKey(
        "scoring.RuleSet", on_delete=models.PROTECT, related_name="handoffs"
    )
    # The score at handoff.
    fit_score = models.FloatField()
    interest_score = models.FloatField()
    total_score = models.FloatField()
    cell = models.CharField(max_length=2)
    contributions = models.JSONField(default=list, blank=True)

    mql_class = models.CharField(max_length=16, choices=MqlClass.choices)
    rank = models.PositiveSmallIntegerField(help_text="1 priority, 2 fast track, 3 standard.")
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="handoffs",
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(db_index=True)
    first_touch_due = models.DateTimeField()
    first_touched_at = models.DateTimeField(null=True, blank=True)
    disposition_due = models.DateTimeField()
    # The next deadline: first touch until contacted, then disposition. The queue sorts on it.
    sla_due = models.DateTimeField()
    sla_breached_at = models.DateTimeField(null=True, blank=True)

    disposition = models.CharField(max_length=12, choices=Disposition.choices, blank=True)
    note = models.TextField(blank=True, max_length=2000)
    dispositioned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    dispositioned_at = models.DateTimeField(null=True, blank=True)

    objects = HandoffQuerySet.as_manager()

    class Meta:
        ordering = ["rank", "sla_due", "-total_score"]
        constraints = [
            # Concurrent rescoring can never open a second episode for the same lead.
            models.UniqueConstraint(
                fields=["lead"],
                condition=models.Q(disposition=""),
                name="handoff_one_open_per_lead",
            ),
        ]
        indexes = [
            # The queue's whole order: an SDR's page is the first 25 entries of this index,
            # however many MQLs are open. (total_score is the score when handed off and never
            # changes; sla_breached_at is written once, if ever.) It holds sla_breached_at, so the
            # overdue count (the nav badge, polled every 30 s) reads only the SDR's entries:
            # without it PostgreSQL scanned every handoff ever made whenever none was overdue.
            models.Index(
                fields=["assigned_to", "rank", "sla_due", "-total_score", "id"],
                include=["sla_breached_at"],
                condition=models.Q(disposition=""),
                name="handoff_queue_idx",
            ),
            models.Index(fields=["lead", "dispositioned_at"], name="handoff_lead_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_mql_class_display()} MQL {self.created_at:%Y-%m-%d} ({self.cell})"

    @property
    def is_open(self) -> bool:
        return not self.disposition


class ScoreFlag(models.Model):
    """An SDR's "this score is wrong": read by marketing when tuning the rules."""

    class Direction(models.TextChoices):
        TOO_HIGH = "too_high", "Too high"
        TOO_LOW = "too_low", "Too low"

    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="score_flags")
    handoff = models.ForeignKey(
        Handoff, null=True, blank=True, on_delete=models.SET_NULL, related_name="flags"
    )
    direction = models.CharField(max_length=8, choices=Direction.choices)
    reason = models.TextField(max_length=2000)
    total_score = models.FloatField(help_text="The lead's score when flagged.")
    flagged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_direction_display()}: {self.reason[:40]}"


class HandoffContribution(models.Model):
    """One rule that counted in a handoff's score snapshot, as a row: the calibration's per-rule
    lift and the backtest count handoffs by rule in SQL instead of reading every snapshot."""

    handoff = models.ForeignKey(Handoff, on_delete=models.CASCADE, related_name="rules")
    rule = models.CharField(max_length=200)
    kind = models.CharField(max_length=8)  # fit | behavior
    value = models.FloatField(help_text="Points after decay at the handoff.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["handoff", "rule"], name="handoff_rule_unique"),
        ]
        indexes = [models.Index(fields=["rule", "handoff"], name="handoff_rule_idx")]

    def __str__(self) -> str:
        return f"{self.rule}: {self.value:+.1f}"


class CalibrationMonth(models.Model):
    """A finished month's calibration figures, stored once so they never shift afterwards."""

    month = models.DateField(unique=True, help_text="The first day of the month.")
    figures = models.JSONField()
    closed_at = models.DateTimeField()

    class Meta:
        ordering = ["-month"]

    def __str__(self) -> str:
        return f"{self.month:%B %Y}"


class Backtest(models.Model):
    """A draft rule set scored against the last `days` of history, next to the active one: what
    it would have handed off and what sales did with those leads. Runs as a Celery task."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    ruleset = models.ForeignKey(
        "scoring.RuleSet", on_delete=models.CASCADE, related_name="backtests"
    )
    baseline = models.ForeignKey(
        "scoring.RuleSet", on_delete=models.CASCADE, related_name="+", null=True
    )
    days = models.PositiveSmallIntegerField(
        default=90, validators=[MinValueValidator(7), MaxValueValidator(730)]
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When it was handed to Celery; empty while the broker is down.",
    )
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Backtest of {self.ruleset} over {self.days} days"

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0
