"""Start the real servers the suite needs (PostgreSQL, Redis, Celery workers) on private ports.

Each server runs from the binaries installed on the machine, on a free loopback port, with
its files in a temporary directory that is removed when it stops. When a binary is missing
the caller decides: a skip on a developer's laptop, a failure in CI (CI=true).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class ServerUnavailable(RuntimeError):
    """A binary this server needs is not installed."""


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with status {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout}s")


def wait_until(condition, timeout: float = 60.0, what: str = "condition"):
    """Poll `condition` until it returns something true (returned), or fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached in {timeout}s")
        time.sleep(0.1)


# Redis -------------------------------------------------------------------------------


@dataclass
class RedisServer:
    port: int
    directory: Path
    proc: subprocess.Popen | None = None
    binary: str = "redis-server"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
                "--protected-mode",
                "yes",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, proc=self.proc)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def start_redis() -> RedisServer:
    binary = shutil.which("redis-server")
    if not binary:
        raise ServerUnavailable("redis-server is not installed (apt-get install redis-server)")
    directory = Path(tempfile.mkdtemp(prefix="pa-redis-"))
    return RedisServer(port=free_port(), directory=directory, binary=binary).start()


# PostgreSQL ---------------------------------------------------------------------------


def _pg_bindir() -> Path | None:
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        candidate = Path(out.stdout.strip())
        if (candidate / "initdb").exists():
            return candidate
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


@dataclass
class PostgresServer:
    port: int
    directory: Path
    bindir: Path
    run_as: str | None = None  # PostgreSQL refuses to run as root: use this account then
    user: str = "postgres"

    def _cmd(self, *args: str) -> list[str]:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.run_as:
            cmd = ["runuser", "-u", self.run_as, "--", *cmd]
        return cmd

    def url(self, name: str = "postgres") -> str:
        return f"postgres://{self.user}@127.0.0.1:{self.port}/{name}"

    def start(self) -> PostgresServer:
        data = self.directory / "data"
        subprocess.run(
            self._cmd("initdb", "-D", str(data), "-A", "trust", "-U", self.user, "-E", "UTF8", "--no-sync"),
            check=True,
            capture_output=True,
        )
        # fsync off: the suite's data is thrown away, and durability costs seconds per test.
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        subprocess.run(
            self._cmd(
                "pg_ctl", "-D", str(data), "-l", str(self.directory / "log"), "-o", options, "-w", "start"
            ),
            check=True,
            capture_output=True,
        )
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        subprocess.run(
            self._cmd("pg_ctl", "-D", str(self.directory / "data"), "-m", "immediate", "-w", "stop"),
            capture_output=True,
        )
        shutil.rmtree(self.directory, ignore_errors=True)


def start_postgres() -> PostgresServer:
    bindir = _pg_bindir()
    if bindir is None:
        raise ServerUnavailable("PostgreSQL is not installed (apt-get install postgresql)")
    run_as = None
    directory = Path(tempfile.mkdtemp(prefix="pa-pg-"))
    if os.geteuid() == 0:
        try:
            account = pwd.getpwnam("postgres")
        except KeyError as exc:
            raise ServerUnavailable("running as root needs the 'postgres' account") from exc
        os.chown(directory, account.pw_uid, account.pw_gid)
        run_as = "postgres"
    return PostgresServer(port=free_port(), directory=directory, bindir=bindir, run_as=run_as).start()


# Celery worker ------------------------------------------------------------------------


@dataclass
class CeleryWorker:
    """A real `celery worker` process running this project's code."""

    env: dict[str, str]
    name: str
    concurrency: int = 1
    pool: str = "prefork"
    log: Path = field(default_factory=lambda: Path(tempfile.mkstemp(prefix="pa-worker-", suffix=".log")[1]))
    proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> CeleryWorker:
        self._log_offset = self.log.stat().st_size if self.log.exists() else 0
        cmd = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--loglevel",
            "INFO",
            "--hostname",
            f"{self.name}@%h",
            "--pool",
            self.pool,
            "--concurrency",
            str(self.concurrency),
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        handle = open(self.log, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        # A new session, so that SIGKILL can reach the pool children too.
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=self.env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        handle.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"celery worker exited ({self.proc.returncode}):\n{self.output()}")
            if " ready." in self.output():
                return self
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"celery worker not ready after {timeout}s:\n{self.output()}")

    def output(self) -> str:
        with open(self.log, "rb") as fh:
            fh.seek(getattr(self, "_log_offset", 0))
            return fh.read().decode("utf-8", "replace")

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool children), as a crash would."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
