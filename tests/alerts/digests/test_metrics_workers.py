"""What a Celery worker process does reaches a scrape of /metrics in the web process."""

from __future__ import annotations

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from alerts.models import Digest
from alerts.tasks import dispatch_due_digests

from .conftest import SITE, make_papers, subscribe

pytestmark = pytest.mark.django_db(transaction=True)
TOKEN = "scrape-token-for-the-worker-test"


def scrape(client) -> dict[str, float]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    return {
        sample.name + "".join(f"|{k}={v}" for k, v in sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def test_digests_sent_by_a_worker_process_show_in_a_scrape_of_the_web_process(
    client, settings, celery_workers, drained
):
    settings.METRICS_TOKEN = TOKEN
    make_papers()
    for n in range(3):
        subscribe(f"reader{n}@example.org", ("Attention", "attention OR transformer"), send_hour=0)
    before = scrape(client)
    assert before["paper_alerts_digests_sent_total"] == 0
    assert before["paper_alerts_digest_send_latency_window"] == 0

    celery_workers("metrics", SITE_URL=SITE)
    dispatch_due_digests.delay(now=timezone.now().isoformat())
    drained()

    sent = Digest.objects.filter(status=Digest.Status.SENT)
    assert sent.count() == 3
    after = scrape(client)
    assert after["paper_alerts_digests_sent_total"] == 3
    assert after["paper_alerts_digests_pending"] == 0
    assert after["paper_alerts_digest_send_latency_window"] == 3
    slowest = max((d.sent_at - d.created_at).total_seconds() for d in sent)
    assert after["paper_alerts_digest_send_latency_seconds|quantile=1.0|span=dispatch"] == pytest.approx(
        slowest
    )
