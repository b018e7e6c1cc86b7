from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

from . import engine
from .rulesets import DEFAULT_MATRIX, DEFAULT_SLA_HOURS


def default_matrix() -> dict[str, str]:
    return dict(DEFAULT_MATRIX)


def default_sla_hours() -> dict[str, float]:
    return dict(DEFAULT_SLA_HOURS)


class RuleSetQuerySet(models.QuerySet):
    def active(self) -> "RuleSet | None":
        return self.filter(status=RuleSet.Status.ACTIVE).first()


class RuleSet(models.Model):
    """A versioned, named set of scoring rules with its tier cut-offs, matrix and SLAs.

    Only drafts are edited: an active or archived rule set is what leads were scored with, so it
    stays as it was. To change the rules, clone to a draft, edit, publish.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        ARCHIVED = "archived", "Archived"

    name = models.CharField(max_length=200)
    version = models.PositiveIntegerField(unique=True, editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    description = models.TextField(blank=True)
    half_life_days = models.FloatField(
        default=30,
        validators=[MinValueValidator(0.01)],
        help_text="Interest from an activity halves every this many days.",
    )
    fit_high = models.FloatField(default=40, help_text="Fit tier A from this many points.")
    fit_medium = models.FloatField(default=20, help_text="Fit tier B from this many points.")
    interest_high = models.FloatField(
        default=50, help_text="Interest tier 1 from this many points."
    )
    interest_medium = models.FloatField(
        default=20, help_text="Interest tier 2 from this many points."
    )
    matrix = models.JSONField(default=default_matrix)
    sla_hours = models.JSONField(default=default_sla_hours)
    recycle_days = models.PositiveIntegerField(
        default=30,
        help_text="A lead rejected as bad timing may become an MQL again after this many days.",
    )
    based_on = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="clones"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    published_at = models.DateTimeField(null=True, blank=True, editable=False)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    objects = RuleSetQuerySet.as_manager()

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["status"],
                condition=models.Q(status="active"),
                name="ruleset_one_active",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} (v{self.version}, {self.get_status_display().lower()})"

    def save(self, *args, **kwargs):
        if self.version is None:
            last = RuleSet.objects.aggregate(models.Max("version"))["version__max"] or 0
            self.version = last + 1
        super().save(*args, **kwargs)

    @property
    def is_editable(self) -> bool:
        return self.status == self.Status.DRAFT

    def to_spec(self) -> engine.RuleSetSpec:
        return engine.RuleSetSpec(
            name=self.name,
            half_life_days=self.half_life_days,
            fit_high=self.fit_high,
            fit_medium=self.fit_medium,
            interest_high=self.interest_high,
            interest_medium=self.interest_medium,
            matrix=dict(self.matrix),
            sla_hours=dict(self.sla_hours),
            recycle_days=self.recycle_days,
            fit_rules=tuple(r.to_spec() for r in self.fit_rules.all()),
            behavior_rules=tuple(r.to_spec() for r in self.behavior_rules.all()),
        )


class FitRule(models.Model):
    """Points for who the lead is (title, company size, industry…)."""

    ruleset = models.ForeignKey(RuleSet, on_delete=models.CASCADE, related_name="fit_rules")
    name = models.CharField(max_length=200)
    field = models.CharField(
        max_length=100,
        help_text="What to look at: title, industry, country, source, funding_stage, "
        "email_domain, employee_count, annual_revenue, technologies, email_is_free, "
        "or attributes.KEY for a custom attribute.",
    )
    operator = models.CharField(
        max_length=20,
        help_text="contains_any: a listed word appears in the text (whole words, any case). "
        "equals_any: the value is one of the list. between: min ≤ value ≤ max. "
        "includes_any: the list (technologies) holds one of the values. "
        "is_true / is_false / is_blank.",
    )
    values = models.JSONField(
        default=list, blank=True, help_text="The words or values to look for."
    )
    min = models.FloatField(null=True, blank=True, help_text="For between; empty = no minimum.")
    max = models.FloatField(null=True, blank=True, help_text="For between; empty = no maximum.")
    points = models.FloatField(help_text="Added to fit when the rule matches; may be negative.")
    group = models.CharField(
        max_length=100,
        blank=True,
        help_text="Rules sharing a group: only the first match (by order) counts.",
    )
    order = models.IntegerField(default=0)
    disqualify = models.BooleanField(
        default=False, help_text="A matching lead is disqualified: it never becomes an MQL."
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["ruleset", "name"], name="fitrule_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name

    def to_spec(self) -> engine.FitRuleSpec:
        return engine.FitRuleSpec(
            name=self.name,
            field=self.field,
            operator=self.operator,
            values=tuple(str(v) for v in self.values or ()),
            min=self.min,
            max=self.max,
            points=self.points,
            group=self.group,
            order=self.order,
            disqualify=self.disqualify,
        )


class BehaviorRule(models.Model):
    """Points for what the lead did, decaying with the rule set's half-life."""

    class Mode(models.TextChoices):
        EACH = "each", "Each time (up to max count)"
        ONCE = "once", "Once, when done at least min count times"

    ruleset = models.ForeignKey(RuleSet, on_delete=models.CASCADE, related_name="behavior_rules")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=64, help_text="The activity kind, e.g. page_view.")
    url_contains = models.JSONField(
        default=list,
        blank=True,
        help_text="Only activities whose URL contains one of these (any case). Empty = any URL.",
    )
    mode = models.CharField(max_length=4, choices=Mode.choices)
    points = models.FloatField(help_text="Points per counted activity; may be negative.")
    max_count = models.PositiveIntegerField(
        null=True, blank=True, help_text="each: count only the most recent N activities."
    )
    min_count = models.PositiveIntegerField(
        default=1, help_text="once: the rule applies from this many activities on."
    )
    window_days = models.FloatField(
        null=True, blank=True, help_text="Only activities of the last N days. Empty = all time."
    )
    decays = models.BooleanField(
        default=True, help_text="Untick for points that keep their full value forever."
    )
    group = models.CharField(
        max_length=100,
        blank=True,
        help_text="Rules sharing a group: only the first match (by order) counts.",
    )
    order = models.IntegerField(default=0)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["ruleset", "name"], name="behaviorrule_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name

    def to_spec(self) -> engine.BehaviorRuleSpec:
        return engine.BehaviorRuleSpec(
            name=self.name,
            kind=self.kind,
            mode=self.mode,
            points=self.points,
            url_contains=tuple(str(u) for u in self.url_contains or ()),
            max_count=self.max_count,
            min_count=self.min_count,
            window_days=self.window_days,
            decays=self.decays,
            group=self.group,
            order=self.order,
        )


class ScoreChange(models.Model):
    """A lead's cell or stage moved (or it was handed off): the history behind every MQL."""

    class Reason(models.TextChoices):
        ACTIVITY = "activity", "New activity"
        EDIT = "edit", "Record edited"
        RESCORE = "rescore", "Rescore"
        PUBLISH = "publish", "Rule set published"
        DECAY = "decay", "Decay"
        HANDOFF = "handoff", "Handoff"
        OUTCOME = "outcome", "CRM outcome"

    # No index of its own: scorechange_lead_idx starts with lead_id. One index fewer to write
    # for every cell move a rescore records.
    lead = models.ForeignKey(
        "leads.Lead", on_delete=models.CASCADE, related_name="score_changes", db_index=False
    )
    changed_at = models.DateTimeField(default=timezone.now)
    reason = models.CharField(max_length=10, choices=Reason.choices)
    ruleset_version = models.PositiveIntegerField(null=True)
    from_cell = models.CharField(max_length=2, blank=True)
    to_cell = models.CharField(max_length=2)
    from_stage = models.CharField(max_length=20, blank=True)
    to_stage = models.CharField(max_length=20)
    fit_score = models.FloatField()
    interest_score = models.FloatField()
    total_score = models.FloatField()
    disqualified = models.BooleanField(default=False)

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["lead", "changed_at"], name="scorechange_lead_idx")]

    def __str__(self) -> str:
        return f"{self.from_cell or '—'} → {self.to_cell} ({self.get_reason_display()})"


class RescoreRun(models.Model):
    """Progress of a batch rescore (publish, `manage.py rescore`), shown in the admin."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"

    ruleset = models.ForeignKey(RuleSet, on_delete=models.CASCADE, related_name="rescore_runs")
    reason = models.CharField(max_length=10, choices=ScoreChange.Reason.choices)
    as_of = models.DateTimeField(null=True, blank=True, help_text="Empty: as of each chunk's run.")
    open_handoffs = models.BooleanField(default=True)
    only_with_activity = models.BooleanField(default=False)
    total_chunks = models.PositiveIntegerField(default=0)
    done_chunks = models.PositiveIntegerField(default=0)
    leads_changed = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(default=timezone.now)
    queued_at = models.DateTimeField(
        null=True, blank=True, help_text="When its chunks were last handed to Celery."
    )
    progressed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} v{self.ruleset.version}: {self.progress_percent}%"

    @property
    def progress_percent(self) -> int:
        if not self.total_chunks:
            return 100 if self.status == self.Status.DONE else 0
        return round(100 * self.done_chunks / self.total_chunks)


class RescoreChunk(models.Model):
    """One lead-id range of a run. Marked done once, so a redelivered or resumed chunk is
    counted once, and the recovery sweep knows which ranges are left."""

    run = models.ForeignKey(RescoreRun, on_delete=models.CASCADE, related_name="chunks")
    start = models.BigIntegerField()
    stop = models.BigIntegerField()
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "start"]
        constraints = [
            models.UniqueConstraint(fields=["run", "start"], name="rescorechunk_run_start_uniq")
        ]

    def __str__(self) -> str:
        return f"leads {self.start}–{self.stop - 1}"
