"""Keep a lead's fit between scorings while nothing it depends on changed.

A lead's fit depends only on the fit rules and on fields of the lead and its account. Scoring
stores the fit rules' digest beside the fit it computed and keeps that fit while the digest
matches (`scoring.sql.score_select`). These triggers clear the digest whenever the fit could
be out of date, whatever writes the row (a form, the API, an import, a queryset update, SQL):
a field fit rules read changes on the lead, the lead moves to another account, or a field fit
rules read changes on the lead's account.

The triggers run after the row is written and clear the digest with an UPDATE of their own:
a BEFORE trigger could clear it in the row being written, but PostgreSQL then locks every row a
statement updates before firing it, which made every rescore write a lock record per lead. They
are only considered for statements that set those columns, so a decay pass or a rescore (which
set only scores) pays nothing for them. Only scoring writes the scores (`Lead.save` leaves them
out), so a stored fit and its digest always come from the same scoring. On SQLite, a later migration that
rebuilds one of these tables drops its triggers: the tests in tests/scoring/test_kept_fit.py
fail if that happens.
"""

from django.db import migrations, models

LEAD_FIELDS = ["title", "source", "email_domain", "email_is_free", "attributes", "account_id"]
ACCOUNT_FIELDS = [
    "industry",
    "country",
    "funding_stage",
    "employee_count",
    "annual_revenue",
    "technologies",
]


def _changed(fields: list[str], differs: str) -> str:
    return " OR ".join(f"OLD.{f} {differs} NEW.{f}" for f in fields)


POSTGRES = [
    """CREATE FUNCTION leads_lead_forget_fit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE leads_lead SET fit_rules_digest = NULL WHERE id = NEW.id;
            RETURN NULL;
        END $$""",
    f"""CREATE TRIGGER lead_fit_inputs_changed
        AFTER UPDATE OF {", ".join(LEAD_FIELDS)} ON leads_lead FOR EACH ROW
        WHEN ({_changed(LEAD_FIELDS, "IS DISTINCT FROM")})
        EXECUTE FUNCTION leads_lead_forget_fit()""",
    """CREATE FUNCTION leads_account_forget_fit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE leads_lead SET fit_rules_digest = NULL
            WHERE account_id = NEW.id AND fit_rules_digest IS NOT NULL;
            RETURN NULL;
        END $$""",
    f"""CREATE TRIGGER account_fit_inputs_changed
        AFTER UPDATE OF {", ".join(ACCOUNT_FIELDS)} ON leads_account FOR EACH ROW
        WHEN ({_changed(ACCOUNT_FIELDS, "IS DISTINCT FROM")})
        EXECUTE FUNCTION leads_account_forget_fit()""",
]
POSTGRES_REVERSE = [
    "DROP TRIGGER account_fit_inputs_changed ON leads_account",
    "DROP FUNCTION leads_account_forget_fit()",
    "DROP TRIGGER lead_fit_inputs_changed ON leads_lead",
    "DROP FUNCTION leads_lead_forget_fit()",
]

SQLITE = [
    f"""CREATE TRIGGER lead_fit_inputs_changed
        AFTER UPDATE OF {", ".join(LEAD_FIELDS)} ON leads_lead FOR EACH ROW
        WHEN {_changed(LEAD_FIELDS, "IS NOT")}
        BEGIN UPDATE leads_lead SET fit_rules_digest = NULL WHERE id = NEW.id; END""",
    f"""CREATE TRIGGER account_fit_inputs_changed
        AFTER UPDATE OF {", ".join(ACCOUNT_FIELDS)} ON leads_account FOR EACH ROW
        WHEN {_changed(ACCOUNT_FIELDS, "IS NOT")}
        BEGIN UPDATE leads_lead SET fit_rules_digest = NULL
              WHERE account_id = NEW.id AND fit_rules_digest IS NOT NULL; END""",
]
SQLITE_REVERSE = [
    "DROP TRIGGER account_fit_inputs_changed",
    "DROP TRIGGER lead_fit_inputs_changed",
]


def _run(statements: dict[str, list[str]]):
    def run(apps, schema_editor):
        for statement in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("leads", "0007_activity_lead_index_covers_the_id")]

    operations = [
        migrations.AddField(
            model_name="lead",
            name="fit_rules_digest",
            field=models.BigIntegerField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(
            _run({"postgresql": POSTGRES, "sqlite": SQLITE}),
            _run({"postgresql": POSTGRES_REVERSE, "sqlite": SQLITE_REVERSE}),
            elidable=False,
        ),
    ]
