"""Helpers for the deployment files: docker-compose.yml, Dockerfile, .env.example."""

from __future__ import annotations

import re
import secrets
import shutil

import pytest

from tests.conftest import require
from tests.servers import ROOT

ENV_EXAMPLE = ROOT / ".env.example"
ASSIGNMENT = re.compile(r"^(?P<comment>#\s*)?(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>.*)$")
# env("NAME", ...), env.bool("NAME", ...), env.db("NAME", ...): what the settings read.
SETTINGS_READ = re.compile(r"\benv(?:\.\w+)?\(\s*[\"']([A-Z][A-Z0-9_]*)[\"']")


def settings_variables() -> set[str]:
    """Every environment variable a module of config/settings reads."""
    names: set[str] = set()
    for path in (ROOT / "config" / "settings").glob("*.py"):
        names.update(SETTINGS_READ.findall(path.read_text()))
    return names


def env_example(*, include_commented: bool = False) -> dict[str, str]:
    """The variables .env.example sets (and, on request, those it shows commented out)."""
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = ASSIGNMENT.match(line.strip())
        if not match or (match["comment"] and not include_commented):
            continue
        value = match["value"]
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values.setdefault(match["name"], value)
    return values


def production_env(**overrides: str) -> dict[str, str]:
    """The environment .env.example documents, with a real secret in place of the blank."""
    env = {name: value for name, value in env_example().items() if value}
    env["DJANGO_SECRET_KEY"] = secrets.token_urlsafe(50)
    env.update(overrides)
    return env


@pytest.fixture(scope="session")
def docker_compose() -> str:
    binary = shutil.which("docker-compose")
    require(binary is not None, "docker-compose is not installed (apt-get install docker-compose)")
    return binary
