"""Make the README's screenshots from the real pages: `make screenshots`.

Starts the service on a throwaway SQLite database with the demo papers, types a filter
into the sign-up page (the live preview answers), and renders a real digest for a demo
subscriber; for the admin home, a month of made-up activity (sign-ups, digests sent and
failed, a late arXiv fetch) so that its charts have something to show. Chromium (Debian's,
or CHROMIUM_PATH) takes the pictures. Writes docs/images/sign-up.png, docs/images/digest.png,
docs/images/admin-home.png and docs/images/manage.png (the demo subscriber's preferences page,
as a weekly reader on Fridays whose digest of this week went out).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "images"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def chromium() -> str:
    for name in (os.environ.get("CHROMIUM_PATH"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    sys.exit("Chromium is needed for the screenshots (apt-get install chromium, or set CHROMIUM_PATH)")


ADMIN = ("admin", "screenshots-only-password")


def made_up_month() -> None:
    """An admin account, and thirty days of sign-ups and digests on the throwaway database."""
    import datetime as dt
    import random

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from alerts.models import DeliveryEvent, Digest, FetchRun
    from subscribers.models import Subscriber, SubscriberEvent

    get_user_model().objects.create_superuser(ADMIN[0], "admin@example.org", ADMIN[1])
    now, rng = timezone.now(), random.Random(7)
    FetchRun.objects.filter(source="arxiv-rss").update(started_at=now - dt.timedelta(days=3))
    for day in range(30):
        moment = now - dt.timedelta(days=day, hours=1)
        for n in range(rng.randint(3, 12) + (30 - day) // 3):
            reader = Subscriber.objects.create(email=f"r{day}-{n}@example.org", status="active")
            for kind in ("created", "confirmed") if n % 4 else ("created",):
                event = SubscriberEvent.objects.create(subscriber=reader, kind=kind)
                SubscriberEvent.objects.filter(pk=event.pk).update(created_at=moment)
        for _ in range(40 + (30 - day) * 4):
            status = "failed" if rng.random() < 0.03 else "sent"
            Digest.objects.create(period=moment.date(), status=status, window_end=moment, finished_at=moment)
        if day % 6 == 2:
            event = DeliveryEvent.objects.create(esp_name="demo", event_id=f"b{day}", event_type="bounced")
            DeliveryEvent.objects.filter(pk=event.pk).update(received_at=moment)


def demo_reader_digest() -> str:
    """A demo subscriber with two filters, and the HTML of their next digest."""
    from alerts.digests.previews import digest_preview
    from subscribers.models import Subscriber, TopicFilter

    reader, _ = Subscriber.objects.get_or_create(
        email="ada@example.org", defaults={"status": Subscriber.Status.ACTIVE, "include_trending": True}
    )
    TopicFilter.objects.get_or_create(
        subscriber=reader, name="LLM agents", query='abs:agent AND (ti:LLM OR abs:"language model")'
    )
    TopicFilter.objects.get_or_create(
        subscriber=reader, name="Serving", query="ti:serving OR ti:inference", defaults={"position": 1}
    )
    return digest_preview(subscriber=reader).rendered.html


def demo_reader_weekly() -> str:
    """The demo subscriber as a weekly reader on Fridays (Berlin) whose digest of this week
    went out; the address of their preferences page."""
    from django.utils import timezone

    from alerts.core.periods import WEEKLY, period_start, zone
    from alerts.models import Digest
    from subscribers.models import Subscriber
    from subscribers.tokens import manage_url

    reader = Subscriber.objects.get(email="ada@example.org")
    reader.frequency, reader.week_day, reader.timezone, reader.send_hour = WEEKLY, 4, "Europe/Berlin", 8
    reader.save()
    now = timezone.now()
    this_week = period_start(now.astimezone(zone(reader.timezone)).date(), WEEKLY, reader.week_day)
    Digest.objects.create(
        subscriber=reader, period=this_week, frequency=WEEKLY, status="sent", window_end=now
    )
    return manage_url(reader)


def take_pictures(browser_path: str, site: str, digest_html: str, manage_page: str) -> None:
    """The sign-up page with a filter typed in, the digest, the admin home, and the
    subscriber's preferences page."""
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    args = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=browser_path, headless=True, args=args)
        page = browser.new_page(viewport={"width": 900, "height": 1100}, timezone_id="Europe/Berlin")
        page.goto(site + "/")
        page.fill("#id_email", "ada@example.org")
        page.fill("#id_filters-0-name", "LLM agents")
        page.fill("#id_filters-0-query", 'abs:agent AND (ti:LLM OR abs:"language model")')
        page.locator("#filters-0-preview .preview-papers li").first.wait_for(timeout=15_000)
        page.screenshot(path=str(OUT / "sign-up.png"), full_page=False)
        mail = browser.new_page(viewport={"width": 680, "height": 1300})
        mail.set_content(digest_html)
        mail.screenshot(path=str(OUT / "digest.png"), full_page=False)
        admin = browser.new_page(viewport={"width": 1200, "height": 1000})
        admin.goto(site + "/admin/login/?next=/admin/")
        admin.fill("#id_username", ADMIN[0])
        admin.fill("#id_password", ADMIN[1])
        admin.click("input[type=submit]")
        admin.locator("#cockpit-activity").wait_for()
        admin.screenshot(path=str(OUT / "admin-home.png"), full_page=False)
        prefs = browser.new_page(viewport={"width": 900, "height": 1100}, timezone_id="Europe/Berlin")
        prefs.goto(manage_page)
        prefs.locator(".next-digest").wait_for()
        prefs.screenshot(path=str(OUT / "manage.png"), full_page=False)
        browser.close()


def main() -> None:
    browser_path = chromium()
    data = Path(tempfile.mkdtemp(prefix="pa-screens-"))
    port = free_port()
    site = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATA_DIR": str(data),
        "REDIS_URL": "",
        "SITE_URL": site,
        "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    }
    os.environ.update(env)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--no-input", "-v", "0"], env=env, check=True, cwd=ROOT)
    subprocess.run([*manage, "load_demo"], env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)

    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    digest_html = demo_reader_digest()
    manage_page = demo_reader_weekly()
    made_up_month()

    server = subprocess.Popen(
        [*manage, "runserver", "--noreload", f"127.0.0.1:{port}"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(site + "/healthz", timeout=1)  # noqa: S310 - our own server
                break
            except OSError:
                if time.monotonic() > deadline:
                    sys.exit("the web server did not start")
                time.sleep(0.2)
        take_pictures(browser_path, site, digest_html, manage_page)
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(data, ignore_errors=True)
    names = ", ".join(
        str(OUT / name) for name in ("sign-up.png", "digest.png", "admin-home.png", "manage.png")
    )
    print(f"wrote {names}")


if __name__ == "__main__":
    main()
