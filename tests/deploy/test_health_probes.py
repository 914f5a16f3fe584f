"""The probes docker compose runs: the web container's (through /healthz) and beat's."""

import os
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.servers import ROOT

DEAD_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def probe(url: str, allowed_hosts: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DJANGO_ALLOWED_HOSTS": allowed_hosts}
    return subprocess.run(
        [sys.executable, "-m", "config.healthcheck", url],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.django_db(transaction=True)
def test_the_web_probe_passes_when_healthz_answers_200_and_names_the_failing_part(
    live_server, settings, redis_server
):
    # The probe must present a host the site accepts: the first of DJANGO_ALLOWED_HOSTS.
    settings.ALLOWED_HOSTS = ["alerts.example.org"]
    settings.REDIS_URL = redis_server.url
    url = f"{live_server.url}/healthz"
    result = probe(url, "www.example.org,alerts.example.org")
    assert result.returncode == 1
    assert "400" in result.stderr  # a host the site refuses
    result = probe(url, ".alerts.example.org,www.example.org")
    assert result.returncode == 0, result.stderr
    settings.REDIS_URL = DEAD_BROKER
    result = probe(url, "alerts.example.org")
    assert result.returncode == 1
    assert '"failing": ["broker"]' in result.stderr


def test_the_web_probe_fails_when_nothing_answers():
    result = probe("http://127.0.0.1:1/healthz", "alerts.example.org")
    assert result.returncode == 1
    assert "Connection refused" in result.stderr


@pytest.mark.django_db
def test_the_beat_probe_checks_the_database_and_the_broker(settings, redis_server, capsys):
    settings.REDIS_URL = redis_server.url
    call_command("healthcheck")
    assert capsys.readouterr().out.strip() == "ok: database, broker"
    settings.REDIS_URL = DEAD_BROKER
    with pytest.raises(CommandError, match=r"^broker: error: ConnectionError"):
        call_command("healthcheck")
