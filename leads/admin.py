from django.contrib import admin
from import_export.admin import ExportMixin

from scoring.models import ScoreChange
from scoring.services import rescore_leads

from .admin_imports import CsvImportAdminMixin
from .imports import ActivityImport, LeadImport
from .models import Account, Activity, Lead
from .resources import LeadScoreResource


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
        "rounded_total",
        "stage",
        "disqualified",
        "owner",
        "created_at",
    ]
    list_filter = ["cell", "stage", "disqualified", "fit_tier", "interest_tier", "source"]
    search_fields = ["email", "first_name", "last_name", "account__name", "external_id"]
    list_select_related = ["account", "owner"]
    autocomplete_fields = ["account"]
    raw_id_fields = ["owner"]
    date_hierarchy = "created_at"
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

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        rescore_leads([obj.pk], reason=ScoreChange.Reason.EDIT)

    @admin.display(description="Name", ordering="last_name")
    def full_name(self, obj: Lead) -> str:
        return obj.full_name

    @admin.display(description="Score", ordering="total_score")
    def rounded_total(self, obj: Lead) -> int:
        return round(obj.total_score)


@admin.register(Activity)
class ActivityAdmin(CsvImportAdminMixin, admin.ModelAdmin):
    importer = ActivityImport
    list_display = ["occurred_at", "kind", "lead", "url", "source"]
    list_filter = ["kind", "source"]
    search_fields = ["lead__email", "url", "external_id"]
    raw_id_fields = ["lead"]
    list_select_related = ["lead"]
    date_hierarchy = "occurred_at"
    # Counting ten million rows for the paginator is slower than the page itself.
    show_full_result_count = False

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        rescore_leads([obj.lead_id], reason=ScoreChange.Reason.ACTIVITY)
