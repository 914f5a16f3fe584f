"""The sign-up form and the live preview under load for a few seconds (bench/load.py: gunicorn
with production settings on loopback, two wrk processes at once): no 5xx, and every
sign-up the site accepted stored exactly once. The 60-second run and its figures are in
docs/reliability.md (`make load`).
"""

from __future__ import annotations

import os
import shutil

import pytest

from bench import load
from tests.conftest import require

pytestmark = pytest.mark.django_db(transaction=True)


def test_sign_ups_and_previews_under_load_no_5xx_and_each_sign_up_stored_once(
    week_papers, database_url, redis_server, uses_postgres, tmp_path
):
    require(uses_postgres, "many web processes writing at once need PostgreSQL")
    require(shutil.which("wrk") is not None, "wrk is not installed (apt-get install wrk)")
    env = load.production_env(
        dict(os.environ), database_url=database_url, redis_url=redis_server.url, data_dir=tmp_path / "data"
    )
    # This test drives concurrent writes; the fixed answer time of a sign-up (0.2 s, against
    # timing attacks) would only cap each connection at five sign-ups a second.
    env["SIGNUP_ANSWER_SECONDS"] = "0"
    load.collect_static(env)

    report = load.run(env, database_url=database_url, seconds=5, work_dir=tmp_path)

    print(load.markdown(report, "tests/load/test_load.py"))
    for endpoint in report.endpoints:
        assert endpoint.requests > 50, endpoint
        assert endpoint.server_errors == 0, endpoint
        assert sum(endpoint.errors.values()) == 0, endpoint  # no refused, reset or timed-out request
        assert set(endpoint.statuses) == {"200"}, endpoint
    assert report.accepted > 50
    assert report.exactly_once, report
