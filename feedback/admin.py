from django.contrib import admin

from leads.admin_imports import CsvImportAdminMixin
from leads.admin_lists import total_points

from . import services
from .imports import OutcomeImport
from .models import Handoff, HandoffContribution, Outcome, ScoreFlag, SdrProfile


@admin.register(SdrProfile)
class SdrProfileAdmin(admin.ModelAdmin):
    list_display = ["__str__", "active", "accepting_leads", "created_at"]
    list_filter = ["active", "accepting_leads"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "user__email"]
    list_select_related = ["user"]


@admin.register(Outcome)
class OutcomeAdmin(CsvImportAdminMixin, admin.ModelAdmin):
    importer = OutcomeImport
    list_display = ["occurred_at", "type", "lead", "amount", "external_id"]
    list_filter = ["type"]
    search_fields = ["lead__email", "external_id"]
    raw_id_fields = ["lead"]
    list_select_related = ["lead"]
    date_hierarchy = "occurred_at"


class HandoffContributionInline(admin.TabularInline):
    model = HandoffContribution
    fields = ["rule", "kind", "value"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "rules in the score at handoff"

    def has_view_permission(self, request, obj=None) -> bool:
        # Part of the handoff: whoever may read the handoff reads its rules.
        return request.user.has_perm("feedback.view_handoff")


@admin.register(Handoff)
class HandoffAdmin(admin.ModelAdmin):
    """Every MQL episode, to audit and to re-derive the calibration's figures by hand. Read-only:
    handoffs are worked in the queue, whose services keep stages and SLAs consistent."""

    list_display = [
        "created_at",
        "lead",
        "cell",
        "mql_class",
        total_points,
        "assigned_to",
        "disposition",
        "dispositioned_by",
        "dispositioned_at",
    ]
    list_filter = ["disposition", "mql_class", "cell", "assigned_to"]
    search_fields = ["lead__email", "lead__first_name", "lead__last_name", "note"]
    date_hierarchy = "created_at"
    list_select_related = ["lead", "assigned_to", "dispositioned_by"]
    exclude = ["contributions", "rank"]  # the snapshot's rules are shown as rows below
    inlines = [HandoffContributionInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ScoreFlag)
class ScoreFlagAdmin(admin.ModelAdmin):
    """SDRs' "this score is wrong", for marketing to read next to the rules."""

    list_display = ["created_at", "lead", "direction", total_points, "reason", "flagged_by"]
    list_display_links = ["created_at", "lead"]
    list_filter = ["direction", ("resolved_at", admin.EmptyFieldListFilter)]
    search_fields = ["lead__email", "reason"]
    list_select_related = ["lead", "flagged_by"]
    readonly_fields = [
        "lead",
        "handoff",
        "direction",
        "reason",
        "total_score",
        "flagged_by",
        "created_at",
        "resolved_at",
    ]
    actions = ["resolve"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Mark the selected flags resolved", permissions=["change"])
    def resolve(self, request, queryset):
        count = services.resolve_flags(queryset.values_list("pk", flat=True))
        self.message_user(request, f"{count} flag{'s' if count != 1 else ''} resolved.")
