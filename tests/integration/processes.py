"""Real servers the fault tests may break: a private Redis and PostgreSQL each test can stop and
start without touching the machine's own, and the production web and worker processes
started exactly as the README's deployment section says."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(check, *, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class PrivateRedis:
    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        options = [
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        self.process = subprocess.Popen(["redis-server", *options], stdout=subprocess.DEVNULL)
        wait_for(self._answers, timeout=10, what="redis-server")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False


class PrivatePostgres:
    """A throwaway cluster (initdb), run as the postgres user when the tests run as root."""

    def __init__(self):
        binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        initdb = binaries[-1] if binaries else shutil.which("initdb")
        if not initdb:
            raise RuntimeError("PostgreSQL's initdb is not installed")
        self.bin = Path(initdb).parent
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="leadgauge-pg-")
        self.as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_owner:
            shutil.chown(self.dir, "postgres")
        self._run("initdb", "-D", f"{self.dir}/data", "-U", "postgres", "-A", "trust")
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/leadgauge"

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [*self.as_owner, str(self.bin / tool), *args], check=True, capture_output=True
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = f"{self.dir}/log"
        self._run("pg_ctl", "-D", f"{self.dir}/data", "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", f"{self.dir}/data", "-m", "fast", "-w", "stop")

    def createdb(self) -> None:
        self._run(
            "createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "leadgauge"
        )

    def remove(self) -> None:
        stop = [str(self.bin / "pg_ctl"), "-D", f"{self.dir}/data", "-m", "immediate", "stop"]
        subprocess.run([*self.as_owner, *stop], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def production_env(*, database_url: str, redis_url: str, static_root: str, **extra) -> dict:
    """The environment of a production process (DEBUG=0), as the README's deployment shows."""
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY")}
    env.update(
        DEBUG="0",
        SECRET_KEY="integration-" + "k" * 50,
        SECURE_SSL_REDIRECT="0",  # plain HTTP on loopback; TLS is the proxy's job
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DATABASE_URL=database_url,
        CELERY_BROKER_URL=f"{redis_url}/0",
        REDIS_URL=f"{redis_url}/1",
        STATIC_ROOT=static_root,
        LOG_FORMAT="json",
    )
    env.update({key: str(value) for key, value in extra.items()})
    return env


def manage(env: dict, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def start_logged(command: list[str], env: dict, **options) -> tuple[subprocess.Popen, Path]:
    """Start a process from the project's root with its output in a log file a failing test
    can show."""
    log = Path(tempfile.mkdtemp(prefix="leadgauge-")) / "output.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, **options
        )
    return process, log


class Web:
    """gunicorn with config/gunicorn.py, one worker with threads."""

    def __init__(self, env: dict):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**env, "HOST": "127.0.0.1", "PORT": str(self.port), "WEB_CONCURRENCY": "1"}
        self.process, self.log = start_logged(
            [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py", "config.wsgi"], env
        )
        wait_for(self._listening, timeout=30, what="gunicorn")

    def _listening(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError("gunicorn exited:\n" + self.output())
        try:
            requests.get(f"{self.url}/healthz", timeout=5)
        except requests.ConnectionError:
            return False
        return True

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


class Worker:
    """`celery -A config worker` and, when asked, `celery -A config beat` beside it, each in its
    own process group so a test can kill a worker and its pool at once, like a lost machine."""

    def __init__(self, env: dict, *, beat: bool = False):
        celery = [sys.executable, "-m", "celery", "-A", "config"]
        self.process, self.log = start_logged(
            [*celery, "worker", "--concurrency=1", "--loglevel=INFO", "--without-mingle",
             "--without-gossip"],
            env,
            start_new_session=True,
        )  # fmt: skip
        self.beat = None
        if beat:
            schedule = Path(tempfile.mkdtemp(prefix="leadgauge-beat-")) / "schedule"
            self.beat, self.beat_log = start_logged(
                [*celery, "beat", "--loglevel=INFO", "-s", str(schedule)],
                env,
                start_new_session=True,
            )

    def output(self) -> str:
        beat = self.beat_log.read_text(errors="replace") if self.beat else ""
        return self.log.read_text(errors="replace") + beat

    def kill(self) -> None:
        """SIGKILL to the worker and its pool children: nothing gets to clean up or ack."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        for process in (self.process, self.beat):
            if process is None or process.poll() is not None:
                continue
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
