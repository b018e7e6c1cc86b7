"""Create the Marketing, SDR and Manager groups with their permissions."""

from django.db import migrations


def create_roles(apps, schema_editor):
    from feedback.roles import grant_role_permissions

    grant_role_permissions(apps)


def remove_roles(apps, schema_editor):
    from feedback.roles import ROLES

    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("feedback", "0001_initial"),
        ("leads", "0001_initial"),
        ("scoring", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
