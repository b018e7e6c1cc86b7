"""`manage.py bench --small`: a smoke run on tiny numbers, so the command never rots. The
figures themselves are not asserted (timings vary by machine); what a user reads is."""

import io
import re
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from api.models import ApiToken
from feedback.models import Handoff, HandoffContribution, SdrProfile
from leads.models import Activity, Lead
from scoring.bench import _IngestUndo, floor_worker_counts
from scoring.models import ScoreChange

pytestmark = pytest.mark.django_db

SMALL = ["--small", "--leads", "300", "--activities", "3000", "--repeats", "1"]
FAST = ["--requests", "10", "--batches", "1"]
FIGURES = [
    "full rescore (rescore --sync), stored fit kept",
    "full rescore, every fit computed",
    "interest by hand-written SQL (floor)",
    "full rescore ÷ floor",
    "full rescore, every fit computed ÷ floor",
    "rescore peak memory",
    "decay pass",
    "single activity ingest p50",
    "single activity ingest p95",
    "batch ingest",
    "queue page p50",
    "queue page p95",
    "calibration page p50",
    "calibration page p95",
]


def bench(*args: str) -> str:
    out = io.StringIO()
    call_command("bench", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_it_prints_every_figure_with_its_target_and_writes_benchmarks_md(tmp_path: Path):
    output = tmp_path / "BENCHMARKS.md"
    printed = bench(*SMALL, *FAST, "--output", str(output))

    assert "Generating 300 leads and 3,000 activities" in printed
    for name in FIGURES:
        assert name in printed
    assert "≤ 1.5 ×" in printed and "≥ 5,000 activities/s" in printed
    written = output.read_text()
    for name in FIGURES:
        assert name in written
    assert "--leads 300 --activities 3000" in written
    assert "CPU:" in written and "database:" in written
    # The host's speed at the time, for reading the figures of a shared virtual machine.
    assert re.search(r"CPU speed: a fixed Python loop took \d+\.\d\d s before", written)
    # The floor is timed with each worker count up to one per core; the fastest is the floor.
    for workers in floor_worker_counts():
        assert re.search(rf"{workers} parallel worker\(s\): \d+\.\d\d s", written)
    # What the process held before the rescores, so the peak can be read as the rescore's own.
    if Path("/proc/self/status").exists():
        assert re.search(r"The process held \d+ MB when the rescores began", written)
    assert Lead.objects.count() == 300
    # The ingest figures' activities are removed: the generated set stays as generated.
    assert Activity.objects.count() == 3000


def test_a_second_run_reuses_the_data_and_refuses_a_data_set_of_another_size(tmp_path: Path):
    output = tmp_path / "BENCHMARKS.md"
    bench(*SMALL, *FAST, "--output", str(output))
    output.write_text(output.read_text() + "\n## What we changed\n\nKept.\n")

    printed = bench(*SMALL, *FAST, "--output", str(output))

    assert "Reusing the bench data: 300 leads, 3,000 activities" in printed
    assert "Generating" not in printed
    assert output.read_text().count("full rescore ÷ floor") == 1
    assert "## What we changed" in output.read_text()
    with pytest.raises(CommandError, match="--leads 300 --activities 3000"):
        bench("--small", "--leads", "500", "--activities", "3000", "--output", str(tmp_path))


def bench_state() -> dict[str, list]:
    """What the next run reads: open handoffs, each lead's stage, owner and score, the score
    history, the handoffs' rule rows and the SDRs' turns in the round robin."""
    return {
        "open handoffs": sorted(Handoff.objects.open().values_list("lead_id", "assigned_to_id")),
        "leads": sorted(
            Lead.objects.values_list("pk", "stage", "owner_id", "score__cell", "score__total_score")
        ),
        "score changes": sorted(ScoreChange.objects.values_list("pk", flat=True)),
        "handoff rules": sorted(HandoffContribution.objects.values_list("pk", flat=True)),
        "turns": sorted(SdrProfile.objects.values_list("pk", "last_assigned_at")),
    }


def test_a_run_puts_back_what_its_ingest_changed_so_repeated_runs_time_the_same_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    states = {}
    mark, undo = _IngestUndo.mark.__func__, _IngestUndo.undo

    def marked(cls, lead_ids):
        states["before"] = bench_state()
        return mark(cls, lead_ids)

    def undone(self):
        states["ingested"] = bench_state()
        undo(self)

    monkeypatch.setattr(_IngestUndo, "mark", classmethod(marked))
    monkeypatch.setattr(_IngestUndo, "undo", undone)

    bench(*SMALL, *FAST, "--output", str(tmp_path / "BENCHMARKS.md"))

    # The ingest opened handoffs and wrote history, and all of it is gone after the run.
    ingested, before = states["ingested"], states["before"]
    assert len(ingested["open handoffs"]) > len(before["open handoffs"])
    assert len(ingested["score changes"]) > len(before["score changes"])
    assert bench_state() == before
    assert not Activity.objects.exclude(source="bench").exists()
    assert not ApiToken.objects.exists()  # the run's token went with it


def test_it_refuses_a_database_with_real_leads(tmp_path: Path):
    Lead.objects.create(email="dana@northwind.com")
    with pytest.raises(CommandError, match="database of its own"):
        bench(*SMALL, "--output", str(tmp_path / "B.md"))


def test_without_collected_static_files_it_stops_before_generating_anything(
    tmp_path: Path, settings
):
    settings.STATIC_ROOT = tmp_path / "static"  # collectstatic never ran: no manifest
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    output = tmp_path / "B.md"
    with pytest.raises(CommandError, match="collectstatic --no-input"):
        bench(*SMALL, *FAST, "--output", str(output))
    assert not Lead.objects.exists()
    assert not output.exists()


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the refusal is SQLite's")
def test_it_refuses_sqlite_without_small(tmp_path: Path):
    with pytest.raises(CommandError, match="--small"):
        bench("--leads", "10", "--output", str(tmp_path / "B.md"))
