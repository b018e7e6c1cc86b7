"""The triggers that tell scoring when a lead's stored fit may be out of date.

A lead's fit depends only on the fit rules and on fields of the lead and its account. Scoring
stores a digest of the fit rules beside the fit it computed, on the lead's score row
(leads_leadscore), and keeps that fit while the digest matches (`scoring.sql.score_select`).
These triggers clear the digest whenever the fit could be out of date, whatever writes the row
(a form, the API, an import, a queryset update, SQL):

- a field fit rules read changes on the lead, or the lead moves to another account: the lead's
  score row is written;
- a field fit rules read changes on the lead's account: the score rows of every lead of the
  account are written;
- fit_score or disqualified is written on a score row without the digest changing: anything
  but scoring, which writes them with the digest (a data fix, a test resetting scores).

The first two write the score rows even when their digest is already clear: a rescore that read
a score row before the change and stores after it sees the row changed (its row version,
`seen_version`) and stores no digest for a fit computed from the old fields.

They run after the row is written and clear the digest with an UPDATE of their own: a BEFORE
trigger could clear it in the row being written, but PostgreSQL then locks every row a statement
updates before looking at the trigger, which made every rescore write a lock record per lead.
The input triggers are not even considered for a statement that sets none of their columns.

Created by migration leads.0009 (leads.0008 created the earlier ones, which wrote the digest on
leads_lead). A later migration that rebuilds leads_lead, leads_account or leads_leadscore on
SQLite (most AlterFields), or alters a column they name on PostgreSQL, fails while they exist:
wrap it in `RunPython(drop, create)` ... `RunPython(create, drop)`. A change to them needs a
migration that drops these and creates the new ones, with these frozen in the migrations package
(as `leads/migrations/_fit_triggers_0008.py` holds leads.0008's).
"""

LEAD_FIELDS = ("title", "source", "email_domain", "email_is_free", "attributes", "account_id")
ACCOUNT_FIELDS = (
    "industry",
    "country",
    "funding_stage",
    "employee_count",
    "annual_revenue",
    "technologies",
)
# PostgreSQL's jsonb equality calls 1 and 1.0 equal, while fit rules read them as the texts
# "1" and "1.0": these are compared as text there.
_JSON_FIELDS = ("attributes", "technologies")

_FIT_WRITTEN_UNSCORED = """(NEW.fit_rules_digest IS NOT NULL
        AND OLD.fit_rules_digest = NEW.fit_rules_digest
        AND (OLD.fit_score {differs} NEW.fit_score
             OR OLD.disqualified {differs} NEW.disqualified))"""
_FORGET_LEAD = "UPDATE leads_leadscore SET fit_rules_digest = NULL WHERE lead_id = NEW.{id};"
_FORGET_ACCOUNT = (
    "UPDATE leads_leadscore SET fit_rules_digest = NULL "
    "WHERE lead_id IN (SELECT id FROM leads_lead WHERE account_id = NEW.id);"
)


def _changed(fields, differs: str, as_text: bool = False) -> str:
    def column(row: str, name: str) -> str:
        return f"{row}.{name}::text" if as_text and name in _JSON_FIELDS else f"{row}.{name}"

    return " OR ".join(f"{column('OLD', f)} {differs} {column('NEW', f)}" for f in fields)


_POSTGRES_CREATE = [
    f"""CREATE FUNCTION leads_lead_forget_fit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            {_FORGET_LEAD.format(id="id")}
            RETURN NULL;
        END $$""",
    f"""CREATE TRIGGER lead_fit_inputs_changed
        AFTER UPDATE OF {", ".join(LEAD_FIELDS)} ON leads_lead FOR EACH ROW
        WHEN ({_changed(LEAD_FIELDS, "IS DISTINCT FROM", as_text=True)})
        EXECUTE FUNCTION leads_lead_forget_fit()""",
    f"""CREATE FUNCTION leads_leadscore_forget_fit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            {_FORGET_LEAD.format(id="lead_id")}
            RETURN NULL;
        END $$""",
    f"""CREATE TRIGGER leadscore_fit_written_unscored
        AFTER UPDATE OF fit_score, disqualified ON leads_leadscore FOR EACH ROW
        WHEN {_FIT_WRITTEN_UNSCORED.format(differs="IS DISTINCT FROM")}
        EXECUTE FUNCTION leads_leadscore_forget_fit()""",
    f"""CREATE FUNCTION leads_account_forget_fit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            {_FORGET_ACCOUNT}
            RETURN NULL;
        END $$""",
    f"""CREATE TRIGGER account_fit_inputs_changed
        AFTER UPDATE OF {", ".join(ACCOUNT_FIELDS)} ON leads_account FOR EACH ROW
        WHEN ({_changed(ACCOUNT_FIELDS, "IS DISTINCT FROM", as_text=True)})
        EXECUTE FUNCTION leads_account_forget_fit()""",
]
_POSTGRES_DROP = [
    "DROP TRIGGER account_fit_inputs_changed ON leads_account",
    "DROP FUNCTION leads_account_forget_fit()",
    "DROP TRIGGER leadscore_fit_written_unscored ON leads_leadscore",
    "DROP FUNCTION leads_leadscore_forget_fit()",
    "DROP TRIGGER lead_fit_inputs_changed ON leads_lead",
    "DROP FUNCTION leads_lead_forget_fit()",
]

_SQLITE_CREATE = [
    f"""CREATE TRIGGER lead_fit_inputs_changed
        AFTER UPDATE OF {", ".join(LEAD_FIELDS)} ON leads_lead FOR EACH ROW
        WHEN {_changed(LEAD_FIELDS, "IS NOT")}
        BEGIN {_FORGET_LEAD.format(id="id")} END""",
    f"""CREATE TRIGGER leadscore_fit_written_unscored
        AFTER UPDATE OF fit_score, disqualified ON leads_leadscore FOR EACH ROW
        WHEN {_FIT_WRITTEN_UNSCORED.format(differs="IS NOT")}
        BEGIN {_FORGET_LEAD.format(id="lead_id")} END""",
    f"""CREATE TRIGGER account_fit_inputs_changed
        AFTER UPDATE OF {", ".join(ACCOUNT_FIELDS)} ON leads_account FOR EACH ROW
        WHEN {_changed(ACCOUNT_FIELDS, "IS NOT")}
        BEGIN {_FORGET_ACCOUNT} END""",
]
_SQLITE_DROP = [
    "DROP TRIGGER account_fit_inputs_changed",
    "DROP TRIGGER leadscore_fit_written_unscored",
    "DROP TRIGGER lead_fit_inputs_changed",
]

_STATEMENTS = {
    "postgresql": (_POSTGRES_CREATE, _POSTGRES_DROP),
    "sqlite": (_SQLITE_CREATE, _SQLITE_DROP),
}


def create(apps, schema_editor) -> None:
    """RunPython: create the triggers (on a database scoring supports)."""
    for statement in _STATEMENTS.get(schema_editor.connection.vendor, ([], []))[0]:
        schema_editor.execute(statement)


def drop(apps, schema_editor) -> None:
    """RunPython: drop the triggers."""
    for statement in _STATEMENTS.get(schema_editor.connection.vendor, ([], []))[1]:
        schema_editor.execute(statement)
