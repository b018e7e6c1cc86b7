"""Writes of the scoring app: rule sets (load, clone, publish) and stored scores."""

from __future__ import annotations

import json
import logging
import queue
import threading
from bisect import bisect_left
from collections import deque
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Max, Min, Q
from django.utils import timezone

from config import broker
from leads.models import Lead

from .engine import RuleSetSpec
from .models import BehaviorRule, FitRule, RescoreChunk, RescoreRun, RuleSet, ScoreChange
from .rulesets import (
    DEFAULT_RULESET_PATH,
    MQL_ACTIONS,
    RuleSetInvalid,
    parse_ruleset,
    ruleset_to_dict,
)
from .sql import LeadSelection, Sql, dialect_for, fit_rules_digest, score_select

logger = logging.getLogger(__name__)

# Each chunk reads the activities once and sorts its share, so a few big chunks beat many small
# ones; four chunks still spread a million leads over four workers.
CHUNK_SIZE = 250_000
# Up to this many leads are rescored by id; more go by id range.
ID_LIST_LIMIT = 1000
_TEMP_TABLE = "lg_scores"
# PostgreSQL settings for storing scores, for that statement only. For an id range the window
# sort and the hashes fit in memory, and JIT compiles the expressions only: LLVM's inlining
# and optimization passes took 0.6-1.9 s of a 250,000-lead chunk's 4-5 s, more than they saved,
# and compiling the tuple deforming half of its 56 ms, also more than it saved. For a batch's
# leads, no JIT at all: compiling the statement's many CASE expressions costs more than a
# batch's whole statement.
_RANGE_SETTINGS = {
    "work_mem": "512MB",
    "jit_inline_above_cost": "-1",
    "jit_optimize_above_cost": "-1",
    "jit_tuple_deforming": "off",
}
_IDS_SETTINGS = {"jit": "off"}


# Rule sets ---------------------------------------------------------------------------------


@transaction.atomic
def create_ruleset_from_spec(
    spec: RuleSetSpec, *, user: AbstractBaseUser | None = None, based_on: RuleSet | None = None
) -> RuleSet:
    ruleset = RuleSet.objects.create(
        name=spec.name,
        half_life_days=spec.half_life_days,
        fit_high=spec.fit_high,
        fit_medium=spec.fit_medium,
        interest_high=spec.interest_high,
        interest_medium=spec.interest_medium,
        matrix=dict(spec.matrix),
        sla_hours=dict(spec.sla_hours),
        recycle_days=spec.recycle_days,
        created_by=user,
        based_on=based_on,
    )
    FitRule.objects.bulk_create(
        FitRule(
            ruleset=ruleset,
            name=r.name,
            field=r.field,
            operator=r.operator,
            values=list(r.values),
            min=r.min,
            max=r.max,
            points=r.points,
            group=r.group,
            order=r.order,
            disqualify=r.disqualify,
        )
        for r in spec.fit_rules
    )
    BehaviorRule.objects.bulk_create(
        BehaviorRule(
            ruleset=ruleset,
            name=r.name,
            kind=r.kind,
            url_contains=list(r.url_contains),
            mode=r.mode,
            points=r.points,
            max_count=r.max_count,
            min_count=r.min_count,
            window_days=r.window_days,
            decays=r.decays,
            group=r.group,
            order=r.order,
        )
        for r in spec.behavior_rules
    )
    return ruleset


def load_ruleset(
    data: dict,
    *,
    publish: bool = False,
    sync: bool = False,
    user: AbstractBaseUser | None = None,
) -> RuleSet:
    """Create a draft from rule-set JSON (contract §1); refuse the whole file on any problem."""
    spec = parse_ruleset(data)  # raises RuleSetInvalid listing every problem
    with transaction.atomic():
        ruleset = create_ruleset_from_spec(spec, user=user)
        if publish:
            publish_ruleset(ruleset, user=user, sync=sync)
    return ruleset


def load_default_ruleset(*, publish: bool = True, sync: bool = False) -> RuleSet:
    """The rule set shipped with the project (the seed playbook's rules)."""
    data = json.loads(DEFAULT_RULESET_PATH.read_text(encoding="utf-8"))
    return load_ruleset(data, publish=publish, sync=sync)


def dump_ruleset(ruleset: RuleSet) -> dict:
    return ruleset_to_dict(ruleset.to_spec())


def clone_ruleset(ruleset: RuleSet, *, user: AbstractBaseUser | None = None) -> RuleSet:
    """A draft copy to edit: published rule sets are never edited in place."""
    spec = ruleset.to_spec()
    draft = create_ruleset_from_spec(spec, user=user, based_on=ruleset)
    draft.name = f"{ruleset.name} (draft)"
    draft.description = ruleset.description
    draft.save(update_fields=["name", "description"])
    return draft


def publish_ruleset(
    ruleset: RuleSet, *, user: AbstractBaseUser | None = None, sync: bool = False
) -> RescoreRun:
    """Make a draft the active rule set and rescore every lead with it in the background."""
    if ruleset.status != RuleSet.Status.DRAFT:
        raise RuleSetInvalid([f"Only a draft can be published; this one is {ruleset.status}."])
    parse_ruleset(dump_ruleset(ruleset))  # the same checks as a file gets
    with transaction.atomic():
        RuleSet.objects.select_for_update().filter(status=RuleSet.Status.ACTIVE).update(
            status=RuleSet.Status.ARCHIVED
        )
        ruleset.status = RuleSet.Status.ACTIVE
        ruleset.published_at = timezone.now()
        ruleset.published_by = user
        ruleset.save(update_fields=["status", "published_at", "published_by"])
        return start_rescore(ruleset, reason=ScoreChange.Reason.PUBLISH, sync=sync)


# Stored scores -----------------------------------------------------------------------------


def apply_scores(
    ruleset: RuleSet,
    selection: LeadSelection,
    *,
    as_of: datetime,
    reason: str,
    spec: RuleSetSpec | None = None,
    open_handoffs: bool = True,
) -> int:
    """Score the selected leads in the database and store what changed. Returns leads changed.

    One statement computes every score; cell moves become ScoreChange rows; then only the leads
    whose score, cell or rule set differ are written, which makes a repeated run a no-op. Leads
    now in an MQL cell are then handed to sales, in a transaction of their own (unless
    `open_handoffs` is off, as for scores stored as of the past).
    """
    spec = spec or ruleset.to_spec()
    d = dialect_for(connection)
    select = score_select(spec, as_of, selection, d)
    # The chunk's id range on leads_leadscore as well: without it the UPDATE's join reads the
    # score rows of every chunk before this one.
    in_range = LeadSelection(start=selection.start, stop=selection.stop)
    store = _Store(
        select=select,
        now=connection.ops.adapt_datetimefield_value(timezone.now()),
        as_of=connection.ops.adapt_datetimefield_value(as_of),
        reason=reason,
        version=ruleset.version,
        fit_rules_digest=fit_rules_digest(spec, d),
        mql_cells=(
            [cell for cell, action in spec.matrix.items() if action in MQL_ACTIONS]
            if open_handoffs
            else []
        ),
        lead_range=in_range.where("ls.lead_id", d),
        digest_sql=d.keep_digest_if_unwritten(),
    )
    with transaction.atomic(), connection.cursor() as cursor:
        if not _still_active(cursor, ruleset):
            return 0  # a rule set published meanwhile: its own rescore scores these leads
        with _planner_settings(
            cursor, _IDS_SETTINGS if selection.ids is not None else _RANGE_SETTINGS
        ):
            if connection.vendor == "postgresql":
                changed, candidates = _store_in_one_statement(cursor, store)
            else:
                changed, candidates = _store_through_temp_table(cursor, store)
    if candidates:
        _hand_off(ruleset, candidates, spec)
    return changed


def _hand_off(ruleset: RuleSet, lead_ids: list[int], spec: RuleSetSpec) -> None:
    """Open the new MQLs' handoffs while `ruleset` is still active, once the scores' transaction
    has committed (unless a caller's transaction encloses both).

    Handing off writes the leads (stage, owner). The scores' transaction holds the score rows it
    wrote, and an edit or an API batch locks a lead before its score row: in one transaction the
    two orders deadlocked. A lead whose handoff did not open (a crash in between) is still an
    MQL without one, which the next scoring of it hands off.
    """
    # Imported here: feedback builds on scoring, not the other way round.
    from feedback.services import open_handoffs

    with transaction.atomic(), connection.cursor() as cursor:
        if _still_active(cursor, ruleset):
            open_handoffs(ruleset, lead_ids, spec=spec)


@dataclass
class _Store:
    """What storing a selection's scores needs: the scoring statement and the figures that go
    with every row written."""

    select: Sql
    now: object
    as_of: object
    reason: str
    version: int
    fit_rules_digest: int
    mql_cells: list[str]  # empty: open no handoffs
    lead_range: tuple[str, list]  # on ls.lead_id
    digest_sql: str  # the value of fit_rules_digest, from its one parameter

    def score_changes(self, scores: str) -> tuple[str, list]:
        """INSERT a ScoreChange for each lead whose cell (or disqualification) moves.

        The lead's stage is looked up for these leads alone, by id: the scoring statement reads
        only score rows where it can, and joined here, PostgreSQL read all the leads (a
        sequential scan of the whole table) for every chunk."""
        stage = "(SELECT l.stage FROM leads_lead l WHERE l.id = s.lead_id)"
        return (
            f"""INSERT INTO scoring_scorechange (lead_id, changed_at, reason, ruleset_version,
                    from_cell, to_cell, from_stage, to_stage, fit_score, interest_score,
                    total_score, disqualified)
                SELECT s.lead_id, %s, %s, %s,
                       CASE WHEN s.never_scored THEN '' ELSE s.stored_cell END, s.cell,
                       {stage}, {stage}, s.fit, s.interest, s.total, s.disqualified = 1
                FROM {scores} s
                WHERE s.stored_cell <> s.cell
                   OR s.stored_disqualified <> (s.disqualified = 1)""",
            [self.now, self.reason, self.version],
        )

    def lead_update(self, scores: str) -> tuple[str, list]:
        """UPDATE the score rows whose stored score differs from the new one (aliased ls, the
        row whose version `digest_sql` compares)."""
        range_sql, range_params = self.lead_range
        return (
            f"""UPDATE leads_leadscore AS ls SET fit_score = s.fit, interest_score = s.interest,
                    total_score = s.total, fit_tier = s.fit_tier,
                    interest_tier = s.interest_tier, cell = s.cell,
                    disqualified = (s.disqualified = 1), scored_at = %s, ruleset_version = %s,
                    fit_rules_digest = {self.digest_sql}
                FROM {scores} s
                WHERE ls.lead_id = s.lead_id AND {range_sql} AND (
                    COALESCE(ls.ruleset_version, 0) <> %s
                    OR COALESCE(ls.fit_rules_digest, 0) <> %s
                    OR ls.scored_at IS NULL
                    OR ABS(ls.fit_score - s.fit) > 1e-9
                    OR ABS(ls.interest_score - s.interest) > 1e-9
                    OR ls.disqualified <> (s.disqualified = 1))""",
            [
                self.as_of,
                self.version,
                self.fit_rules_digest,
                *range_params,
                self.version,
                self.fit_rules_digest,
            ],
        )

    def candidates(self, scores: str) -> tuple[str, list]:
        """SELECT the scored leads in an MQL cell, not disqualified, with no open handoff."""
        if not self.mql_cells:
            return f"SELECT s.lead_id FROM {scores} s WHERE 1 = 0", []
        return (
            f"""SELECT s.lead_id FROM {scores} s
                WHERE s.cell IN ({", ".join(["%s"] * len(self.mql_cells))})
                  AND s.disqualified = 0
                  AND NOT EXISTS (SELECT 1 FROM feedback_handoff h
                                  WHERE h.lead_id = s.lead_id AND h.disposition = '')""",
            list(self.mql_cells),
        )


_SCORES = "SELECT s.*, s.fit_tier || CAST(s.interest_tier AS VARCHAR(1)) AS cell FROM ({}) s"


def _store_in_one_statement(cursor, store: _Store) -> tuple[int, list[int]]:
    """PostgreSQL: score, record cell moves, write and find MQLs in one statement.

    Its parts read the leads from one snapshot, taken when it starts, which is what the score
    changes compare with. (A lead another transaction changes meanwhile is written from its
    newest version, as any UPDATE does, while its ScoreChange was read from the snapshot.) A
    temporary table in between cost more than it saved: creating, analyzing, writing and
    reading it back took about a second per 250,000 leads. A statement that writes never runs in
    parallel, so each chunk of a rescore or decay pass is one process; chunks run side by side
    (Celery workers, or `score_chunks_here`'s connections) to use every core.
    """
    changes_sql, changes_params = store.score_changes("scores")
    update_sql, update_params = store.lead_update("scores")
    mql_sql, mql_params = store.candidates("scores")
    cursor.execute(
        f"""WITH scores AS MATERIALIZED ({_SCORES.format(store.select.text)}),
                moved AS ({changes_sql}),
                stored AS ({update_sql} RETURNING 1)
            SELECT (SELECT COUNT(*) FROM stored), ARRAY({mql_sql})""",
        [*store.select.params, *changes_params, *update_params, *mql_params],
    )
    changed, candidates = cursor.fetchone()
    return changed, candidates


def _store_through_temp_table(cursor, store: _Store) -> tuple[int, list[int]]:
    """SQLite, which has no INSERT or UPDATE inside WITH: the same steps through a temporary
    table."""
    cursor.execute(f"DROP TABLE IF EXISTS {_TEMP_TABLE}")
    cursor.execute(
        f"CREATE TEMP TABLE {_TEMP_TABLE} AS {_SCORES.format(store.select.text)}",
        store.select.params,
    )
    cursor.execute(*store.score_changes(_TEMP_TABLE))
    cursor.execute(*store.lead_update(_TEMP_TABLE))
    changed = cursor.rowcount
    cursor.execute(*store.candidates(_TEMP_TABLE))
    candidates = [row[0] for row in cursor.fetchall()]
    cursor.execute(f"DROP TABLE {_TEMP_TABLE}")
    return changed, candidates


@contextmanager
def _planner_settings(cursor, values: dict[str, str]):
    """PostgreSQL settings for one statement: set for it, then put back as they were, so the
    rest of a surrounding transaction (an API request) runs with the usual ones."""
    if connection.vendor != "postgresql":
        yield
        return
    previous = {}
    for name, value in values.items():
        cursor.execute("SELECT current_setting(%s)", [name])
        previous[name] = cursor.fetchone()[0]
        cursor.execute("SELECT set_config(%s, %s, true)", [name, value])
    try:
        yield
    finally:
        for name, value in previous.items():
            cursor.execute("SELECT set_config(%s, %s, true)", [name, value])


def _still_active(cursor, ruleset: RuleSet) -> bool:
    """Whether `ruleset` is still the active one, held so until the caller's transaction ends.

    The share lock makes a publish (which updates this row) wait for scores being stored with
    this rule set, and scores started after the publish see it archived: no lead is left with
    the old rule set's score once the new one's rescore has passed it.
    """
    lock = " FOR SHARE" if connection.vendor == "postgresql" else ""
    cursor.execute(f"SELECT status FROM scoring_ruleset WHERE id = %s{lock}", [ruleset.pk])
    row = cursor.fetchone()
    return row is not None and row[0] == RuleSet.Status.ACTIVE


def rescore_leads(lead_ids, *, reason: str, as_of: datetime | None = None) -> int:
    """Rescore these leads now with the active rule set (activity arrived, record edited,
    an import). Returns how many leads changed."""
    ruleset = RuleSet.objects.active()
    ids = sorted(set(lead_ids))
    if ruleset is None or not ids:
        return 0
    spec, as_of = ruleset.to_spec(), as_of or timezone.now()
    if len(ids) <= ID_LIST_LIMIT:
        with transaction.atomic():
            # Concurrent batches for the same leads take turns, in id order (no deadlock), so
            # the last to score a lead sees every activity the others stored.
            locked = Lead.objects.select_for_update(no_key=True).filter(pk__any=ids).order_by("pk")
            list(locked.values_list("pk", flat=True))
            return apply_scores(
                ruleset, LeadSelection(ids=tuple(ids)), as_of=as_of, reason=reason, spec=spec
            )
    # Many leads: whole id ranges are far cheaper for the database than long IN lists, and
    # rescoring a lead that did not change is harmless (same data, same score).
    changed, start = 0, ids[0]
    while start <= ids[-1]:
        stop = start + CHUNK_SIZE
        changed += apply_scores(
            ruleset, LeadSelection(start=start, stop=stop), as_of=as_of, reason=reason, spec=spec
        )
        start = next((i for i in ids[bisect_left(ids, stop) :][:1]), ids[-1] + 1)
    return changed


def refresh_planner_statistics() -> None:
    """ANALYZE the tables scoring reads, after bulk writes (PostgreSQL; SQLite needs none)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE leads_lead, leads_leadscore, leads_account, leads_activity")


def vacuum_scores() -> bool:
    """VACUUM the leads' score rows after a pass that rewrote most of them; False where it did
    not run.

    Counting leads by cell (the matrix, the home page, the admin's cell filter) can then read
    the small cell index alone, without visiting the table: at a million leads 0.05-0.1 s, not
    0.25-0.6 s. A pass rewrites each score row in place (HOT), whose pruning keeps the dead rows
    too few for autovacuum ever to start, so without this the table's pages stayed marked as
    changed. Housekeeping only: a failure (a lock or statement timeout) is logged, not raised,
    and the table is not truncated, which would lock out readers for a moment.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return False  # SQLite has no visibility map; VACUUM cannot run inside a transaction
    try:
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (TRUNCATE false) leads_leadscore")
    except DatabaseError:
        logger.warning("vacuuming the score rows failed", exc_info=True)
        return False
    return True


def rescore_all(*, reason: str) -> int:
    """Rescore every lead here and now (a large import); returns how many leads there are."""
    ruleset = RuleSet.objects.active()
    if ruleset is None:
        return 0
    start_rescore(ruleset, reason=reason, sync=True)
    return Lead.objects.count()


def lead_id_chunks(chunk_size: int = CHUNK_SIZE) -> list[tuple[int, int]]:
    """The leads' ids cut into ranges, in the order to score them.

    Equal ranges of at most `chunk_size` ids, as many as a multiple of RESCORE_SYNC_CONNECTIONS
    (the chunks scored at once). Cut by size alone, 100,000 leads were one chunk, and 300,000
    one of 250,000 and one of 50,000: one core did nearly all the work while the other waited.

    Then the connections are put out of step: with two, the second chunk is cut in two and its
    second half scored last, so the second connection starts on half a chunk and each writes
    its leads while the other is still computing. A chunk ends by writing its leads, and
    written at the same moments as the other connection's, every chunk took 10-15 % longer
    (the two contend for the write-ahead log). With more connections, the k-th starts on
    (connections - k) / connections of a chunk.
    """
    bounds = Lead.objects.aggregate(low=Min("id"), high=Max("id"))
    if bounds["low"] is None:
        return []
    low, high = bounds["low"], bounds["high"]
    span, side_by_side = high - low + 1, max(1, settings.RESCORE_SYNC_CONNECTIONS)
    count = -(-span // chunk_size)  # ceiling division
    count = -(-count // side_by_side) * side_by_side
    size = -(-span // count)
    chunks = [(start, min(start + size, high + 1)) for start in range(low, high + 1, size)]
    tails = []
    for k in range(1, min(side_by_side, len(chunks))):
        start, stop = chunks[k]
        cut = start + (stop - start) * (side_by_side - k) // side_by_side
        if start < cut < stop:
            chunks[k] = (start, cut)
            tails.append((cut, stop))
    return chunks + tails[::-1]


def start_rescore(
    ruleset: RuleSet,
    *,
    reason: str,
    as_of: datetime | None = None,
    sync: bool = False,
    only_with_activity: bool = False,
    chunk_size: int = CHUNK_SIZE,
    progress: Callable[[RescoreRun], None] | None = None,
) -> RescoreRun:
    """Rescore every lead, split by lead-id range into Celery tasks (or here, with sync=True)."""
    chunks = lead_id_chunks(chunk_size)
    run = RescoreRun.objects.create(
        ruleset=ruleset,
        reason=reason,
        as_of=as_of,
        total_chunks=len(chunks),
        open_handoffs=as_of is None,
        only_with_activity=only_with_activity,
        queued_at=timezone.now() if sync else None,  # run here: nothing to hand to Celery
    )
    RescoreChunk.objects.bulk_create(
        RescoreChunk(run=run, start=start, stop=stop) for start, stop in chunks
    )
    if not chunks:
        finish_chunk(run.pk, None, 0)
    if sync:
        _rescore_chunks_here(run, chunks, progress)
    elif chunks:
        transaction.on_commit(lambda: queue_chunks(run))
    run.refresh_from_db()
    return run


def _rescore_chunks_here(
    run: RescoreRun,
    chunks: list[tuple[int, int]],
    progress: Callable[[RescoreRun], None] | None,
) -> None:
    """A run's chunks in this process (see `score_chunks_here`). After an error (or Ctrl-C) the
    stall sweep queues what is left."""

    def rescore(chunk: tuple[int, int]) -> int:
        return rescore_chunk_now(run.pk, *chunk, only_with_activity=run.only_with_activity)

    def report(_changed: int) -> None:
        if progress:
            run.refresh_from_db()
            progress(run)

    score_chunks_here(rescore, chunks, report, context={"run": run.pk})


def score_chunks_here(
    score: Callable[[tuple[int, int]], int],
    chunks: list[tuple[int, int]],
    done: Callable[[int], None] = lambda changed: None,
    *,
    context: dict | None = None,
) -> None:
    """Score chunks of leads in this process, RESCORE_SYNC_CONNECTIONS at a time on PostgreSQL:
    that many threads, each scoring chunk after chunk on a connection of its own, as that many
    Celery workers would. A chunk's statement writes, so PostgreSQL runs it in one process, and
    side by side they use every core. (A connection per chunk gave every chunk a new database
    process, whose memory and caches start cold: about 3 % of a rescore.)

    Inside a transaction (a publish, an import, a test) or on SQLite they run one after
    another: other connections could not see this one's uncommitted rows, and SQLite writes one
    at a time. After an error no further chunk starts; one already running finishes, then the
    first error is raised here.
    """
    workers = settings.RESCORE_SYNC_CONNECTIONS
    if workers < 2 or connection.vendor != "postgresql" or connection.in_atomic_block:
        for chunk in chunks:
            done(score(chunk))
        return

    waiting, taking = deque(chunks), threading.Lock()
    # What the threads report, in turn: (leads changed, None) or (None, error) for each chunk,
    # and None when a thread is done.
    reports: queue.SimpleQueue = queue.SimpleQueue()

    def next_chunk() -> tuple[int, int] | None:
        with taking:
            return waiting.popleft() if waiting else None

    def start_no_more() -> None:
        with taking:
            waiting.clear()

    def score_in_turn() -> None:
        try:
            while (chunk := next_chunk()) is not None:
                try:
                    reports.put((score(chunk), None))
                except BaseException as error:
                    # Logged here: only the first failure is raised to the caller.
                    logger.exception(
                        "scoring a chunk failed", extra={**(context or {}), "start": chunk[0]}
                    )
                    start_no_more()
                    reports.put((None, error))
        finally:
            connection.close()  # this thread's: Django opens one per thread
            reports.put(None)

    threads = [threading.Thread(target=score_in_turn) for _ in range(min(workers, len(chunks)))]
    for thread in threads:
        thread.start()
    first_error, running = None, len(threads)
    try:
        while running:
            report = reports.get()
            if report is None:
                running -= 1
            elif report[1] is not None:
                first_error = first_error or report[1]
            else:
                done(report[0])
    except BaseException:
        start_no_more()  # an interrupt: the running chunks finish, no other starts
        for thread in threads:
            thread.join()
        raise
    if first_error is not None:
        raise first_error


def queue_chunks(run: RescoreRun) -> bool:
    """Hand a run's unfinished chunks to Celery; False when the broker is down, in which case
    the run stays unqueued and `resume_stalled_rescores` queues it once the broker is back."""
    from .tasks import rescore_chunk  # tasks imports this module

    for chunk in run.chunks.filter(done_at__isnull=True).order_by("pk"):  # as cut
        if not broker.send(rescore_chunk, run.pk, chunk.start, chunk.stop, run.only_with_activity):
            return False
    RescoreRun.objects.filter(pk=run.pk).update(queued_at=timezone.now())
    return True


def resume_stalled_rescores(*, now: datetime | None = None) -> list[RescoreRun]:
    """Queue again the unfinished chunks of runs that never reached the broker (it was down)
    or have made no progress for RESCORE_STALL_SECONDS (every worker on them died). A chunk
    still running somewhere is harmless to repeat: scoring is idempotent and a chunk counts once.
    """
    now = now or timezone.now()
    stalled_since = now - timedelta(seconds=settings.RESCORE_STALL_SECONDS)
    never_queued = Q(
        queued_at__isnull=True,
        started_at__lt=now - timedelta(seconds=settings.RECOVERY_GRACE_SECONDS),
    )
    no_progress = Q(queued_at__lt=stalled_since) & (
        Q(progressed_at__isnull=True) | Q(progressed_at__lt=stalled_since)
    )
    stalled = RescoreRun.objects.filter(status=RescoreRun.Status.RUNNING).filter(
        never_queued | no_progress
    )
    resumed = [run for run in stalled if queue_chunks(run)]
    for run in resumed:
        logger.info("rescore run resumed", extra={"run": run.pk, "ruleset": run.ruleset_id})
    return resumed


def rescore_chunk_now(
    run_id: int, start: int, stop: int, *, only_with_activity: bool, vacuum_after: bool = False
) -> int:
    """One chunk of a run. Idempotent: a redelivered chunk computes and stores the same scores.
    With `vacuum_after` (a worker's chunk) the chunk that finishes the run then vacuums the
    score rows; a run scored in one process is vacuumed by its caller, after it is done."""
    run = RescoreRun.objects.select_related("ruleset").get(pk=run_id)
    # apply_scores stores nothing if a newer rule set was published meanwhile. Its scores and
    # handoffs commit before the chunk is counted: a chunk cut short is redelivered and opens
    # what it did not (its count of leads changed then misses what the first try stored).
    changed = apply_scores(
        run.ruleset,
        LeadSelection(start=start, stop=stop, only_with_activity=only_with_activity),
        as_of=run.as_of or timezone.now(),
        reason=run.reason,
        open_handoffs=run.open_handoffs,
    )
    closed = finish_chunk(run_id, start, changed)
    if closed and vacuum_after:
        vacuum_scores()
    return changed


def finish_chunk(run_id: int, start: int | None, changed: int) -> bool:
    """Count a chunk as done, once, and close the run after its last chunk; True when this
    call closed it."""
    now = timezone.now()
    with transaction.atomic():
        if start is not None:
            newly_done = RescoreChunk.objects.filter(
                run_id=run_id, start=start, done_at__isnull=True
            ).update(done_at=now)
            if not newly_done:
                return False  # a redelivered chunk: counted the first time
            RescoreRun.objects.filter(pk=run_id).update(
                done_chunks=F("done_chunks") + 1,
                leads_changed=F("leads_changed") + changed,
                progressed_at=now,
            )
        closed = RescoreRun.objects.filter(
            pk=run_id, done_chunks__gte=F("total_chunks"), status=RescoreRun.Status.RUNNING
        ).update(status=RescoreRun.Status.DONE, finished_at=now)
    return bool(closed)


def decay_scores(*, as_of: datetime | None = None) -> int:
    """The periodic decay pass: recompute interest for every lead that has activity."""
    ruleset = RuleSet.objects.active()
    if ruleset is None:
        return 0
    spec = ruleset.to_spec()
    as_of = as_of or timezone.now()
    changed = []

    def decay(chunk: tuple[int, int]) -> int:
        return apply_scores(
            ruleset,
            LeadSelection(*chunk, only_with_activity=True),
            as_of=as_of,
            reason=ScoreChange.Reason.DECAY,
            spec=spec,
        )

    score_chunks_here(decay, lead_id_chunks(), changed.append, context={"pass": "decay"})
    vacuum_scores()
    return sum(changed)
