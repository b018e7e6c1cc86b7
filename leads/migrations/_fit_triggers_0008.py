"""The fit triggers as migration leads.0008 created them, frozen here: `leads.fit_triggers` now
writes the digest on leads_leadscore (leads.0009 drops these and creates those). Private (the
`_` prefix): Django's migration loader skips it.
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


def _changed(fields, differs: str, as_text: bool = False) -> str:
    def column(row: str, name: str) -> str:
        return f"{row}.{name}::text" if as_text and name in _JSON_FIELDS else f"{row}.{name}"

    return " OR ".join(f"{column('OLD', f)} {differs} {column('NEW', f)}" for f in fields)


_POSTGRES_CREATE = [
    """CREATE FUNCTION leads_lead_forget_fit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE leads_lead SET fit_rules_digest = NULL WHERE id = NEW.id;
            RETURN NULL;
        END $$""",
    f"""CREATE TRIGGER lead_fit_inputs_changed
        AFTER UPDATE OF {", ".join(LEAD_FIELDS)} ON leads_lead FOR EACH ROW
        WHEN (NEW.fit_rules_digest IS NOT NULL
              AND ({_changed(LEAD_FIELDS, "IS DISTINCT FROM", as_text=True)}))
        EXECUTE FUNCTION leads_lead_forget_fit()""",
    """CREATE TRIGGER lead_fit_written_unscored
        AFTER UPDATE OF fit_score, disqualified ON leads_lead FOR EACH ROW
        WHEN (NEW.fit_rules_digest IS NOT NULL
              AND OLD.fit_rules_digest = NEW.fit_rules_digest
              AND (OLD.fit_score IS DISTINCT FROM NEW.fit_score
                   OR OLD.disqualified IS DISTINCT FROM NEW.disqualified))
        EXECUTE FUNCTION leads_lead_forget_fit()""",
    """CREATE FUNCTION leads_account_forget_fit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE leads_lead SET fit_rules_digest = NULL WHERE account_id = NEW.id;
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
    "DROP TRIGGER lead_fit_written_unscored ON leads_lead",
    "DROP TRIGGER lead_fit_inputs_changed ON leads_lead",
    "DROP FUNCTION leads_lead_forget_fit()",
]

_SQLITE_FORGET_LEAD = "BEGIN UPDATE leads_lead SET fit_rules_digest = NULL WHERE id = NEW.id; END"
_SQLITE_CREATE = [
    f"""CREATE TRIGGER lead_fit_inputs_changed
        AFTER UPDATE OF {", ".join(LEAD_FIELDS)} ON leads_lead FOR EACH ROW
        WHEN NEW.fit_rules_digest IS NOT NULL AND ({_changed(LEAD_FIELDS, "IS NOT")})
        {_SQLITE_FORGET_LEAD}""",
    f"""CREATE TRIGGER lead_fit_written_unscored
        AFTER UPDATE OF fit_score, disqualified ON leads_lead FOR EACH ROW
        WHEN NEW.fit_rules_digest IS NOT NULL
             AND OLD.fit_rules_digest = NEW.fit_rules_digest
             AND (OLD.fit_score IS NOT NEW.fit_score OR OLD.disqualified IS NOT NEW.disqualified)
        {_SQLITE_FORGET_LEAD}""",
    f"""CREATE TRIGGER account_fit_inputs_changed
        AFTER UPDATE OF {", ".join(ACCOUNT_FIELDS)} ON leads_account FOR EACH ROW
        WHEN {_changed(ACCOUNT_FIELDS, "IS NOT")}
        BEGIN UPDATE leads_lead SET fit_rules_digest = NULL WHERE account_id = NEW.id; END""",
]
_SQLITE_DROP = [
    "DROP TRIGGER account_fit_inputs_changed",
    "DROP TRIGGER lead_fit_written_unscored",
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
