"""Keep a lead's fit between scorings while nothing it depends on changed: the digest of the fit
rules that computed a lead's fit, and the triggers that clear it (as they were then: frozen in
`_fit_triggers_0008`, since `leads.fit_triggers` has moved on)."""

from django.db import migrations, models

from . import _fit_triggers_0008 as fit_triggers


class Migration(migrations.Migration):
    dependencies = [("leads", "0007_activity_lead_index_covers_the_id")]

    operations = [
        migrations.AddField(
            model_name="lead",
            name="fit_rules_digest",
            field=models.BigIntegerField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(fit_triggers.create, fit_triggers.drop, elidable=False),
    ]
