"""`make run` on a fresh data directory: what a newcomer sees and can do."""

import html
import re
import shutil
import socket
from datetime import UTC, datetime

import requests

from config.run import NO_REDIS_NOTICE

from .conftest import ADMIN_USER, DISPATCH_NOW, path_without, plain_text


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def private_redis_port(output: str) -> int:
    line = next(line for line in output.splitlines() if "started a private redis-server on port" in line)
    return int(line.split("on port ")[1].split()[0])


REFRESH_HF_NOW = DISPATCH_NOW.replace(
    'task="alerts.tasks.dispatch_due_digests"', 'name="Refresh Hugging Face daily papers"'
)
FAILED_FETCHES = "from alerts.models import FetchRun; print(FetchRun.objects.filter(status='failed').count())"


def check_stopped(run, redis_port: int) -> None:
    """Ctrl-C stops every process and the private Redis; the data stays."""
    run.stop()
    output = run.output()
    for process in ("web", "worker", "beat"):
        assert f"{process} stopped" in output
    assert "Traceback" not in output
    assert not listening(run.port)
    assert not listening(redis_port)  # the private Redis went with it
    assert (run.data_dir / "redis" / "dump.rdb").is_file()
    assert (run.data_dir / "db.sqlite3").is_file()


def check_offline(run, admin, output: str) -> None:
    """The demo is offline: the Hugging Face refresh, made due every 2 seconds as an admin
    would on the Periodic tasks page, is skipped and leaves no failed run."""
    assert "offline demo: the scheduled fetches of arXiv and Hugging Face are skipped" in output
    run.manage("shell", "-c", REFRESH_HF_NOW)
    run.wait_for("offline demo: the hf-daily fetch is skipped")
    assert run.manage("shell", "-c", FAILED_FETCHES).splitlines()[-1] == "0"
    assert "<strong>Offline demo:</strong>" in admin.get(f"{run.url}/admin/", timeout=30).text


def test_make_demo_serves_preview_sign_up_confirm_and_the_admin_with_worker_and_beat_on_a_private_redis(
    make_run, redis_server
):
    # redis_server: the suite's own check that redis-server is installed (fails in CI if not).
    run = make_run(demo=True)
    run.wait_for("Press Ctrl-C to stop.")
    output = run.output()
    for process in ("web", "worker", "beat"):
        assert f"{process} started (pid=" in output
    assert f"sign-up page   {run.url}/" in output
    assert f"admin          {run.url}/admin/" in output
    assert f"local outbox   {run.url}/admin/outbox/" in output
    assert "tasks          worker and beat on Redis" in output
    assert f"admin account: {ADMIN_USER} (created from DJANGO_SUPERUSER_USERNAME/PASSWORD)" in output
    redis_port = private_redis_port(output)
    assert (run.data_dir / "redis").is_dir()
    run.wait_for(" ready.")  # the worker is connected
    health = requests.get(f"{run.url}/healthz", timeout=30)
    assert health.json() == {"status": "ok", "parts": {"database": "ok", "broker": "ok"}}

    # The demo papers went through the real ingestion and count as new: the preview finds them.
    assert "arxiv-listing.xml: fetched 94, created 94" in output
    assert "demo papers loaded" in output
    preview = requests.get(f"{run.url}/preview/", params={"q": "ti:speculative AND ti:decoding"}, timeout=30)
    assert "matched in the last 7 days" in preview.text
    assert "Mirror <mark>Speculative</mark> <mark>Decoding</mark>" in preview.text

    # Sign up; the worker sends the confirmation into the local outbox; the link confirms.
    hour = str(datetime.now(UTC).hour)  # digests are due from the send hour on
    answer = run.sign_up("ada@example.org", [("Decoding", "ti:speculative AND ti:decoding")], send_hour=hour)
    assert "Check your inbox" in answer.text
    confirm = run.link_in_mail("ada@example.org", "/confirm/")
    confirmed = requests.post(confirm, timeout=30)
    assert confirmed.status_code == 200
    assert "ada@example.org" in confirmed.text

    # Beat dispatches the digest, the worker sends it: the demo papers that match are in it.
    run.dispatch_digests_now()
    digest = run.wait_for_mail(2)[-1]
    assert digest["To"] == "ada@example.org"
    text = plain_text(digest)
    assert "Mirror Speculative Decoding: Breaking the Serial Barrier in LLM Inference" in text
    assert digest["List-Unsubscribe"]
    # Each process's log reaches make run's output on its own time: wait for the lines.
    run.wait_for("Sending due task Dispatch due digests (alerts.tasks.dispatch_due_digests)")
    run.wait_for("alerts.tasks.send_digest_chunk")  # run by the worker
    admin = run.admin_session()
    outbox = admin.get(f"{run.url}/admin/outbox/", timeout=30)
    assert outbox.text.count("ada@example.org") == 2
    assert "2 messages" in outbox.text
    check_offline(run, admin, output)

    check_stopped(run, redis_port)


def test_a_second_start_keeps_the_data_and_the_admin_password(make_run):
    first = make_run()
    first.wait_for("Press Ctrl-C to stop.")
    first.stop()
    # This time with DEBUG off, as someone trying production-like behaviour would.
    second = make_run(
        data_dir=first.data_dir, DJANGO_SUPERUSER_PASSWORD="another-password-here", DJANGO_DEBUG="false"
    )
    second.wait_for("Press Ctrl-C to stop.")
    assert f"admin account: {ADMIN_USER} (exists; its password is unchanged)" in second.output()
    assert "No migrations to apply." in second.output()
    admin = second.admin_session()  # still the first password
    # Without DEBUG only collected static files are served: make run collected them.
    css = admin.get(f"{second.url}/static/admin/css/base.css", timeout=30)
    assert css.status_code == 200
    assert "text/css" in css.headers["Content-Type"]
    assert (first.data_dir / "staticfiles" / "admin" / "css" / "base.css").is_file()


def test_without_redis_server_tasks_run_in_process_and_the_site_still_works(make_run, tmp_path):
    path = path_without("redis-server", tmp_path / "bin")
    assert shutil.which("redis-server", path=path) is None
    assert shutil.which("make", path=path)
    run = make_run(path=path, demo=True)
    run.wait_for("Press Ctrl-C to stop.")
    output = run.output()
    notices = [line for line in output.splitlines() if "redis-server" in line]
    assert notices == [NO_REDIS_NOTICE]
    assert "sudo apt-get install redis-server" in NO_REDIS_NOTICE
    assert "brew install redis" in NO_REDIS_NOTICE
    assert "tasks          in-process (beat runs the periodic jobs)" in output
    # Said plainly, not silenced: without Redis no other process shares the counts.
    assert "rate limits are counted in the web process's own memory" in NO_REDIS_NOTICE
    assert "rate limits    in this one web process only (no Redis)" in output
    assert "web started (pid=" in output
    assert "beat started (pid=" in output
    assert "worker started" not in output
    health = requests.get(f"{run.url}/healthz", timeout=30)
    assert health.json()["parts"] == {"database": "ok", "broker": "ok"}
    # The web process sends the confirmation itself...
    hour = str(datetime.now(UTC).hour)
    answer = run.sign_up("bo@example.org", [("Agents", "abs:agent*")], send_hour=hour)
    assert "Check your inbox" in answer.text
    assert requests.post(run.link_in_mail("bo@example.org", "/confirm/"), timeout=30).status_code == 200
    # ...and beat, with no worker to send them to, runs the scheduled jobs itself.
    run.dispatch_digests_now()
    digest = run.wait_for_mail(2)[-1]
    assert digest["To"] == "bo@example.org"
    assert (
        "Flash-Searcher: Fast and Effective Web Agents"
        in digest.get_body(preferencelist=("plain",)).get_content()
    )
    run.wait_for("Task alerts.tasks.dispatch_due_digests[")  # logged once the task has returned


def test_a_busy_port_is_refused_with_a_clear_message(make_run):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        run = make_run(port=port)
        assert run.proc.wait(120) != 0
    assert f"port {port} is in use: stop what runs there, or `make run PORT=8001`" in run.output()


def links_in(message) -> list[str]:
    """Every absolute link of a message: its plain and HTML parts and List-Unsubscribe."""
    text = plain_text(message) + message.get_body(preferencelist=("html",)).get_content()
    text += " " + message["List-Unsubscribe"]
    return [html.unescape(link) for link in re.findall(r"https?://[^\s\"'<>]+", text)]


def test_a_command_run_beside_make_run_links_to_the_port_make_run_serves(make_run):
    # `make run PORT=...` on a port other than the default, then the README's
    # `manage.py send_digests --email ...` from another terminal (no SITE_URL exported).
    run = make_run(demo=True)
    run.wait_for("Press Ctrl-C to stop.")
    assert run.port != 8000
    assert "SITE_URL" not in run.env
    hour = str((datetime.now(UTC).hour + 12) % 24)  # not due: only the command sends it
    run.sign_up("cy@example.org", [("Decoding", "ti:speculative AND ti:decoding")], send_hour=hour)
    assert requests.post(run.link_in_mail("cy@example.org", "/confirm/"), timeout=30).status_code == 200

    assert "sent 1" in run.manage("send_digests", "--email", "cy@example.org")
    digest = run.wait_for_mail(2)[-1]
    assert digest["To"] == "cy@example.org"
    links = links_in(digest)
    paths = ("/manage/", "/unsubscribe/", "/digest/")
    ours = [link for link in links if any(path in link for path in paths)]
    assert all(any(path in link for link in ours) for path in paths), links
    assert all(link.startswith(f"{run.url}/") for link in ours), ours
    one_click = re.search(r"<(https?://[^>]+)>", digest["List-Unsubscribe"]).group(1)
    assert one_click.startswith(f"{run.url}/unsubscribe/")
    assert "localhost:8000" not in digest.as_string()
    assert f"links in mail  {run.url}" in run.output()  # make run says which it chose
    # And the links answer: the one-click unsubscribe of the digest works on make run's port.
    assert requests.post(one_click, data={"List-Unsubscribe": "One-Click"}, timeout=30).status_code == 200
