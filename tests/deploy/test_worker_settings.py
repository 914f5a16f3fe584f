"""A worker or beat started by hand must name its settings: none falls back to the local
(DEBUG) settings."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.servers import ROOT


def test_the_worker_refuses_to_start_without_a_settings_module(tmp_path):
    env = {key: value for key, value in os.environ.items() if key in ("PATH", "HOME", "LANG")}
    env["DATA_DIR"] = str(tmp_path)
    # Bounded: a worker that did start would run until the timeout, and fail the test.
    result = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel", "INFO"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "DJANGO_SETTINGS_MODULE is not set" in result.stderr
    assert "celery@" not in result.stdout + result.stderr  # no worker came up


def test_other_programs_import_the_celery_app_before_naming_their_settings(tmp_path):
    # `make run` (config/run.py) imports the config package, then sets the settings module.
    env = {key: value for key, value in os.environ.items() if key in ("PATH", "HOME", "LANG")}
    result = subprocess.run(
        [sys.executable, "-c", "import config.run; print('imported')"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "imported"
