"""Leave room in every page of leads_lead for a row's next version (PostgreSQL only).

A rescore rewrites the scoring columns of most leads. With free space in the page, and no
index on a score column, PostgreSQL writes the new version beside the old one without touching
any index (a HOT update); in a full page every update also inserts into each of the table's
indexes. The setting applies to pages written from now on; `VACUUM FULL leads_lead` applies it
to an existing table.
"""

from django.db import migrations

FILLFACTOR = 45


def set_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE leads_lead SET (fillfactor = {FILLFACTOR})")


def reset_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE leads_lead RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("leads", "0001_initial")]

    operations = [migrations.RunPython(set_fillfactor, reset_fillfactor, elidable=False)]
