"""Give the roles their permissions on handoffs and score flags."""

from django.db import migrations


def grant(apps, schema_editor):
    from feedback.roles import grant_role_permissions

    grant_role_permissions(apps)


class Migration(migrations.Migration):
    dependencies = [("feedback", "0003_handoffs")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
