"""`make run` as a person runs it: the real Makefile target, its launcher and Procfile,
on a free port with a private data directory, stopped with Ctrl-C (SIGINT)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
import requests

from tests.servers import ROOT, free_port
from tests.subscribers.helpers import signup_data

ADMIN_USER, ADMIN_PASSWORD = "admin", "a-long-password-for-make-run"
# What `make run` must not inherit from the test process (pytest-django sets the first).
APP_VARIABLES = ("DJANGO_", "DATABASE_URL", "REDIS_URL", "DATA_DIR", "EMAIL_", "SITE_URL")


# What an admin does on the Periodic tasks page to have digests dispatched now: give the
# dispatch job a schedule of every 2 seconds (django-celery-beat's models; save() tells beat).
DISPATCH_NOW = """
from django_celery_beat.models import IntervalSchedule, PeriodicTask
every, _ = IntervalSchedule.objects.get_or_create(every=2, period=IntervalSchedule.SECONDS)
task = PeriodicTask.objects.get(task="alerts.tasks.dispatch_due_digests")
task.crontab, task.interval = None, every
task.save()
"""


def plain_text(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


@dataclass
class MakeRun:
    proc: subprocess.Popen
    port: int
    data_dir: Path
    log: Path
    env: dict[str, str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"make run exited ({self.proc.returncode}):\n{self.output()[-6000:]}")
            time.sleep(0.2)
        raise AssertionError(f"{text!r} not printed after {timeout:.0f}s:\n{self.output()[-6000:]}")

    def outbox(self) -> list[EmailMessage]:
        """The messages in make run's local outbox, oldest first."""
        directory = self.data_dir / "outbox"
        paths = sorted(directory.glob("*.eml")) if directory.is_dir() else []
        return [message_from_bytes(path.read_bytes(), policy=policy.default) for path in paths]

    def wait_for_mail(self, count: int, timeout: float = 60.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            messages = self.outbox()
            if len(messages) >= count:
                return messages
            time.sleep(0.2)
        raise AssertionError(f"{count} message(s) expected in the outbox:\n{self.output()[-6000:]}")

    def manage(self, *args: str) -> str:
        """Run a management command on make run's database, as its operator would."""
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def dispatch_digests_now(self) -> None:
        self.manage("shell", "-c", DISPATCH_NOW)

    def sign_up(self, email: str, filters: list[tuple[str, str]], **fields: str) -> requests.Response:
        """Fill in and send the sign-up form, as a browser without JavaScript does."""
        session = requests.Session()
        page = session.get(f"{self.url}/", timeout=30)
        assert page.status_code == 200
        data = signup_data(email=email, filters=filters, timezone="UTC", **fields)
        data["csrfmiddlewaretoken"] = session.cookies["csrftoken"]
        return session.post(f"{self.url}/", data=data, timeout=60)

    def link_in_mail(self, to: str, path: str, count: int = 1) -> str:
        """The first link to `path` in the newest message to `to` (waiting for it to arrive)."""
        self.wait_for_mail(count)
        message = [m for m in self.outbox() if m["To"] == to][-1]
        return next(word for word in plain_text(message).split() if word.startswith(f"{self.url}{path}"))

    def admin_session(self) -> requests.Session:
        """A browser-like session logged in to the admin with the account make run created."""
        session = requests.Session()
        login = f"{self.url}/admin/login/"
        session.get(login, timeout=30)
        answer = session.post(
            login,
            data={
                "username": ADMIN_USER,
                "password": ADMIN_PASSWORD,
                "csrfmiddlewaretoken": session.cookies["csrftoken"],
                "next": "/admin/",
            },
            headers={"Referer": login},
            timeout=30,
        )
        assert answer.url == f"{self.url}/admin/", answer.text[:2000]
        return session

    def stop(self, timeout: float = 60.0) -> None:
        """Ctrl-C, as in the terminal: the whole foreground process group gets SIGINT.

        make waits for the launcher to finish stopping everything, then dies of the signal.
        """
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                raise


def path_without(program: str, directory: Path) -> str:
    """A PATH with every program of this one except `program` (as on a machine without it).

    The programs are linked into `directory`, so that make and the shell still find the
    usual tools (touch, sh...) wherever they live.
    """
    directory.mkdir(parents=True, exist_ok=True)
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        if not folder or not os.path.isdir(folder):
            continue
        for entry in os.scandir(folder):
            link = directory / entry.name
            if entry.name != program and not link.exists() and os.access(entry.path, os.X_OK):
                link.symlink_to(entry.path)
    return str(directory)


@pytest.fixture
def make_run(tmp_path):
    """Start `make run`: `make_run(path=, demo=, port=, data_dir=, **env)`; stopped after the test."""
    started: list[MakeRun] = []
    make = shutil.which("make")
    assert make, "make is not installed"

    def start(
        *,
        path: str | None = None,
        demo: bool = False,
        port: int | None = None,
        data_dir: Path | None = None,
        **extra_env: str,
    ) -> MakeRun:
        env = {key: value for key, value in os.environ.items() if not key.startswith(APP_VARIABLES)}
        data_dir = data_dir or tmp_path / f"data{len(started)}"
        env.update(
            DATA_DIR=str(data_dir),
            DJANGO_SUPERUSER_USERNAME=ADMIN_USER,
            DJANGO_SUPERUSER_PASSWORD=ADMIN_PASSWORD,
            DJANGO_SUPERUSER_EMAIL="admin@example.org",
        )
        env.update(extra_env)
        if path is not None:
            env["PATH"] = path
        port = port or free_port()
        # The virtualenv running this test is the one make run uses (already installed).
        cmd = [make, "--no-print-directory", "run", f"PORT={port}", f"VENV={sys.prefix}"]
        if demo:
            cmd.append("DEMO=1")
        log = tmp_path / f"make-run{len(started)}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        running = MakeRun(proc=proc, port=port, data_dir=data_dir, log=log, env=env)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()
