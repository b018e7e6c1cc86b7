from django.contrib import admin
from django.db import models
from django.db.models import Q
from import_export.admin import ExportMixin

from scoring.models import ScoreChange
from scoring.rulesets import MATRIX_CELLS
from scoring.services import rescore_leads

from .admin_imports import CsvImportAdminMixin
from .admin_lists import KnownValuesFilter, NewestRecordedFirst, by_lead_address
from .imports import ActivityImport, LeadImport
from .models import Account, Activity, Lead, LeadScore
from .resources import LeadScoreResource
from .selectors import activity_kinds


class CellFilter(KnownValuesFilter):
    title = "cell"
    parameter_name = "cell"
    field_path = "score__cell"
    values = MATRIX_CELLS


class FitTierFilter(KnownValuesFilter):
    title = "fit tier"
    parameter_name = "fit_tier"
    field_path = "score__fit_tier"
    values = ("A", "B", "C")


class InterestTierFilter(KnownValuesFilter):
    title = "interest tier"
    parameter_name = "interest_tier"
    field_path = "score__interest_tier"
    values = (1, 2, 3)


class ActivityKindFilter(admin.SimpleListFilter):
    """The kinds on record, walked on their index. A kind with no activity yet lists none."""

    title = "kind"
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return [(kind, kind) for kind in activity_kinds()]

    def queryset(self, request, queryset):
        return queryset if self.value() is None else queryset.filter(kind=self.value())


def _score_display(name: str):
    """A read-only admin field showing the lead's `name` from its score row (the defaults, an
    unscored C3, for a lead not saved yet)."""
    field = LeadScore._meta.get_field(name)

    @admin.display(
        description=field.verbose_name,
        ordering=f"score__{name}",
        boolean=isinstance(field, models.BooleanField),
    )
    def display(self, obj: Lead):
        return getattr(getattr(obj, "score", None) or LeadScore(), name)

    return display


@admin.display(description="Score", ordering="score__total_score")
def total_points(obj: Lead) -> int:
    """The lead's total score in whole points, as `admin_lists.total_points` shows it."""
    return round(obj.score.total_score)


class ScoreFields:
    """Read-only fields of a lead's score on a lead's admin (scores live on LeadScore)."""

    fit_score = _score_display("fit_score")
    interest_score = _score_display("interest_score")
    total_score = _score_display("total_score")
    fit_tier = _score_display("fit_tier")
    interest_tier = _score_display("interest_tier")
    cell = _score_display("cell")
    disqualified = _score_display("disqualified")
    scored_at = _score_display("scored_at")
    ruleset_version = _score_display("ruleset_version")


class LeadInline(ScoreFields, admin.TabularInline):
    model = Lead
    fields = ["email", "first_name", "last_name", "title", "cell", "total_score", "stage"]
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("score")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["name", "domain", "industry", "employee_count", "country", "funding_stage"]
    list_filter = ["industry", "country", "funding_stage"]
    search_fields = ["name", "domain"]
    inlines = [LeadInline]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # Fit rules read the account (size, industry…): its leads' scores follow its edits.
        rescore_leads(obj.leads.values_list("pk", flat=True), reason=ScoreChange.Reason.EDIT)


@admin.register(Lead)
class LeadAdmin(ScoreFields, ExportMixin, CsvImportAdminMixin, admin.ModelAdmin):
    importer = LeadImport
    resource_classes = [LeadScoreResource]
    list_display = [
        "email",
        "full_name",
        "title",
        "account",
        "cell",
        total_points,
        "stage",
        "disqualified",
        "owner",
        "created_at",
    ]
    list_filter = [
        CellFilter,
        "stage",
        "score__disqualified",
        FitTierFilter,
        InterestTierFilter,
        "source",
        ("created_at", admin.DateFieldListFilter),
    ]
    search_fields = ["email", "first_name", "last_name", "account__name", "external_id"]
    search_help_text = (
        "An address finds the leads whose e-mail begins with it; other text is looked for in "
        "e-mails, names, accounts and CRM ids."
    )
    list_select_related = ["account", "owner", "score"]
    autocomplete_fields = ["account"]
    raw_id_fields = ["owner"]
    # Dates filter by range: date_hierarchy read every date (5.4 s at a million leads). No
    # second count of all leads beside the paginator's, and no counts per filter choice.
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    readonly_fields = [
        "fit_score",
        "interest_score",
        "total_score",
        "fit_tier",
        "interest_tier",
        "cell",
        "disqualified",
        "scored_at",
        "ruleset_version",
        "email_domain",
        "email_is_free",
    ]
    fieldsets = [
        (None, {"fields": ["email", ("first_name", "last_name"), "title", "account", "owner"]}),
        ("Source", {"fields": ["source", "external_id", "created_at", "attributes"]}),
        (
            "Score",
            {
                "fields": [
                    ("fit_score", "fit_tier"),
                    ("interest_score", "interest_tier"),
                    "total_score",
                    "cell",
                    "stage",
                    "disqualified",
                    "scored_at",
                    "ruleset_version",
                    ("email_domain", "email_is_free"),
                ]
            },
        ),
    ]

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if "@" in term[1:] and " " not in term:
            # An address: the leads whose e-mail begins so, on the e-mail's index (e-mails are
            # stored lower-case); searched like any text, a million leads took 2–4 s. Text
            # inside an address ("smith@acme.com" in "john.smith@acme.com") is still found,
            # the slow way, when no e-mail begins so.
            by_start = queryset.filter(email__startswith=term.lower())
            if by_start.exists():
                return by_start, False
        return super().get_search_results(request, queryset, search_term)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        rescore_leads([obj.pk], reason=ScoreChange.Reason.EDIT)

    @admin.display(description="Name", ordering="last_name")
    def full_name(self, obj: Lead) -> str:
        return obj.full_name


@admin.register(Activity)
class ActivityAdmin(NewestRecordedFirst, CsvImportAdminMixin, admin.ModelAdmin):
    importer = ActivityImport
    list_display = ["occurred_at", "kind", "lead", "url", "source"]
    list_filter = [ActivityKindFilter, ("occurred_at", admin.DateFieldListFilter)]
    search_fields = ["lead__email", "external_id"]
    search_help_text = "The lead's e-mail or the event's id, exactly."
    raw_id_fields = ["lead"]
    list_select_related = ["lead"]
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # a count per kind and date range: tens of seconds

    def get_search_results(self, request, queryset, search_term):
        # Exact matches, each on an index: text anywhere in ten million activities' e-mails
        # and URLs took 27 s. An event id may hold an "@" (e-mail message ids do).
        term = search_term.strip()
        if not term:
            return queryset, False
        return by_lead_address(queryset, term, or_=Q(external_id=term)), False

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        rescore_leads([obj.lead_id], reason=ScoreChange.Reason.ACTIVITY)
