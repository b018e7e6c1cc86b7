from django.contrib import admin
from import_export.admin import ExportMixin

from scoring.models import ScoreChange
from scoring.rulesets import MATRIX_CELLS
from scoring.services import rescore_leads

from .admin_imports import CsvImportAdminMixin
from .imports import ActivityImport, LeadImport
from .models import Account, Activity, Lead
from .resources import LeadScoreResource
from .selectors import activity_kinds

# The lead and activity lists stay quick at a million leads and ten million activities: no
# filter lists its choices with a SELECT DISTINCT over the table (0.4–1.4 s each), the dates are
# filtered by range instead of date_hierarchy (its DISTINCT over every date took 4–5 s), and no
# second count of the whole table runs beside the paginator's.


@admin.display(description="Score", ordering="total_score")
def total_points(obj) -> int:
    """A lead's, handoff's or change's total score as people read it: in whole points (design
    §3), not as 90.601282395…"""
    return round(obj.total_score)


class KnownValuesFilter(admin.SimpleListFilter):
    """A filter whose choices are known without reading the table. An unknown value in the URL
    filters nothing."""

    values: tuple = ()

    def lookups(self, request, model_admin):
        return [(str(value), str(value)) for value in self.values]

    def queryset(self, request, queryset):
        if self.value() not in {str(value) for value in self.values}:
            return queryset
        return queryset.filter(**{self.parameter_name: self.value()})


class CellFilter(KnownValuesFilter):
    title = "cell"
    parameter_name = "cell"
    values = MATRIX_CELLS


class FitTierFilter(KnownValuesFilter):
    title = "fit tier"
    parameter_name = "fit_tier"
    values = ("A", "B", "C")


class InterestTierFilter(KnownValuesFilter):
    title = "interest tier"
    parameter_name = "interest_tier"
    values = (1, 2, 3)


class ActivityKindFilter(KnownValuesFilter):
    title = "kind"
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        # Read once per request: Django asks for the lookups before it filters.
        self.values = tuple(activity_kinds())
        return super().lookups(request, model_admin)


class LeadInline(admin.TabularInline):
    model = Lead
    fields = ["email", "first_name", "last_name", "title", "cell", "total_score", "stage"]
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False

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
class LeadAdmin(ExportMixin, CsvImportAdminMixin, admin.ModelAdmin):
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
        "disqualified",
        FitTierFilter,
        InterestTierFilter,
        "source",
        ("created_at", admin.DateFieldListFilter),
    ]
    search_fields = ["email", "first_name", "last_name", "account__name", "external_id"]
    list_select_related = ["account", "owner"]
    autocomplete_fields = ["account"]
    raw_id_fields = ["owner"]
    show_full_result_count = False
    readonly_fields = [*Lead.SCORE_FIELDS, "email_domain", "email_is_free"]
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
            # An address: leads whose e-mail begins so, on the e-mail's index (e-mails are
            # stored lower-case). Searched like any text, a million leads took 2–4 s.
            return queryset.filter(email__startswith=term.lower()), False
        return super().get_search_results(request, queryset, search_term)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        rescore_leads([obj.pk], reason=ScoreChange.Reason.EDIT)

    @admin.display(description="Name", ordering="last_name")
    def full_name(self, obj: Lead) -> str:
        return obj.full_name


@admin.register(Activity)
class ActivityAdmin(CsvImportAdminMixin, admin.ModelAdmin):
    importer = ActivityImport
    list_display = ["occurred_at", "kind", "lead", "url", "source"]
    list_filter = [ActivityKindFilter, ("occurred_at", admin.DateFieldListFilter)]
    search_fields = ["lead__email", "external_id"]
    search_help_text = "The lead's e-mail or the event's id, exactly."
    raw_id_fields = ["lead"]
    list_select_related = ["lead"]
    show_full_result_count = False
    # Newest recorded first, down the primary key. In occurred_at order (the model's), every
    # page sorted all ten million activities (11 s), and so would a click on any column.
    ordering = ["-pk"]
    sortable_by = []
    show_facets = admin.ShowFacets.NEVER  # a count per kind and date range: tens of seconds

    def get_search_results(self, request, queryset, search_term):
        # Exact matches, each on an index. A search for text anywhere in ten million
        # activities' e-mails and URLs took 27 s.
        term = search_term.strip()
        if not term:
            return queryset, False
        if "@" in term:
            return queryset.filter(lead__email=term.lower()), False
        return queryset.filter(external_id=term), False

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        rescore_leads([obj.lead_id], reason=ScoreChange.Reason.ACTIVITY)
