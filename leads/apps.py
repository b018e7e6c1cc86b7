from django.apps import AppConfig


class LeadsConfig(AppConfig):
    name = "leads"
    verbose_name = "Leads and activity"

    def ready(self) -> None:
        from . import lookups  # noqa: F401  registers `__any`
