"""A lead's scores move out of leads_lead into a narrow table of their own, leads_leadscore.

A full rescore rewrites about every lead's scores: in a table of their own it writes and reads
~94-byte rows instead of the lead's ~224 bytes. Every lead has exactly one score row: the
scores are copied over, and from here on a trigger inserts the row of each new lead, whatever
inserts it (the ORM, bulk_create, COPY), with the database defaults: an unscored C3. The fit
triggers (`leads.fit_triggers`) now clear the digest on the score rows.
"""

import django.db.models.deletion
from django.db import migrations, models

from leads import fit_triggers

from . import _fit_triggers_0008

FILLFACTOR = 45  # as leads_lead had (leads.0002): room in each page for a row's next version

_SCORE_COLUMNS = (
    "fit_score, interest_score, total_score, fit_tier, interest_tier, cell, disqualified, "
    "scored_at, ruleset_version, fit_rules_digest"
)

# A statement-level trigger on PostgreSQL: one INSERT per statement that inserted leads, not one
# per lead (a million-lead COPY stays one statement).
_POSTGRES_SCORE_ROWS = [
    """CREATE FUNCTION leads_lead_add_score() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO leads_leadscore (lead_id) SELECT id FROM new_leads;
            RETURN NULL;
        END $$""",
    """CREATE TRIGGER lead_score_row AFTER INSERT ON leads_lead
        REFERENCING NEW TABLE AS new_leads FOR EACH STATEMENT
        EXECUTE FUNCTION leads_lead_add_score()""",
]
_SQLITE_SCORE_ROWS = [
    """CREATE TRIGGER lead_score_row AFTER INSERT ON leads_lead FOR EACH ROW
        BEGIN INSERT INTO leads_leadscore (lead_id) VALUES (NEW.id); END""",
]
_DROP_SCORE_ROWS = {
    "postgresql": [
        "DROP TRIGGER lead_score_row ON leads_lead",
        "DROP FUNCTION leads_lead_add_score()",
    ],
    "sqlite": ["DROP TRIGGER lead_score_row"],
}


def create_score_row_trigger(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = {"postgresql": _POSTGRES_SCORE_ROWS, "sqlite": _SQLITE_SCORE_ROWS}
    for statement in statements.get(vendor, []):
        schema_editor.execute(statement)


def drop_score_row_trigger(apps, schema_editor):
    for statement in _DROP_SCORE_ROWS.get(schema_editor.connection.vendor, []):
        schema_editor.execute(statement)


def set_fillfactor(apps, schema_editor):
    # Before the copy, so the copied rows are laid out with the room already.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE leads_leadscore SET (fillfactor = {FILLFACTOR})")


def _check_constraints_now(schema_editor):
    # The foreign keys are checked at commit; checked now, no trigger event is left pending,
    # which would make PostgreSQL refuse this migration's later ALTER TABLEs.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        schema_editor.execute("SET CONSTRAINTS ALL DEFERRED")


def copy_scores(apps, schema_editor):
    schema_editor.execute(
        f"INSERT INTO leads_leadscore (lead_id, {_SCORE_COLUMNS}) "
        f"SELECT id, {_SCORE_COLUMNS} FROM leads_lead"
    )
    _check_constraints_now(schema_editor)
    if schema_editor.connection.vendor == "postgresql":
        # The first rescore's plan is made from these statistics, not from an empty table's.
        schema_editor.execute("ANALYZE leads_leadscore")


def copy_scores_back(apps, schema_editor):
    columns = [c.strip() for c in _SCORE_COLUMNS.split(",")]
    assignments = ", ".join(f"{c} = s.{c}" for c in columns)
    schema_editor.execute(
        f"UPDATE leads_lead SET {assignments} FROM leads_leadscore s WHERE s.lead_id = leads_lead.id"
    )
    _check_constraints_now(schema_editor)


class Migration(migrations.Migration):
    dependencies = [("leads", "0008_lead_fit_rules_digest")]

    operations = [
        migrations.RunPython(_fit_triggers_0008.drop, _fit_triggers_0008.create, elidable=False),
        migrations.CreateModel(
            name="LeadScore",
            fields=[
                (
                    "lead",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="score",
                        serialize=False,
                        to="leads.lead",
                    ),
                ),
                ("fit_score", models.FloatField(db_default=0, default=0, editable=False)),
                ("interest_score", models.FloatField(db_default=0, default=0, editable=False)),
                ("total_score", models.FloatField(db_default=0, default=0, editable=False)),
                (
                    "fit_tier",
                    models.CharField(db_default="C", default="C", editable=False, max_length=1),
                ),
                (
                    "interest_tier",
                    models.PositiveSmallIntegerField(db_default=3, default=3, editable=False),
                ),
                (
                    "cell",
                    models.CharField(db_default="C3", default="C3", editable=False, max_length=2),
                ),
                (
                    "disqualified",
                    models.BooleanField(db_default=False, default=False, editable=False),
                ),
                ("scored_at", models.DateTimeField(blank=True, editable=False, null=True)),
                (
                    "ruleset_version",
                    models.PositiveIntegerField(blank=True, editable=False, null=True),
                ),
                ("fit_rules_digest", models.BigIntegerField(blank=True, editable=False, null=True)),
            ],
        ),
        migrations.RunPython(set_fillfactor, migrations.RunPython.noop, elidable=False),
        migrations.RunPython(copy_scores, copy_scores_back, elidable=False),
        migrations.AddIndex(
            model_name="leadscore",
            index=models.Index(fields=["cell", "disqualified"], name="leadscore_cell_idx"),
        ),
        migrations.RemoveIndex(
            model_name="lead",
            name="lead_cell_idx",
        ),
        migrations.RemoveField(
            model_name="lead",
            name="cell",
        ),
        migrations.RemoveField(
            model_name="lead",
            name="disqualified",
        ),
        migrations.RemoveField(
            model_name="lead",
            name="fit_rules_digest",
        ),
        migrations.RemoveField(
            model_name="lead",
            name="fit_score",
        ),
        migrations.RemoveField(
            model_name="lead",
            name="fit_tier",
        ),
        migrations.RemoveField(
            model_name="lead",
            name="interest_score",
        ),
        migrations.RemoveField(
            model_name="lead",
            name="interest_tier",
        ),
        migrations.RemoveField(
            model_name="lead",
            name="ruleset_version",
        ),
        migrations.RemoveField(
            model_name="lead",
            name="scored_at",
        ),
        migrations.RemoveField(
            model_name="lead",
            name="total_score",
        ),
        migrations.RunPython(create_score_row_trigger, drop_score_row_trigger, elidable=False),
        migrations.RunPython(fit_triggers.create, fit_triggers.drop, elidable=False),
    ]
