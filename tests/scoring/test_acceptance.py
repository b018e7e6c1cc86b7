"""Issue acceptance: load_ruleset --publish, CSV imports, rescore --as-of --sync, export_scores —
checked against a small reference implementation of design §3 written here from the text,
sharing no code with the product."""

import csv
import io
import json
import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import call_command

SAMPLE_PATH = Path(__file__).parent / "sample_ruleset.json"
T = datetime(2026, 6, 1, tzinfo=UTC)
FREE = {"gmail.com", "yahoo.com", "outlook.com"}

pytestmark = pytest.mark.django_db


# The reference: design §3, literally. ---------------------------------------------------------


def ref_fit_value(lead, field):
    if field.startswith("attributes."):
        return None
    if field == "email_domain":
        return lead["email"].split("@")[1]
    if field == "email_is_free":
        return lead["email"].split("@")[1] in FREE
    return lead.get(field)


def ref_fit_match(rule, value):
    op = rule["operator"]
    missing = value is None or value == "" or value == []
    if op == "is_blank":
        return missing
    if missing:
        return False
    if op == "contains_any":
        return any(
            re.search(rf"(?<!\w){re.escape(w)}(?!\w)", value, re.IGNORECASE) for w in rule["values"]
        )
    if op == "equals_any":
        return str(value).strip().lower() in [v.strip().lower() for v in rule["values"]]
    if op == "between":
        lo, hi = rule.get("min"), rule.get("max")
        return (lo is None or value >= lo) and (hi is None or value <= hi)
    if op == "includes_any":
        return any(v.lower() in [x.lower() for x in value] for v in rule["values"])
    return value is (op == "is_true")


def first_match_total(rules, matched, value_of):
    total, used_groups = 0.0, set()
    for rule in sorted(rules, key=lambda r: r.get("order", 0)):
        if not matched(rule):
            continue
        group = rule.get("group")
        if group:
            if group in used_groups:
                continue
            used_groups.add(group)
        total += value_of(rule)
    return total


def ref_interest(ruleset, activities):
    hl = ruleset["half_life_days"]

    def matching(rule):
        m = []
        for kind, when, url in activities:
            age = (T - when).total_seconds() / 86400
            if kind != rule["kind"] or when > T:
                continue
            if rule.get("window_days") and not when > T - timedelta(days=rule["window_days"]):
                continue
            urls = rule.get("url_contains") or []
            if urls and not any(u.lower() in url.lower() for u in urls):
                continue
            m.append(age)
        return sorted(m)  # youngest first

    def decay(rule, age):
        return 0.5 ** (age / hl) if rule.get("decays", True) else 1.0

    def matched(rule):
        m = matching(rule)
        return len(m) >= rule.get("min_count", 1) if rule["mode"] == "once" else bool(m)

    def value(rule):
        m = matching(rule)
        if rule["mode"] == "once":
            return rule["points"] * decay(rule, m[0])
        return sum(rule["points"] * decay(rule, a) for a in m[: rule.get("max_count") or None])

    return first_match_total(ruleset["behavior_rules"], matched, value)


def ref_score(ruleset, lead, activities):
    fit = first_match_total(
        ruleset["fit_rules"],
        lambda r: ref_fit_match(r, ref_fit_value(lead, r["field"])),
        lambda r: r["points"],
    )
    interest = ref_interest(ruleset, activities)
    fit_tier = "A" if fit >= ruleset["fit_high"] else "B" if fit >= ruleset["fit_medium"] else "C"
    it = (
        1
        if interest >= ruleset["interest_high"]
        else 2
        if interest >= ruleset["interest_medium"]
        else 3
    )
    disq = any(
        r.get("disqualify") and ref_fit_match(r, ref_fit_value(lead, r["field"]))
        for r in ruleset["fit_rules"]
    )
    return fit, interest, f"{fit_tier}{it}", disq


# Unseen data ------------------------------------------------------------------------------------


def make_data(seed: int):
    rng = random.Random(seed)
    titles = [
        "VP Sales",
        "Director, IT",
        "Student",
        "Marketing Manager",
        "CTO",
        "Intern",
        "Chief Revenue Officer",
        "Analyst",
        "",
        "Senior Vice President",
    ]
    leads, activities, companies = [], [], {}
    for n in range(60):
        domain = rng.choice(["gmail.com", f"co{n % 7}.com", "rivalco.com", f"firm{n}.io"])
        # Company details belong to the account: leads at one domain share them.
        company = companies.setdefault(
            domain if domain not in FREE else n,
            {
                "industry": rng.choice(["Software", "logistics", "Retail", "", "FinTech"]),
                "employee_count": rng.choice([None, 5, 19, 20, 50, 500, 501, 2000, 4999, 5000]),
                "country": rng.choice(["US", "CA", "DE", ""]),
            },
        )
        lead = {"email": f"person{n}@{domain}", "title": rng.choice(titles), **company}
        leads.append(lead)
        for k in range(rng.choice([0, 1, 3, 8, 20])):
            kind, url = rng.choice(
                [
                    ("page_view", "/pricing"),
                    ("page_view", "/careers/x"),
                    ("page_view", "/blog"),
                    ("demo_request", ""),
                    ("email_open", ""),
                    ("email_click", ""),
                    ("content_download", "/case-studies/acme"),
                    ("webinar_attended", ""),
                    ("trial_signup", ""),
                    ("unsubscribe", ""),
                    ("content_download", "/ebooks/x"),
                ]
            )
            when = T - timedelta(days=rng.uniform(-0.5, 90))
            activities.append((lead["email"], kind, when, url, f"x{n}-{k}"))
    return leads, activities


def test_export_after_publish_import_and_rescore_matches_the_reference(tmp_path):
    ruleset = json.loads(SAMPLE_PATH.read_text())
    leads, activities = make_data(seed=20260601)

    leads_csv = io.StringIO()
    w = csv.writer(leads_csv)
    w.writerow(["email", "title", "company_domain", "industry", "employee_count", "country"])
    for lead in leads:
        domain = lead["email"].split("@")[1]
        w.writerow(
            [
                lead["email"],
                lead["title"],
                "" if domain in FREE else domain,
                lead["industry"],
                lead["employee_count"] or "",
                lead["country"],
            ]
        )
    acts_csv = io.StringIO()
    w = csv.writer(acts_csv)
    w.writerow(["email", "kind", "occurred_at", "url", "source", "external_id"])
    for email, kind, when, url, ext in activities:
        if when <= T + timedelta(hours=24) and when < datetime.now(UTC):
            w.writerow([email, kind, when.isoformat(), url, "test", ext])
    (tmp_path / "leads.csv").write_text(leads_csv.getvalue())
    (tmp_path / "acts.csv").write_text(acts_csv.getvalue())

    quiet = {"stdout": io.StringIO(), "stderr": io.StringIO()}
    call_command("load_ruleset", str(SAMPLE_PATH), "--publish", **quiet)
    call_command("import_leads", str(tmp_path / "leads.csv"), **quiet)
    call_command("import_activities", str(tmp_path / "acts.csv"), **quiet)
    call_command("rescore", "--as-of", T.isoformat(), "--sync", **quiet)
    out = io.StringIO()
    call_command("export_scores", stdout=out)
    exported = {row["email"]: row for row in csv.DictReader(io.StringIO(out.getvalue()))}

    assert len(exported) == len(leads)
    for lead in leads:
        mine = [(k, w, u) for e, k, w, u, _ in activities if e == lead["email"]]
        fit, interest, cell, disq = ref_score(ruleset, lead, mine)
        row = exported[lead["email"]]
        assert float(row["fit_score"]) == pytest.approx(fit, abs=0.01), lead
        assert float(row["interest_score"]) == pytest.approx(interest, abs=0.01), lead
        assert float(row["total_score"]) == pytest.approx(fit + interest, abs=0.01)
        assert row["cell"] == cell
        assert row["action"] == ruleset["matrix"][cell]
        assert row["disqualified"] == ("true" if disq else "false")
