"""docker-compose.yml: valid, and every service the app needs, fit to run and to scale."""

import subprocess

import pytest
import yaml

from tests.servers import ROOT

from .conftest import ENV_EXAMPLE, settings_variables

APP_SERVICES = ("web", "worker", "beat")


def compose(docker_compose: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [docker_compose, "--project-directory", str(ROOT), "-f", str(ROOT / "docker-compose.yml"), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def config(docker_compose) -> dict:
    """The file as compose resolves it with the documented environment (anchors merged),
    the services of the optional profiles (Flower) included."""
    result = compose(docker_compose, "--profile", "flower", "--env-file", str(ENV_EXAMPLE), "config")
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_docker_compose_config_accepts_the_file(docker_compose):
    result = compose(docker_compose, "config", "-q")
    assert result.returncode == 0, result.stderr
    documented = compose(docker_compose, "--env-file", str(ENV_EXAMPLE), "config", "-q")
    assert documented.returncode == 0, documented.stderr
    assert "WARNING" not in documented.stderr, documented.stderr


def test_every_service_the_app_needs_is_there_with_a_health_check_and_a_restart_policy(config):
    services = config["services"]
    assert set(services) == {"postgres", "redis", "mailpit", "web", "worker", "beat", "flower"}
    for name, service in services.items():
        assert service["healthcheck"]["test"], f"{name} has no health check"
        assert service.get("restart") in {"unless-stopped", "always"}, f"{name} is not restarted"


def test_the_app_services_run_web_worker_and_beat_from_one_image(config):
    services = config["services"]
    images = {services[name]["image"] for name in APP_SERVICES}
    assert len(images) == 1
    web = " ".join(services["web"]["command"])
    assert web.index("manage.py migrate --no-input") < web.index("gunicorn config.wsgi:application")
    assert services["worker"]["command"][:4] == ["celery", "-A", "config", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "config", "beat"]


def test_health_checks_probe_what_each_service_serves(config):
    services = config["services"]
    # The web server is asked for /healthz (config/healthcheck.py), which checks the
    # database and the broker; the worker answers a ping; beat checks what it needs.
    assert services["web"]["healthcheck"]["test"] == ["CMD", "python", "-m", "config.healthcheck"]
    assert "inspect ping" in " ".join(services["worker"]["healthcheck"]["test"])
    assert services["beat"]["healthcheck"]["test"] == ["CMD", "python", "manage.py", "healthcheck"]
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]


def test_data_lives_in_named_volumes(config):
    services = config["services"]
    assert set(config["volumes"]) >= {"postgres-data", "redis-data"}
    assert services["postgres"]["volumes"] == ["postgres-data:/var/lib/postgresql/data:rw"]
    assert services["redis"]["volumes"] == ["redis-data:/data:rw"]
    assert "--appendonly" in services["redis"]["command"]


def test_workers_can_be_scaled_and_there_is_exactly_one_beat(config):
    services = config["services"]
    worker = services["worker"]
    # `--scale worker=N` fails on a fixed container name or a published host port.
    assert "container_name" not in worker
    assert "ports" not in worker
    beats = [name for name, s in services.items() if "beat" in " ".join(s.get("command") or [])]
    assert beats == ["beat"]
    assert services["beat"].get("deploy", {}).get("replicas", 1) == 1


def test_the_app_waits_for_its_database_broker_and_migrations(config):
    services = config["services"]
    assert services["web"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["web"]["depends_on"]["redis"]["condition"] == "service_healthy"
    for name in ("worker", "beat"):
        # web runs the migrations before it reports healthy
        assert services[name]["depends_on"]["web"]["condition"] == "service_healthy"


def test_the_app_is_wired_to_postgres_redis_and_mailpit(config):
    for name in APP_SERVICES:
        env = config["services"][name]["environment"]
        assert env["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
        assert env["DATABASE_URL"].startswith("postgres://paper_alerts:@postgres:5432/paper_alerts")
        assert env["REDIS_URL"] == "redis://redis:6379/0"
        assert env["DJANGO_EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
        assert (env["EMAIL_HOST"], str(env["EMAIL_PORT"])) == ("mailpit", "1025")


def test_every_setting_reaches_the_app_containers_and_nothing_else_does(config):
    """A variable set in .env must reach web, worker and beat, or the setting is dead there."""
    read = settings_variables()
    for name in APP_SERVICES:
        passed = set(config["services"][name]["environment"])
        missing = read - passed
        assert not missing, f"{name} does not receive {sorted(missing)}"
        unread = {
            var
            for var in passed - read
            if not var.startswith("ANYMAIL_") and var not in {"DJANGO_SETTINGS_MODULE", "WEB_CONCURRENCY"}
        }
        assert not unread, f"{name} receives variables nothing reads: {sorted(unread)}"


def test_flower_is_optional_and_serves_only_behind_the_password_set_in_env(config, docker_compose, tmp_path):
    flower = config["services"]["flower"]
    assert flower["profiles"] == ["flower"]  # not started by a plain `up`
    assert flower["environment"]["FLOWER_BASIC_AUTH"] == ""  # no default secret in the file
    assert flower["ports"] == ["127.0.0.1:5555:5555/tcp"]  # this host only, like web and mailpit
    assert flower["depends_on"]["redis"]["condition"] == "service_healthy"
    script = flower["command"][2].replace("$$", "$")
    assert '--basic-auth="$FLOWER_BASIC_AUTH"' in script
    assert "/healthcheck" in " ".join(flower["healthcheck"]["test"])

    # The container's own guard: without a password it stops with a message, and Flower
    # (`exec celery ... flower`) is never reached.
    refused = subprocess.run(
        ["sh", "-c", script],
        env={"PATH": "/usr/bin:/bin", "FLOWER_BASIC_AUTH": ""},
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert refused.returncode == 1
    assert "FLOWER_BASIC_AUTH is not set" in refused.stderr

    # A password set in .env reaches the container.
    env_file = tmp_path / ".env"
    env_file.write_text(
        ENV_EXAMPLE.read_text().replace(
            "\nFLOWER_BASIC_AUTH=\n", "\nFLOWER_BASIC_AUTH=ops:long-random-words\n"
        )
    )
    result = compose(docker_compose, "--profile", "flower", "--env-file", str(env_file), "config")
    assert result.returncode == 0, result.stderr
    assert (
        yaml.safe_load(result.stdout)["services"]["flower"]["environment"]["FLOWER_BASIC_AUTH"]
        == "ops:long-random-words"
    )


def test_the_image_is_built_from_python_311_slim_as_a_non_root_user():
    dockerfile = (ROOT / "Dockerfile").read_text()
    lines = [line.strip() for line in dockerfile.splitlines() if line.strip() and not line.startswith("#")]
    assert lines[0] == "FROM python:3.11-slim"
    assert "pip install -r requirements/base.txt" in dockerfile
    assert "manage.py collectstatic --no-input" in dockerfile
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users
    assert users[-1] not in {"root", "0"}
    for excluded in (".venv", "data", ".env", ".git"):
        assert excluded in (ROOT / ".dockerignore").read_text().split()
