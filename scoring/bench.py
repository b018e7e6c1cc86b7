"""The benchmark of contract §6: generate a large, realistic data set once, then time what users
wait for — the full rescore against a hand-written SQL floor, the decay pass, API ingest, the
queue and calibration pages — and write the figures to BENCHMARKS.md with the machine.

It writes to every lead, so it refuses a database that holds anything but its own data: point
DATABASE_URL at a database of its own. The generated set is recognised by its e-mails
(`bench-…`) and activity source (`bench`), and reused when its size matches.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import platform
import random
import resource
import statistics
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from itertools import accumulate, islice
from pathlib import Path

from django.contrib.auth.models import Group, User
from django.contrib.staticfiles.storage import staticfiles_storage
from django.db import DatabaseError, connection, transaction
from django.db.models import Count, Max
from django.test import Client
from django.test.utils import override_settings
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from api.services import create_token
from feedback.models import Disposition, Handoff, MqlClass, SdrProfile
from feedback.roles import MANAGER, SDR
from feedback.services import close_finished_months
from leads.models import Account, Activity, Lead, LeadScore, Stage

from .models import RuleSet, ScoreChange
from .rulesets import DEFAULT_RULESET_PATH, parse_ruleset, ruleset_to_dict
from .services import (
    decay_scores,
    load_default_ruleset,
    refresh_planner_statistics,
    start_rescore,
    vacuum_scores,
)
from .sql import LeadSelection, dialect_for, score_select

EMAIL_PREFIX = "bench-"  # every generated lead's e-mail starts so; nothing else may be there
SOURCE = "bench"  # the generated activities
INGEST_SOURCE = "bench-api"  # activities the ingest figures post; removed after each run
ACCOUNT_SUFFIX = ".bench.example"
BATCH_SIZE = 1000  # the API's largest batch
INGEST_LEADS = 2000  # the ingest figures post activities for these leads, picked at random
SDR_COUNT = 5
PAGE_REQUESTS = 200  # per repeat and page: enough for a stable p95 of a page read
PAGE_BUDGET = 30.0  # seconds per repeat and page, so a slow page cannot stall the run
MIN_PAGE_READS = 20
PAGE_STYLESHEET = "css/leadgauge.css"  # every timed page links it
CHECK_LEADS = 20_000  # the floor is checked against the product's scores on this many leads
YEAR = timedelta(days=365)
DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"
START_MARK, END_MARK = "<!-- bench:start -->", "<!-- bench:end -->"

Log = Callable[[str], None]


class BenchError(Exception):
    """The benchmark cannot run as asked; the message says what to do."""


@dataclass
class Options:
    leads: int
    activities: int
    repeats: int
    requests: int = 1000
    batches: int = 5
    small: bool = False
    output: Path = DEFAULT_OUTPUT
    command: str = "python manage.py bench"


@dataclass
class Figure:
    name: str
    value: float | None  # None: not measured (the note says why)
    unit: str
    target: tuple[str, float] | None = None  # ("<=", 1.5) or (">=", 5000)
    note: str = ""

    @property
    def met(self) -> bool | None:
        if self.value is None or self.target is None:
            return None
        op, limit = self.target
        return self.value <= limit if op == "<=" else self.value >= limit

    def measured(self) -> str:
        if self.value is None:
            return self.note
        if self.unit == "×":
            return f"{self.value:.2f} ×"
        if self.unit == "/s":
            return f"{self.value:,.0f} activities/s"
        digits = 2 if self.value < 10 else 1 if self.value < 100 else 0
        return f"{self.value:,.{digits}f} {self.unit}"

    def target_text(self) -> str:
        if self.target is None:
            return "—"
        op, limit = self.target
        sign = "≤" if op == "<=" else "≥"
        unit = "activities/s" if self.unit == "/s" else self.unit
        return f"{sign} {limit:,g} {unit}".rstrip()

    def met_text(self) -> str:
        return {True: "met", False: "NOT MET", None: "—"}[self.met]


@dataclass
class Report:
    options: Options
    figures: list[Figure]
    machine: list[tuple[str, str]]
    notes: list[str] = field(default_factory=list)
    finished_at: datetime = field(default_factory=timezone.now)

    def table(self) -> str:
        rows = [("figure", "measured", "target", "met")]
        rows += [(f.name, f.measured(), f.target_text(), f.met_text()) for f in self.figures]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(line.rstrip() for line in lines)

    def markdown(self) -> str:
        o = self.options
        lines = [
            f"Run {self.finished_at:%Y-%m-%d %H:%M} UTC: `{o.command}` — {o.leads:,} leads, "
            f"{o.activities:,} activities over 365 days, median of {o.repeats}.",
            "",
            "| figure | measured | target | met |",
            "| --- | --- | --- | --- |",
        ]
        lines += [
            f"| {f.name} | {f.measured()} | {f.target_text()} | {f.met_text()} |"
            for f in self.figures
        ]
        lines += ["", "Machine:", ""] + [f"- {k}: {v}" for k, v in self.machine]
        if self.notes:
            lines += ["", "Notes:", ""] + [f"- {n}" for n in self.notes]
        return "\n".join(lines) + "\n"


# The data set ------------------------------------------------------------------------------------

FIRST_NAMES = ["Dana", "Sam", "Alex", "Priya", "Jordan", "Mei", "Omar", "Lena", "Tom", "Ines"]
LAST_NAMES = ["Smith", "Okafor", "Rossi", "Chen", "Novak", "Garcia", "Ali", "Berg", "Kim", "Diaz"]
# (title, weight): some match "Senior title", some "Manager", some "Student or intern", most none.
TITLES = [
    ("VP Marketing", 4),
    ("Director of Sales", 4),
    ("Head of Growth", 3),
    ("Chief Revenue Officer", 1),
    ("Marketing Manager", 8),
    ("Sales Manager", 6),
    ("Software Engineer", 12),
    ("Analyst", 10),
    ("Account Executive", 8),
    ("Student", 3),
    ("Marketing Intern", 2),
    ("", 6),
]
INDUSTRIES = ["software", "logistics", "fintech", "retail", "healthcare", "education", "media"]
COUNTRIES = ["US", "US", "US", "CA", "GB", "DE", "FR", "IN", "BR", "AU"]
FUNDING = ["", "seed", "series_a", "series_b", "public"]
FREE_MAIL = ["gmail.com", "yahoo.com", "outlook.com"]
COMPETITOR = "rivalco.com"
# (kind, weight, [(url, weight)]): the default rule set scores all but chat_started and most
# page views; a page view is pricing or careers, never both, which the floor relies on.
KINDS = [
    ("email_open", 34, [("", 1)]),
    (
        "page_view",
        36,
        [("/pricing", 12), ("/careers", 3), ("/blog/scoring-101", 35), ("/product", 30), ("/", 20)],
    ),
    ("email_click", 10, [("", 1)]),
    (
        "content_download",
        7,
        [("/case-studies/northwind", 5), ("/roi-calculator", 2), ("/whitepapers/intent", 3)],
    ),
    ("webinar_attended", 3, [("", 1)]),
    ("chat_started", 8, [("", 1)]),
    ("trial_signup", 1, [("", 1)]),
    ("demo_request", 0.6, [("", 1)]),
    ("unsubscribe", 0.4, [("", 1)]),
]


def _cum(weights: Iterable[float]) -> list[float]:
    return list(accumulate(weights))


def _timestamp_suffix() -> str:
    # PostgreSQL reads the offset; Django keeps SQLite's datetimes as naive UTC text.
    return "+00" if connection.vendor == "postgresql" else ""


def _insert(table: str, columns: list[str], rows: Iterable[tuple]) -> None:
    """COPY on PostgreSQL (the only way to load ten million rows in minutes), with the
    table's secondary indexes dropped meanwhile and built again after: inserting rows in random
    lead order into an index larger than shared_buffers made a 10M-row COPY take over 5 min."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname "
                "NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
                [table, table],
            )
            indexes = cursor.fetchall()
            for name, _ in indexes:
                cursor.execute(f'DROP INDEX "{name}"')
            # Django's foreign keys are deferred: checked row by row here instead of queued
            # until commit, since an index cannot be built while checks are pending.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            cursor.execute("SET maintenance_work_mem = '512MB'")
            for _, definition in indexes:
                cursor.execute(definition)
            cursor.execute("RESET maintenance_work_mem")
            return
        marks = ", ".join(["%s"] * len(columns))
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
        iterator = iter(rows)
        while batch := list(islice(iterator, 5000)):
            cursor.executemany(sql, batch)


def _account_rows(rng: random.Random, count: int, created: str) -> Iterator[tuple]:
    for k in range(count):
        employees = max(1, int(rng.lognormvariate(4.5, 1.6)))
        yield (
            f"Company {k}",
            f"co{k}{ACCOUNT_SUFFIX}",
            rng.choice(INDUSTRIES),
            employees,
            rng.choice(COUNTRIES),
            "[]",
            rng.choice(FUNDING),
            created,
            created,
        )


def _lead_rows(
    rng: random.Random, count: int, account_ids: list[int], competitor_id: int, start: datetime
) -> Iterator[tuple]:
    titles, title_cum = [t for t, _ in TITLES], _cum(w for _, w in TITLES)
    suffix = _timestamp_suffix()
    for n in range(count):
        roll = rng.random()
        if roll < 0.003:
            domain, account_id, free = COMPETITOR, competitor_id, False
        elif roll < 0.15:
            domain, account_id, free = rng.choice(FREE_MAIL), None, True
        else:
            k = rng.randrange(len(account_ids))
            domain, account_id, free = f"co{k}{ACCOUNT_SUFFIX}", account_ids[k], False
        created = (start + timedelta(seconds=rng.randrange(int(YEAR.total_seconds())))).strftime(
            "%Y-%m-%d %H:%M:%S"
        ) + suffix
        yield (
            f"{EMAIL_PREFIX}{n}@{domain}",
            rng.choice(FIRST_NAMES),
            rng.choice(LAST_NAMES),
            rng.choices(titles, cum_weights=title_cum)[0],
            account_id,
            rng.choice(["website", "webinar", "paid_search", "event", "referral"]),
            "{}",
            created,
            created,
            domain,
            free,
            Stage.LEAD,
        )


def _activity_rows(
    rng: random.Random, lead_ids: list[int], total: int, start: datetime
) -> Iterator[tuple]:
    """`total` activities over the year after `start`. Each lead draws from a capped Pareto
    weight, so most leads have a handful of activities and a few have hundreds; recent months
    are busier than old ones."""
    weights = _cum(min(rng.paretovariate(1.2), 80.0) for _ in lead_ids)
    kinds, kind_cum = [k for k, _, _ in KINDS], _cum(w for _, w, _ in KINDS)
    urls = {k: ([u for u, _ in us], _cum(w for _, w in us)) for k, _, us in KINDS}
    suffix = _timestamp_suffix()
    year_seconds = int(YEAR.total_seconds())
    # Formatting a datetime per row would dominate; an hour's prefix is formatted once.
    hours = [(start + timedelta(hours=h)).strftime("%Y-%m-%d %H") for h in range(365 * 24 + 1)]
    made = 0
    while made < total:
        k = min(100_000, total - made)
        made += k
        for lead_id, kind in zip(
            rng.choices(lead_ids, cum_weights=weights, k=k),
            rng.choices(kinds, cum_weights=kind_cum, k=k),
            strict=True,
        ):
            choices, cum = urls[kind]
            url = choices[0] if len(choices) == 1 else rng.choices(choices, cum_weights=cum)[0]
            offset = year_seconds - 1 - int(year_seconds * rng.random() ** 1.5)
            hour, rest = divmod(offset, 3600)
            at = f"{hours[hour]}:{rest // 60:02d}:{rest % 60:02d}{suffix}"
            yield (lead_id, kind, at, url, "{}", SOURCE, at)


def bench_users() -> tuple[list[User], User]:
    """The SDRs who work the generated queue and a manager for the calibration page."""
    sdr_group = Group.objects.get_or_create(name=SDR)[0]
    manager_group = Group.objects.get_or_create(name=MANAGER)[0]
    sdrs = []
    for n in range(1, SDR_COUNT + 1):
        user, created = User.objects.get_or_create(
            username=f"bench-sdr{n}", defaults={"first_name": "Bench", "last_name": f"SDR {n}"}
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
            user.groups.add(sdr_group)
        SdrProfile.objects.get_or_create(user=user)
        sdrs.append(user)
    manager, created = User.objects.get_or_create(
        username="bench-manager", defaults={"first_name": "Bench", "is_staff": True}
    )
    if created:
        manager.set_unusable_password()
        manager.save(update_fields=["password"])
        manager.groups.add(manager_group)
    return sdrs, manager


def default_ruleset() -> RuleSet:
    """The active rule set, which must be the shipped default: the floor is written for it."""
    default = parse_ruleset(json.loads(DEFAULT_RULESET_PATH.read_text(encoding="utf-8")))
    ruleset = RuleSet.objects.active()
    if ruleset is None:
        return load_default_ruleset(publish=True, sync=True)
    if ruleset_to_dict(ruleset.to_spec()) | {"name": ""} != ruleset_to_dict(default) | {"name": ""}:
        raise BenchError(
            f"The active rule set ({ruleset}) is not the shipped default, for which the "
            "hand-written SQL floor is written. Run bench on a database of its own."
        )
    return ruleset


def check_database(options: Options) -> bool:
    """True when the generated set is already there; refuses anything else."""
    if connection.vendor == "sqlite" and not options.small:
        raise BenchError(
            "bench measures PostgreSQL: point DATABASE_URL at a PostgreSQL database of its own "
            "(see the README), or pass --small for a quick run on SQLite."
        )
    if Lead.objects.exclude(email__startswith=EMAIL_PREFIX).exists():
        raise BenchError(
            "This database holds leads that bench did not generate, and bench rescores and "
            "writes every lead. Point DATABASE_URL at a database of its own, e.g. "
            "createdb leadgauge_bench; DATABASE_URL=postgres://postgres@127.0.0.1:5432/"
            "leadgauge_bench python manage.py migrate; … bench"
        )
    leads = Lead.objects.count()
    if leads == 0:
        return False
    activities = Activity.objects.filter(source=SOURCE).count()
    if (leads, activities) != (options.leads, options.activities):
        raise BenchError(
            f"This database holds a bench data set of {leads:,} leads and {activities:,} "
            f"activities, not {options.leads:,} and {options.activities:,}: pass "
            f"--leads {leads} --activities {activities}, or recreate the database."
        )
    return True


def check_static_files() -> None:
    """The pages render their static files' URLs: with DEBUG off, from the manifest that
    collectstatic writes. Checked before anything is generated or timed; found missing only when
    the pages are timed, it cost a quarter of an hour's figures."""
    try:
        staticfiles_storage.url(PAGE_STYLESHEET)
    except ValueError as error:
        raise BenchError(
            f"The pages cannot find their static files ({error}). With DEBUG off, run "
            "`python manage.py collectstatic --no-input` first, with the same settings."
        ) from error


def generate(options: Options, ruleset: RuleSet, sdrs: list[User], log: Log) -> None:
    """Leads, accounts and activities by COPY; a year of dispositioned handoffs; then one
    rescore, which scores everything and opens the current MQLs' handoffs through the product
    (assigned round-robin to the bench SDRs)."""
    rng = random.Random(8)
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    start = now - YEAR
    created = start.strftime("%Y-%m-%d %H:%M:%S") + _timestamp_suffix()
    began = time.perf_counter()
    with transaction.atomic():
        n_accounts = max(1, options.leads // 4)
        _insert(
            "leads_account",
            [
                "name",
                "domain",
                "industry",
                "employee_count",
                "country",
                "technologies",
                "funding_stage",
                "created_at",
                "updated_at",
            ],
            _account_rows(rng, n_accounts, created),
        )
        by_domain = dict(
            Account.objects.filter(domain__endswith=ACCOUNT_SUFFIX).values_list("domain", "id")
        )
        account_ids = [by_domain[f"co{k}{ACCOUNT_SUFFIX}"] for k in range(n_accounts)]
        competitor = Account.objects.get_or_create(
            domain=COMPETITOR, defaults={"name": "RivalCo", "industry": "software"}
        )[0]
        _insert(
            "leads_lead",
            [
                "email",
                "first_name",
                "last_name",
                "title",
                "account_id",
                "source",
                "attributes",
                "created_at",
                "updated_at",
                "email_domain",
                "email_is_free",
                "stage",
            ],
            _lead_rows(rng, options.leads, account_ids, competitor.pk, start),
        )
        lead_ids = list(Lead.objects.order_by("pk").values_list("pk", flat=True))
        log(f"  {options.leads:,} leads, {n_accounts:,} accounts in {_since(began)}")
        _insert(
            "leads_activity",
            ["lead_id", "kind", "occurred_at", "url", "properties", "source", "created_at"],
            _activity_rows(rng, lead_ids, options.activities, start),
        )
        log(f"  {options.activities:,} activities in {_since(began)}")
        _handoff_history(rng, ruleset, lead_ids, sdrs, now)
    refresh_planner_statistics()
    log("  first rescore (scores every lead, opens the MQLs' handoffs)…")
    start_rescore(ruleset, reason=ScoreChange.Reason.RESCORE, sync=True)
    _vacuum()
    log(f"  generated in {_since(began)}")


def _handoff_history(
    rng: random.Random, ruleset: RuleSet, lead_ids: list[int], sdrs: list[User], now: datetime
) -> None:
    """A year of dispositioned MQLs on 2% of the leads (through the ORM: a few thousand rows)."""
    outcomes = [
        (Disposition.ACCEPTED, Stage.ACCEPTED),
        (Disposition.BAD_FIT, Stage.REJECTED),
        (Disposition.BAD_TIMING, Stage.RECYCLED),
        (Disposition.BAD_DATA, Stage.REJECTED),
    ]
    classes = [
        (MqlClass.PRIORITY, 1, "A1"),
        (MqlClass.FAST_TRACK, 2, "A2"),
        (MqlClass.STANDARD, 3, "B1"),
    ]
    history, stages = [], {}
    for lead_id in rng.sample(lead_ids, len(lead_ids) // 50):
        opened = now - timedelta(days=rng.uniform(7, 360))
        done = opened + timedelta(hours=rng.uniform(1, 72))
        disposition, stage = rng.choices(outcomes, weights=[3, 3, 3, 1])[0]
        mql_class, rank, cell = rng.choice(classes)
        sdr = rng.choice(sdrs)
        fit, interest = rng.uniform(20, 55), rng.uniform(20, 90)
        history.append(
            Handoff(
                lead_id=lead_id,
                ruleset=ruleset,
                fit_score=fit,
                interest_score=interest,
                total_score=fit + interest,
                cell=cell,
                mql_class=mql_class,
                rank=rank,
                assigned_to=sdr,
                assigned_at=opened,
                created_at=opened,
                first_touch_due=opened + timedelta(hours=1),
                first_touched_at=opened + timedelta(minutes=rng.uniform(5, 600)),
                disposition_due=opened + timedelta(hours=72),
                sla_due=opened + timedelta(hours=72),
                disposition=disposition,
                dispositioned_by=sdr,
                dispositioned_at=done,
            )
        )
        stages.setdefault(stage, []).append(lead_id)
    Handoff.objects.bulk_create(history, batch_size=2000)
    for stage, ids in stages.items():
        for chunk in range(0, len(ids), 5000):
            Lead.objects.filter(pk__in=ids[chunk : chunk + 5000]).update(stage=stage)


def _vacuum() -> None:
    """What autovacuum would do soon after a bulk load; it cannot run inside a transaction
    (the tests), where ANALYZE alone keeps the planner informed."""
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute(
                "VACUUM (ANALYZE) leads_lead, leads_leadscore, leads_account, leads_activity, "
                "scoring_scorechange, "
                "feedback_handoff, feedback_handoffcontribution"
            )
    else:
        refresh_planner_statistics()


def _since(began: float) -> str:
    return f"{time.perf_counter() - began:.1f} s"


# The hand-written floor --------------------------------------------------------------------------


def floor_sql(as_of: datetime, id_range: tuple[int, int] | None = None) -> tuple[str, list]:
    """Interest per lead for the default rule set as one hand-written statement: one pass over
    the activities, each tagged with its rule, a row_number for the `each` caps, the pricing
    group's first match as one CASE. Written for the default rule set and data whose page views
    are pricing or careers, never both; `check_floor` compares it with the product's scores."""
    ts = connection.ops.adapt_datetimefield_value(as_of)
    month_ago = connection.ops.adapt_datetimefield_value(as_of - timedelta(days=30))
    if connection.vendor == "postgresql":
        age = "date_part('epoch', %s::timestamptz - occurred_at) / 86400.0"
    else:
        age = "(julianday(%s) - julianday(occurred_at))"
    where, params = "", [month_ago, ts, ts]
    if id_range is not None:
        where = "AND lead_id >= %s AND lead_id < %s"
        params += list(id_range)
    sql = f"""
        SELECT lead_id, SUM(CASE r
                WHEN 1 THEN 40 * w_max
                WHEN 2 THEN 30 * w_max
                WHEN 3 THEN CASE WHEN n_month >= 3 THEN 25 ELSE 12 END * w_max
                WHEN 4 THEN 15 * capped
                WHEN 5 THEN 10 * capped
                WHEN 6 THEN 1 * capped
                WHEN 7 THEN 5 * capped
                WHEN 8 THEN -5 * capped
                WHEN 9 THEN -100
            END) AS interest
        FROM (
            SELECT lead_id, r, MAX(w) AS w_max,
                   SUM(CASE WHEN rn <= CASE WHEN r IN (4, 5) THEN 2 ELSE 3 END
                       THEN w ELSE 0 END) AS capped,
                   SUM(CASE WHEN occurred_at > %s THEN 1 ELSE 0 END) AS n_month
            FROM (
                SELECT lead_id, r, occurred_at,
                       CASE WHEN r IN (8, 9) THEN 1.0 ELSE POWER(0.5, age / 30.0) END AS w,
                       ROW_NUMBER() OVER (PARTITION BY lead_id, r ORDER BY occurred_at DESC) AS rn
                FROM (
                    SELECT lead_id, occurred_at, {age} AS age, CASE
                        WHEN kind = 'demo_request' THEN 1
                        WHEN kind = 'trial_signup' THEN 2
                        WHEN kind = 'page_view' AND LOWER(url) LIKE '%%/pricing%%' THEN 3
                        WHEN kind = 'content_download' AND (LOWER(url) LIKE '%%/case-studies/%%'
                             OR LOWER(url) LIKE '%%/roi-calculator%%') THEN 4
                        WHEN kind = 'webinar_attended' THEN 5
                        WHEN kind = 'email_open' THEN 6
                        WHEN kind = 'email_click' THEN 7
                        WHEN kind = 'page_view' AND LOWER(url) LIKE '%%/careers%%' THEN 8
                        WHEN kind = 'unsubscribe' THEN 9
                    END AS r
                    FROM leads_activity
                    WHERE occurred_at <= %s {where}
                ) tagged
                WHERE r IS NOT NULL
            ) numbered
            GROUP BY lead_id, r
        ) per_rule
        GROUP BY lead_id
    """
    return sql, params  # in text order: the month, the age's instant, the cut-off, the range


def floor_worker_counts() -> list[int]:
    """Parallel workers per gather to time the floor with: one up to one per core (and none on
    one core). The leader works too: on two cores the floor took 4.5 s with one worker and 5.6 s
    with PostgreSQL's default of two. Which count is fastest depends on the machine, so each is
    timed and the fastest median is the floor (the least of several medians errs on the strict
    side). The bench runs on the database's machine, so these are the database's cores."""
    cores = os.cpu_count() or 1
    return list(range(0 if cores == 1 else 1, cores + 1))


def run_floor(workers: int, as_of: datetime | None = None) -> None:
    """The floor as the database runs it fastest: a parallel CREATE TEMP TABLE … AS, with the
    memory and zero parallel costs a parallel plan needs (contract §6) and `workers` parallel
    workers, for this transaction."""
    sql, params = floor_sql(as_of or timezone.now())
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL work_mem = '1GB'")
            cursor.execute("SET LOCAL parallel_setup_cost = 0")
            cursor.execute("SET LOCAL parallel_tuple_cost = 0")
            cursor.execute(
                "SELECT set_config('max_parallel_workers_per_gather', %s, true)", [str(workers)]
            )
        cursor.execute("DROP TABLE IF EXISTS lg_bench_floor")
        cursor.execute(f"CREATE TEMP TABLE lg_bench_floor AS {sql}", params)
        cursor.execute("DROP TABLE lg_bench_floor")


def check_floor(ruleset: RuleSet, as_of: datetime) -> float:
    """The largest difference between the floor's interest and the product's statement's, on
    the first CHECK_LEADS leads: proof that the two compute the same scores."""
    low = Lead.objects.order_by("pk").values_list("pk", flat=True).first() or 0
    id_range = (low, low + CHECK_LEADS)
    sql, params = floor_sql(as_of, id_range)
    product = score_select(
        ruleset.to_spec(), as_of, LeadSelection(*id_range), dialect_for(connection)
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        floor = {lead_id: interest for lead_id, interest in cursor.fetchall()}
        cursor.execute(product.text, product.params)
        scores = {row[0]: row[2] for row in cursor.fetchall()}
    return max((abs(floor.get(k, 0.0) - v) for k, v in scores.items()), default=0.0)


# Timing ------------------------------------------------------------------------------------------


def _timed(action: Callable[[], object]) -> float:
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


def _percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def _reset_peak_memory() -> bool:
    """Linux lets a process reset its peak RSS, so the figure is the rescore's own, not the
    data generation's that ran before it in the same process. What generation freed is handed
    back to the system first, as glibc keeps it resident otherwise (at 200,000 leads the process
    held 142 MB after generating without this, 128 MB with it, 93 MB when it reused the data)."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: the freed memory stays
        ctypes.CDLL(None).malloc_trim(0)
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _resident_memory_mb() -> float | None:
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    kb = next((line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")), None)
    return int(kb) / 1024 if kb else None


def _peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


def _activity_payload(rng: random.Random, lead: tuple[int, str]) -> dict:
    kind, _, urls = rng.choices(KINDS, weights=[w for _, w, _ in KINDS])[0]
    url = rng.choices([u for u, _ in urls], weights=[w for _, w in urls])[0]
    return {
        "email": lead[1],
        "kind": kind,
        "occurred_at": timezone.now().isoformat(),
        "url": url,
        "source": INGEST_SOURCE,
        "external_id": uuid.uuid4().hex,
    }


def _post(client: Client, secret: str, body: dict) -> float:
    began = time.perf_counter()
    response = client.post(
        "/api/v1/activities",
        data=json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
        secure=True,
    )
    elapsed = time.perf_counter() - began
    if response.status_code != 200:
        raise BenchError(f"The API answered {response.status_code}: {response.content[:300]!r}")
    return elapsed


def _checkpoint() -> None:
    """Untimed: write every dirty page to disk, so what comes next does not pay for the writes of
    what came before."""
    if connection.vendor == "postgresql":
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("CHECKPOINT")
        except DatabaseError:
            pass  # a role without the right to: the figures then include the writeback


def _settle_before_ingest(
    client: Client, secret: str, rng: random.Random, leads: list[tuple[int, str]]
) -> None:
    """Untimed: flush the passes' writes to disk, then post one activity for each sampled lead.

    So the ingest figures time ingest: not the disk writing back a million rescored leads, nor
    each sampled lead's first read from disk. A live system's active leads are the ones it saw
    recently; on these machines a page that has not been read for a minute is off to disk (the
    host takes back page cache), and a cold page costs up to a few milliseconds.
    """
    _checkpoint()
    for start in range(0, len(leads), BATCH_SIZE):
        batch = leads[start : start + BATCH_SIZE]
        _post(client, secret, {"activities": [_activity_payload(rng, lead) for lead in batch]})


def _page_times(client: Client, path: str, count: int) -> list[float]:
    """Up to `count` reads, fewer for a slow page: PAGE_BUDGET seconds, at least MIN_PAGE_READS."""
    client.get(path, secure=True)  # the first request compiles templates
    times: list[float] = []
    began = time.perf_counter()
    while len(times) < count and (
        len(times) < MIN_PAGE_READS or time.perf_counter() - began < PAGE_BUDGET
    ):
        start = time.perf_counter()
        response = client.get(path, secure=True)
        times.append(time.perf_counter() - start)
        if response.status_code != 200:
            raise BenchError(f"GET {path} answered {response.status_code}.")
    return times


def _cleanup_ingested() -> None:
    """The ingest figures' activities go (also those of a run that was killed)."""
    Activity.objects.filter(source=INGEST_SOURCE, external_id__isnull=False).delete()


@dataclass
class _IngestUndo:
    """What the ingest figures change, to be put back afterwards: their activities, and what
    those set off (the sampled leads' scores, stages and owners, the handoffs they opened and
    the SDRs' turns in the round robin, the score history). Left in place, each run added some
    3,000 open handoffs for the next run's queue page to read, so repeated runs on the same data
    did not time the same thing.

    Only the sampled leads are rescored: a batch names at most BATCH_SIZE leads, which the
    scoring service rescores by id (it switches to whole id ranges only beyond ID_LIST_LIMIT).
    A killed run is not undone (the marks live in memory); its activities still go at the next
    start, and fresh data (a new database) gives figures comparable with a first run's.
    """

    handoff_mark: int
    change_mark: int
    leads: list[Lead]
    scores: list[LeadScore]
    turns: list[SdrProfile]

    STATE = ("owner", "stage")
    SCORE_STATE = tuple(f.name for f in LeadScore._meta.concrete_fields if not f.primary_key)

    @classmethod
    def mark(cls, lead_ids: list[int]) -> _IngestUndo:
        return cls(
            handoff_mark=Handoff.objects.aggregate(mark=Max("pk"))["mark"] or 0,
            change_mark=ScoreChange.objects.aggregate(mark=Max("pk"))["mark"] or 0,
            leads=list(Lead.objects.filter(pk__in=lead_ids).only(*cls.STATE)),
            scores=list(LeadScore.objects.filter(pk__in=lead_ids)),
            turns=list(SdrProfile.objects.only("last_assigned_at")),
        )

    def undo(self) -> None:
        lead_ids = [lead.pk for lead in self.leads]
        with transaction.atomic():
            _cleanup_ingested()
            Handoff.objects.filter(pk__gt=self.handoff_mark, lead_id__in=lead_ids).delete()
            ScoreChange.objects.filter(pk__gt=self.change_mark, lead_id__in=lead_ids).delete()
            Lead.objects.bulk_update(self.leads, self.STATE, batch_size=BATCH_SIZE)
            LeadScore.objects.bulk_update(self.scores, self.SCORE_STATE, batch_size=BATCH_SIZE)
            SdrProfile.objects.bulk_update(self.turns, ["last_assigned_at"])


def cpu_check() -> float:
    """Seconds a fixed pure-Python loop takes: this host's CPU speed at the moment. A shared
    virtual machine's speed drifts (this loop took from 0.52 s to 0.91 s within an hour on the
    one these figures come from), so a run's figures are read next to it."""
    began = time.perf_counter()
    sum(i * i for i in range(10_000_000))
    return time.perf_counter() - began


def machine(cpu_checks: tuple[float, float]) -> list[tuple[str, str]]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{mem_kb / 1024 / 1024:.1f} GB"
    except (OSError, ValueError, IndexError):
        memory = "unknown"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT version()")
        else:
            cursor.execute("SELECT 'SQLite ' || sqlite_version()")
        database = cursor.fetchone()[0]
    return [
        ("CPU", f"{cpu}, {os.cpu_count()} cores (nproc)"),
        ("memory", memory),
        ("database", database),
        ("Python", f"{platform.python_version()} on {platform.platform()}"),
        ("settings", f"DEBUG={'on' if _debug() else 'off'}"),
        (
            "CPU speed",
            f"a fixed Python loop took {cpu_checks[0]:.2f} s before the timed runs and "
            f"{cpu_checks[1]:.2f} s after (lower is faster)",
        ),
    ]


def _debug() -> bool:
    from django.conf import settings

    return settings.DEBUG


# The run -----------------------------------------------------------------------------------------


def run(options: Options, log: Log) -> Report:
    """Generate (or reuse) the data, time every figure, write the report."""
    with override_settings(
        # Bench SDRs have made-up addresses: their MQL e-mails must go nowhere.
        EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
        # django.test.Client calls itself testserver; production settings may not list it.
        ALLOWED_HOSTS=["testserver"],
    ):
        return _run(options, log)


def _run(options: Options, log: Log) -> Report:
    reused = check_database(options)
    check_static_files()
    _cleanup_ingested()
    ruleset = default_ruleset()
    sdrs, manager = bench_users()
    if reused:
        log(f"Reusing the bench data: {options.leads:,} leads, {options.activities:,} activities.")
    else:
        log(f"Generating {options.leads:,} leads and {options.activities:,} activities…")
        generate(options, ruleset, sdrs, log)
    # In production the daily beat task stores each finished month, and the calibration page
    # reads those snapshots; a generated year is closed here as that task would close it.
    close_finished_months()
    notes = []
    figures: list[Figure] = []

    rescores, recomputed, decays = [], [], []
    worker_counts = floor_worker_counts()
    floors: dict[int, list[float]] = {workers: [] for workers in worker_counts}
    speed_before = cpu_check()
    memory_reset = _reset_peak_memory()
    resident = _resident_memory_mb()

    # Each rescore is followed by the floors, so all meet the same page cache: timed one series
    # after the other, the first rescores read cold pages that the floors then found warm. And
    # each starts after a checkpoint, so none pays for writing back the last rescore's leads.
    # The floor's worker counts take turns going first. (The floor runs in the database, not in
    # this process's memory.) Each repeat times a rescore that keeps the stored fit (as a decay
    # pass does, and a publish that leaves the fit rules alone, which also rewrites the leads
    # whose score did not change: their rule set version does), the floors, and then a rescore
    # that computes every lead's fit (as after a publish that changes fit rules).
    def rescore() -> float:
        _checkpoint()
        return _timed(lambda: start_rescore(ruleset, reason=ScoreChange.Reason.RESCORE, sync=True))

    if LeadScore.objects.filter(fit_rules_digest__isnull=True).exists():
        log("  storing every lead's fit (untimed; data from before fit was kept)…")
        start_rescore(ruleset, reason=ScoreChange.Reason.RESCORE, sync=True)
    for n in range(options.repeats):
        rescores.append(rescore())
        log(f"  full rescore {n + 1}/{options.repeats}: {rescores[-1]:.2f} s")
        for workers in worker_counts if n % 2 == 0 else worker_counts[::-1]:
            _checkpoint()
            floors[workers].append(_timed(partial(run_floor, workers)))
            taken = floors[workers][-1]
            log(f"  SQL floor {n + 1}/{options.repeats}, {workers} worker(s): {taken:.2f} s")
        LeadScore.objects.filter(fit_rules_digest__isnull=False).update(fit_rules_digest=None)
        recomputed.append(rescore())
        log(f"  full rescore, every fit computed {n + 1}/{options.repeats}: {recomputed[-1]:.2f} s")
    peak = _peak_memory_mb()
    vacuum_scores()  # untimed, as after a run: what follows meets the leads as a worker leaves them
    for n in range(options.repeats):
        decays.append(_timed(decay_scores))
        log(f"  decay pass {n + 1}/{options.repeats}: {decays[-1]:.2f} s")
    floor_by_workers = {workers: statistics.median(times) for workers, times in floors.items()}
    kept, floor = statistics.median(rescores), min(floor_by_workers.values())
    computed = statistics.median(recomputed)

    def ratio(seconds: float) -> float | None:
        return seconds / floor if floor else None

    notes.append(
        "The floor is the fastest of its medians with "
        + ", ".join(f"{w} parallel worker(s): {t:.2f} s" for w, t in floor_by_workers.items())
        + " (the leader works too)."
    )
    figures += [
        Figure("full rescore (rescore --sync), stored fit kept", kept, "s"),
        Figure("full rescore, every fit computed", computed, "s"),
        Figure("interest by hand-written SQL (floor)", floor, "s"),
        Figure("full rescore ÷ floor", ratio(kept), "×", ("<=", 1.5)),
        Figure("full rescore, every fit computed ÷ floor", ratio(computed), "×"),
        Figure(
            "rescore peak memory (max RSS)",
            peak,
            "MB",
            ("<=", 400),
        ),
        Figure("decay pass", statistics.median(decays), "s", ("<=", 60)),
    ]
    if not memory_reset:
        notes.append("Peak memory is the process's since it started (no /proc/self/clear_refs).")
    elif resident is not None:
        notes.append(f"The process held {resident:.0f} MB when the rescores began.")
    difference = check_floor(ruleset, timezone.now())
    notes.append(
        f"The floor agrees with the product's scoring statement to {difference:.1e} points "
        f"(largest difference in interest over the first {CHECK_LEADS:,} leads)."
    )

    rng = random.Random(9)
    leads = list(Lead.objects.order_by("?").values_list("pk", "email")[:INGEST_LEADS])
    token, secret = create_token("bench")
    client = Client()
    singles, rates = [], []
    undo = _IngestUndo.mark([pk for pk, _ in leads])
    try:
        _settle_before_ingest(client, secret, rng, leads)
        for n in range(options.repeats):
            times = [
                _post(client, secret, _activity_payload(rng, rng.choice(leads)))
                for _ in range(options.requests)
            ]
            singles.append((_percentile(times, 50), _percentile(times, 95)))
            log(f"  single ingest {n + 1}/{options.repeats}: p95 {singles[-1][1] * 1000:.1f} ms")
            spent = sum(
                _post(
                    client,
                    secret,
                    {
                        "activities": [
                            _activity_payload(rng, rng.choice(leads)) for _ in range(BATCH_SIZE)
                        ]
                    },
                )
                for _ in range(options.batches)
            )
            rates.append(options.batches * BATCH_SIZE / spent)
            log(f"  batch ingest {n + 1}/{options.repeats}: {rates[-1]:,.0f} activities/s")
    finally:
        undo.undo()
        token.delete()  # the run's own: left revoked, each run added a row to the admin's list
    figures += [
        Figure(
            f"single activity ingest p50 ({options.requests:,} requests)",
            statistics.median(p50 for p50, _ in singles) * 1000,
            "ms",
        ),
        Figure(
            "single activity ingest p95",
            statistics.median(p95 for _, p95 in singles) * 1000,
            "ms",
            ("<=", 50),
        ),
        Figure(
            f"batch ingest ({options.batches} × {BATCH_SIZE:,} per repeat)",
            statistics.median(rates),
            "/s",
            (">=", 5000),
        ),
    ]

    page_requests = min(PAGE_REQUESTS, options.requests)
    counts = dict(
        Handoff.objects.open()
        .filter(assigned_to__in=sdrs)
        .values("assigned_to")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("assigned_to", "n")
    )
    sdr = max(sdrs, key=lambda u: counts.get(u.pk, 0))
    notes.append(
        f"The queue is {sdr.username}'s, with {counts.get(sdr.pk, 0):,} open MQLs "
        f"({sum(counts.values()):,} open across {len(sdrs)} SDRs)."
    )
    figures += _page_figures("queue page", Client(), sdr, "/", page_requests, 100, options, log)
    try:
        calibration = reverse("calibration")
    except NoReverseMatch:
        figures += [
            Figure("calibration page p50", None, "ms", note="not built yet"),
            Figure("calibration page p95", None, "ms", ("<=", 300), note="not built yet"),
        ]
    else:
        figures += _page_figures(
            "calibration page", Client(), manager, calibration, page_requests, 300, options, log
        )

    report = Report(options, figures, machine((speed_before, cpu_check())), notes)
    write_markdown(report)
    return report


def _page_figures(
    name: str,
    client: Client,
    user: User,
    path: str,
    count: int,
    target_ms: float,
    options: Options,
    log: Log,
) -> list[Figure]:
    client.force_login(user)
    runs, reads = [], count
    for n in range(options.repeats):
        times = _page_times(client, path, count)
        reads = min(reads, len(times))
        runs.append((_percentile(times, 50), _percentile(times, 95)))
        log(f"  {name} {n + 1}/{options.repeats}: p95 {runs[-1][1] * 1000:.1f} ms")
    return [
        Figure(
            f"{name} p50 ({reads} requests)", statistics.median(a for a, _ in runs) * 1000, "ms"
        ),
        Figure(
            f"{name} p95",
            statistics.median(b for _, b in runs) * 1000,
            "ms",
            ("<=", target_ms),
        ),
    ]


def write_markdown(report: Report) -> None:
    """Replace the figures between the bench marks, keeping what people wrote around them."""
    path = report.options.output
    block = f"{START_MARK}\n{report.markdown()}{END_MARK}"
    if path.exists():
        text = path.read_text(encoding="utf-8")
        if START_MARK in text and END_MARK in text:
            head, rest = text.split(START_MARK, 1)
            path.write_text(head + block + rest.split(END_MARK, 1)[1], encoding="utf-8")
            return
    path.write_text(
        "# Benchmarks\n\n"
        "`python manage.py bench` (contract §6) wrote the figures below; run it again to "
        "refresh them. Text outside the marked block is kept.\n\n" + block + "\n",
        encoding="utf-8",
    )
