"""Production settings: `check --deploy` clean with the documented environment, and the
security settings as a browser behind the TLS proxy meets them (gunicorn, real requests)."""

from __future__ import annotations

import http.client
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.servers import ROOT, free_port, wait_for_port

from .conftest import production_env

HOST = "alerts.example.org"


def clean_env(tmp_path, **overrides: str) -> dict[str, str]:
    """Only what .env.example documents, plus what any process needs: nothing leaks in."""
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    env.update(production_env(DATA_DIR=str(tmp_path / "data"), **overrides))
    return env


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )


def test_check_deploy_passes_with_the_documented_environment(tmp_path):
    env = clean_env(tmp_path)
    assert env["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
    result = manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"DJANGO_SECRET_KEY": ""}, "DJANGO_SECRET_KEY must be a random string of 50+ characters."),
        ({"DJANGO_SECRET_KEY": "django-insecure-" + "x" * 50}, "DJANGO_SECRET_KEY must be a random string"),
    ],
)
def test_production_refuses_to_start_without_a_real_secret(tmp_path, overrides, message):
    result = manage(clean_env(tmp_path, **overrides), "check")
    assert result.returncode != 0
    assert message in result.stderr


def test_production_refuses_to_start_without_its_host_names(tmp_path):
    env = clean_env(tmp_path)
    del env["DJANGO_ALLOWED_HOSTS"]
    result = manage(env, "check")
    assert result.returncode != 0
    assert "DJANGO_ALLOWED_HOSTS" in result.stderr


def test_production_refuses_to_start_without_redis(tmp_path):
    # gunicorn runs several workers: rate limits counted in each one's memory would let a
    # client through once per worker.
    env = clean_env(tmp_path)
    del env["REDIS_URL"]
    result = manage(env, "check")
    assert result.returncode != 0
    assert "REDIS_URL is required in production" in result.stderr


@pytest.mark.parametrize("site_url", [None, "", "alerts.example.org", "https://"])
def test_production_refuses_to_start_without_the_sites_address(tmp_path, site_url):
    # Without it every link in the emails would point at the development default.
    env = clean_env(tmp_path)
    del env["SITE_URL"]
    if site_url is not None:
        env["SITE_URL"] = site_url
    result = manage(env, "check")
    assert result.returncode != 0
    message = "SITE_URL must be set to the public address of the site, e.g. https://alerts.example.org"
    assert message in result.stderr


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    """A data directory with the static files collected as the Dockerfile's build step does:
    production settings, a throwaway key, no database."""
    directory = tmp_path_factory.mktemp("collected")
    result = manage(clean_env(directory), "collectstatic", "--no-input", "--verbosity", "0")
    assert result.returncode == 0, result.stderr
    return directory


def test_the_image_build_step_collects_static_files_with_a_manifest(collected):
    static = collected / "data" / "staticfiles"
    assert (static / "staticfiles.json").is_file()
    assert (static / "admin" / "css" / "base.css").is_file()


# Behind the proxy ---------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: str

    def cookies(self) -> SimpleCookie:
        jar = SimpleCookie()
        for value in self.headers.get_all("Set-Cookie") or []:
            jar.load(value)
        return jar


@dataclass
class Site:
    port: int
    admin: str
    env: dict[str, str]

    def request(self, method: str, path: str, *, https: bool = True, headers=None, body=None) -> Answer:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        sent = {"Host": HOST, **(headers or {})}
        if https:
            sent["X-Forwarded-Proto"] = "https"  # what the TLS proxy in front adds
        conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        answer = Answer(response.status, response.headers, response.read().decode("utf-8", "replace"))
        conn.close()
        return answer


@contextmanager
def gunicorn(env: dict[str, str], log: Path, workers: int = 1) -> Iterator[Site]:
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [*command, "--workers", str(workers)], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_for_port(port, timeout=60, proc=proc)
        yield Site(port=port, admin="/" + env["DJANGO_ADMIN_URL"].strip("/") + "/", env=env)
    finally:
        proc.terminate()
        proc.wait(20)


@pytest.fixture
def site(tmp_path, collected, database_url, redis_server, transactional_db):
    env = clean_env(collected, DATABASE_URL=database_url, REDIS_URL=redis_server.url)
    with gunicorn(env, tmp_path / "gunicorn.log") as running:
        yield running


def test_behind_the_proxy_rate_limits_count_per_client_across_workers(
    tmp_path, collected, database_url, redis_server, transactional_db
):
    """The documented set-up: one TLS proxy appending to X-Forwarded-For, gunicorn with
    several workers, the counts in Redis (each request on a new connection, so the
    workers share them out)."""
    env = clean_env(
        collected, DATABASE_URL=database_url, REDIS_URL=redis_server.url, RATE_LIMIT_PREVIEW="4/d"
    )
    with gunicorn(env, tmp_path / "gunicorn.log", workers=3) as site:

        def preview(forwarded: str) -> int:
            return site.request(
                "GET", "/preview/?q=ti%3Agraph", headers={"X-Forwarded-For": forwarded}
            ).status

        assert [preview("198.51.100.21") for _ in range(4)] == [200] * 4
        assert preview("198.51.100.21") == 429
        assert preview("203.0.113.1, 198.51.100.21") == 429  # a forged entry before the proxy's
        assert preview("198.51.100.22") == 200  # another client behind the same proxy


def test_plain_http_is_redirected_to_https_except_the_health_check(site):
    answer = site.request("GET", "/healthz?x=1", https=False)
    assert answer.status == 200, answer.body
    answer = site.request("GET", site.admin, https=False)
    assert answer.status == 301
    assert answer.headers["Location"] == f"https://{HOST}{site.admin}"


@pytest.mark.parametrize("page", ["/", "login"])
def test_https_answers_carry_hsts_csp_and_no_inline_script(site, page):
    path = f"{site.admin}login/" if page == "login" else page
    answer = site.request("GET", path)
    assert answer.status == 200
    assert answer.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    csp = answer.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp + ";"
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    scripts = re.findall(r"<script\b[^>]*>", answer.body)
    assert all("src=" in tag for tag in scripts), scripts
    assert re.search(r"\son[a-z]+=", answer.body) is None  # no inline event handlers either


def test_the_admin_lives_at_its_configured_path_and_its_cookies_are_secure(site):
    assert site.admin != "/admin/"
    # Made with production's password hasher, as an operator would make it.
    account = {"DJANGO_SUPERUSER_USERNAME": "boss", "DJANGO_SUPERUSER_PASSWORD": "a-long-test-password-1"}
    created = manage(
        {**site.env, **account, "DJANGO_SUPERUSER_EMAIL": "boss@example.org"}, "createsuperuser", "--no-input"
    )
    assert created.returncode == 0, created.stderr
    assert site.request("GET", "/admin/").status == 404
    answer = site.request("GET", site.admin)
    assert answer.status == 302
    assert answer.headers["Location"].startswith(f"{site.admin}login/")

    login = site.request("GET", f"{site.admin}login/")
    csrf = login.cookies()["csrftoken"]
    assert csrf["secure"]
    assert csrf["httponly"]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.body).group(1)
    form = urlencode({"username": "boss", "password": "a-long-test-password-1", "csrfmiddlewaretoken": token})
    answer = site.request(
        "POST",
        f"{site.admin}login/",
        body=form,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={csrf.value}",
            "Origin": f"https://{HOST}",
            "Referer": f"https://{HOST}{site.admin}login/",
        },
    )
    assert answer.status == 302, answer.body[:2000]
    session = answer.cookies()["sessionid"]
    assert session["secure"]
    assert session["httponly"]
    index = site.request("GET", site.admin, headers={"Cookie": f"sessionid={session.value}"})
    assert index.status == 200
    assert "Local outbox" in index.body


def test_metrics_in_production_answer_only_the_token_and_say_why_when_it_is_unset(
    tmp_path, collected, database_url, redis_server, transactional_db
):
    env = clean_env(collected, DATABASE_URL=database_url, REDIS_URL=redis_server.url)
    assert "METRICS_TOKEN" not in env  # .env.example leaves it blank
    log = tmp_path / "closed.log"
    with gunicorn(env, log) as closed:
        answer = closed.request("GET", "/metrics", https=False)
    assert answer.status == 404
    assert "paper_alerts" not in answer.body
    assert "/metrics answers 404: set METRICS_TOKEN to serve Prometheus metrics" in log.read_text()

    token = "a-long-random-scrape-token-0123456789"
    with gunicorn({**env, "METRICS_TOKEN": token}, tmp_path / "open.log", workers=2) as site:
        refused = site.request("GET", "/metrics", https=False, headers={"Authorization": "Bearer nope"})
        # Prometheus scrapes over plain HTTP inside the compose network: no redirect to HTTPS.
        scraped = site.request("GET", "/metrics", https=False, headers={"Authorization": f"Bearer {token}"})
    assert refused.status == 401
    assert scraped.status == 200, scraped.body
    assert "# TYPE paper_alerts_digests_sent_total counter" in scraped.body
