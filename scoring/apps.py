from django.apps import AppConfig
from django.db.backends.signals import connection_created


def _lower(value):
    if value is None:
        return None
    return (value.decode(errors="replace") if isinstance(value, bytes) else str(value)).lower()


def unicode_lower_on_sqlite(sender, connection, **kwargs) -> None:
    """SQLite's lower() folds only ASCII letters: a rule for "über" missed "/ÜBER/uns" there,
    while the engine and PostgreSQL match it. The demo and the unit tests run on SQLite."""
    if connection.vendor == "sqlite":
        connection.connection.create_function("lower", 1, _lower, deterministic=True)


class ScoringConfig(AppConfig):
    name = "scoring"
    verbose_name = "Lead scoring"

    def ready(self) -> None:
        connection_created.connect(unicode_lower_on_sqlite)
