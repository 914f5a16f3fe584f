"""`make run`: the whole service on one machine, under one supervisor process.

    python -m config.run [--port 8000] [--demo]

1. Chooses the broker: REDIS_URL when set; otherwise a private `redis-server` from PATH on
   a free port, its files under data/redis/ (stopped when this stops); with no redis-server
   at all, tasks run in-process (the settings make Celery eager when REDIS_URL is empty).
2. Prepares the database: migrations, static files when DEBUG is off, an admin account when
   DJANGO_SUPERUSER_USERNAME and DJANGO_SUPERUSER_PASSWORD are set, the demo papers on --demo.
3. Starts the Procfile's processes with honcho (web, worker, beat; or web and beat alone,
   which then runs due periodic tasks in its own process) and prints where to go.
Ctrl-C (or SIGTERM) stops them all, then the private Redis.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROCFILE = ROOT / "Procfile"
DEFAULT_PORT = 8000
# Where `make run` records the SITE_URL it chose, for every process started without it
# (manage.py send_digests in another terminal): read by config/settings/local.py.
SITE_FILE_NAME = "site.json"
# honcho's exit status after SIGINT or SIGTERM
STOPPED_BY_SIGNAL = {130, 143}

NO_REDIS_NOTICE = (
    "redis-server not found: tasks run in-process, without a worker, and rate limits are "
    "counted in the web process's own memory, not shared with any other process "
    "(install it for the full set-up: sudo apt-get install redis-server, or brew install redis)"
)


@dataclass
class Broker:
    url: str  # empty: tasks run in-process
    proc: subprocess.Popen | None = None  # the private redis-server, when this started one

    @property
    def processes(self) -> list[str]:
        return ["web", "worker", "beat"] if self.url else ["web", "beat"]

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()  # Redis saves its dump and exits
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"redis-server exited with status {proc.returncode}; see its log")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"redis-server is not listening on port {port} after {timeout:.0f}s")


def start_broker(env: dict[str, str], data_dir: Path) -> Broker:
    if env.get("REDIS_URL"):
        return Broker(url=env["REDIS_URL"])
    binary = shutil.which("redis-server", path=env.get("PATH"))
    if binary is None:
        print(NO_REDIS_NOTICE, flush=True)
        return Broker(url="")
    directory = data_dir / "redis"
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    # Loopback only; snapshots in data/redis/ keep queued tasks across restarts.
    cmd = [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--protected-mode",
        "yes",
        "--dir",
        str(directory),
        "--save",
        "60",
        "1",
        "--appendonly",
        "no",
        "--logfile",
        str(directory / "redis.log"),
    ]
    # A session of its own: Ctrl-C in the terminal must not stop it before the processes
    # that use it have stopped.
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, start_new_session=True)
    wait_for_port(port, proc)
    print(f"started a private redis-server on port {port} (files in {directory})", flush=True)
    return Broker(url=f"redis://127.0.0.1:{port}/0", proc=proc)


def record_site_url(data_dir: Path, site_url: str) -> Path:
    """Write the SITE_URL this run uses to data/site.json (atomically: a command starting at
    the same moment reads the old file or the new one, never half of one)."""
    path = data_dir / SITE_FILE_NAME
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps({"SITE_URL": site_url}) + "\n")
    partial.replace(path)
    return path


def admin_url_path(env: dict[str, str]) -> str:
    # Mirrors ADMIN_URL in config/settings/base.py.
    return "/" + env.get("DJANGO_ADMIN_URL", "admin/").strip("/") + "/"


def prepare(*, demo: bool) -> list[str]:
    """Migrate, collect static files if needed, create the admin account, load the demo.

    Runs in this process (one Django start-up instead of one per step). Returns the lines
    to print with the URLs.
    """
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate", interactive=False, verbosity=1)
    if not settings.DEBUG:
        # With DEBUG off WhiteNoise serves only collected files.
        call_command("collectstatic", interactive=False, verbosity=0)
    notes = []
    username = os.environ.get("DJANGO_SUPERUSER_USERNAME", "")
    password = os.environ.get("DJANGO_SUPERUSER_PASSWORD", "")
    users = get_user_model().objects
    if username and password:
        if users.filter(username=username).exists():
            notes.append(f"admin account: {username} (exists; its password is unchanged)")
        else:
            email = os.environ.get("DJANGO_SUPERUSER_EMAIL", "")
            users.create_superuser(username=username, email=email, password=password)
            notes.append(f"admin account: {username} (created from DJANGO_SUPERUSER_USERNAME/PASSWORD)")
    elif not users.filter(is_superuser=True).exists():
        notes.append(
            "no admin account yet: run `.venv/bin/python manage.py createsuperuser`, or set "
            "DJANGO_SUPERUSER_USERNAME and DJANGO_SUPERUSER_PASSWORD before `make run`"
        )
    if demo:
        call_command("load_demo")
        notes.append(
            "demo papers loaded: sign up, confirm from the outbox, then "
            "`.venv/bin/python manage.py send_digests --email YOU` sends a first digest now"
        )
        notes.append("offline demo: the scheduled fetches of arXiv and Hugging Face are skipped")
    connections.close_all()  # the supervisor forks next; no connection may be shared
    return notes


def banner(*, port: int, env: dict[str, str], broker: Broker, notes: list[str]) -> str:
    base = f"http://127.0.0.1:{port}"
    admin = base + admin_url_path(env)
    tasks = "worker and beat on Redis" if broker.url else "in-process (beat runs the periodic jobs)"
    limits = "shared in Redis" if broker.url else "in this one web process only (no Redis)"
    lines = [
        "",
        "Paper alerts is running:",
        f"  sign-up page   {base}/",
        f"  admin          {admin}",
        f"  local outbox   {admin}outbox/   (every email the service sends)",
        f"  links in mail  {env['SITE_URL']}   (SITE_URL; manage.py commands use it too)",
        f"  tasks          {tasks}",
        f"  rate limits    {limits}",
        *(f"  {note}" for note in notes),
        "Press Ctrl-C to stop.",
        "",
    ]
    return "\n".join(lines)


def announce_when_ready(printer, port: int, text: str, stop: threading.Event) -> None:
    """Print the URLs once the web server answers, so they are not lost in start-up logs."""
    from honcho.printer import Message

    while not stop.is_set():
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
        except urllib.error.HTTPError:
            pass  # it answers, even if unhealthy
        except OSError:
            stop.wait(0.2)
            continue
        printer.write(Message(type="line", data=text, time=datetime.now(), name="run", colour=None))
        return


def supervise(names: list[str], env: dict[str, str], port: int, text: str) -> int:
    from honcho.environ import parse_procfile
    from honcho.manager import Manager
    from honcho.printer import Printer

    procfile = parse_procfile(PROCFILE.read_text())
    printer = Printer(sys.stdout)
    manager = Manager(printer)
    for name in names:
        manager.add_process(name, procfile.processes[name], env=env, cwd=str(ROOT))
    stop = threading.Event()
    thread = threading.Thread(target=announce_when_ready, args=(printer, port, text, stop), daemon=True)
    thread.start()
    try:
        manager.loop()
    finally:
        stop.set()
    if manager.returncode in STOPPED_BY_SIGNAL:
        return 0  # Ctrl-C or SIGTERM: stopping is what was asked for
    return manager.returncode or 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or DEFAULT_PORT))
    parser.add_argument(
        "--demo", action="store_true", help="load the demo papers first; run offline (no scheduled fetches)"
    )
    args = parser.parse_args(argv)
    # Until the supervisor takes over SIGTERM, turn it into an exit that runs the clean-up
    # below (the private Redis must not outlive this process).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))

    if not port_is_free(args.port):
        print(f"port {args.port} is in use: stop what runs there, or `make run PORT=8001`", file=sys.stderr)
        return 2
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    data_dir = Path(env.get("DATA_DIR") or ROOT / "data").resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    env["DATA_DIR"] = str(data_dir)
    # The Procfile's `python` is this interpreter (the virtualenv's), activated or not.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.setdefault("SITE_URL", f"http://127.0.0.1:{args.port}")
    record_site_url(data_dir, env["SITE_URL"])
    env["RUN_WEB_PORT"] = str(args.port)
    if args.demo:
        # The demo's papers come from files: the scheduled fetches of arXiv and Hugging Face
        # are skipped, so a machine without network shows no failed runs.
        env["OFFLINE_DEMO"] = "1"
    env["PYTHONUNBUFFERED"] = "1"

    broker = start_broker(env, data_dir)
    try:
        env["REDIS_URL"] = broker.url
        os.environ.update(env)  # this process prepares the database with the same settings
        notes = prepare(demo=args.demo)
        text = banner(port=args.port, env=env, broker=broker, notes=notes)
        return supervise(broker.processes, env, args.port, text)
    except KeyboardInterrupt:
        return 130  # Ctrl-C before the processes started
    finally:
        broker.stop()


if __name__ == "__main__":
    sys.exit(main())
