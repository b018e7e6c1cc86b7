from django.contrib import admin

from leads.admin_imports import CsvImportAdminMixin

from .imports import OutcomeImport
from .models import Outcome, SdrProfile


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
