from django.contrib import admin

from .models import SdrProfile


@admin.register(SdrProfile)
class SdrProfileAdmin(admin.ModelAdmin):
    list_display = ["__str__", "active", "accepting_leads", "created_at"]
    list_filter = ["active", "accepting_leads"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "user__email"]
    list_select_related = ["user"]
