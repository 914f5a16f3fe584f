"""Operator alerts: the admins (settings.ADMINS) get one email when something needs them and
one when it has passed. Checked every five minutes by beat (alerts.tasks.check_incidents).

Three kinds of incident, each read the way the admin home reads it (alerts.cockpit):
- a **source late** past its schedule: the cockpit's *Late* (no successful fetch within
  two hours of a scheduled run), one incident per source;
- the **digest queue stuck**: the oldest digest waiting (pending or being sent) was created
  more than INCIDENT_QUEUE_STUCK_AFTER seconds ago;
- the **failure rate** high: of the digests finished in the last INCIDENT_FAILURE_WINDOW
  seconds, failed / (sent + failed) is above INCIDENT_FAILURE_RATE, with at least
  INCIDENT_FAILURE_MIN failed (a few failures of a quiet hour are no incident).

An incident is a row (alerts.Incident), open while the condition holds; at most one of a
kind and key is open (a unique constraint), so repeated checks find it and mail nobody
again. Each mail is claimed on the row before it is sent, so two checks at once send it
once; a mail that could not be sent is released and tried again by the next check.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.urls import get_script_prefix, reverse
from django.utils import timezone

from alerts import cockpit
from alerts.models import Digest, Incident

log = logging.getLogger(__name__)

Kind = Incident.Kind


@dataclass(frozen=True)
class Finding:
    kind: str
    key: str
    detail: str


@dataclass
class CheckResult:
    opened: list[Incident] = field(default_factory=list)
    closed: list[Incident] = field(default_factory=list)
    mailed: int = 0


def _when(moment: dt.datetime | None) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M %Z}" if moment else "never"


def _late_sources(now: dt.datetime) -> list[Finding]:
    found = []
    for source in cockpit.sources_status(now=now):
        if not source.late:
            continue
        last_ok = source.last_ok.started_at if source.last_ok else None
        due = (
            f"a scheduled fetch was due at {_when(source.next_due)}"
            if source.next_due
            else "none ever succeeded"
        )
        failed = "; the last one failed" if source.last and source.last.status == "failed" else ""
        found.append(
            Finding(
                Kind.SOURCE_LATE,
                source.source,
                f"{source.label} is late: its last successful fetch started {_when(last_ok)}, {due} "
                f"({source.schedule}){failed}.",
            )
        )
    return found


def _stuck_queue(now: dt.datetime) -> list[Finding]:
    queue = cockpit.queue_status()
    limit = dt.timedelta(seconds=settings.INCIDENT_QUEUE_STUCK_AFTER)
    if queue.oldest is None or now - queue.oldest <= limit:
        return []
    minutes = int((now - queue.oldest).total_seconds() // 60)
    return [
        Finding(
            Kind.QUEUE_STUCK,
            "",
            f"The digest queue is stuck: the oldest waiting digest was created {_when(queue.oldest)}, "
            f"{minutes} minutes ago ({queue.pending} pending, {queue.sending} being sent).",
        )
    ]


def failure_counts(*, now: dt.datetime) -> tuple[int, int]:
    """(sent, failed) digests finished in the last INCIDENT_FAILURE_WINDOW seconds: one
    aggregate over the (finished_at, status) index."""
    since = now - dt.timedelta(seconds=settings.INCIDENT_FAILURE_WINDOW)
    counts = Digest.objects.filter(finished_at__gt=since, finished_at__lte=now).aggregate(
        sent=Count("id", filter=Q(status=Digest.Status.SENT)),
        failed=Count("id", filter=Q(status=Digest.Status.FAILED)),
    )
    return counts["sent"], counts["failed"]


def _failure_rate(now: dt.datetime) -> list[Finding]:
    sent, failed = failure_counts(now=now)
    if failed < settings.INCIDENT_FAILURE_MIN or failed <= settings.INCIDENT_FAILURE_RATE * (sent + failed):
        return []
    minutes = settings.INCIDENT_FAILURE_WINDOW // 60
    return [
        Finding(
            Kind.FAILURE_RATE,
            "",
            f"{failed} of {sent + failed} digests finished in the last {minutes} minutes failed "
            f"({failed / (sent + failed):.0%}, above {settings.INCIDENT_FAILURE_RATE:.0%}).",
        )
    ]


def incidents_found(*, now: dt.datetime) -> list[Finding]:
    """What is wrong at `now`, each as it would be reported."""
    return _late_sources(now) + _stuck_queue(now) + _failure_rate(now)


def incidents_check(*, now: dt.datetime | None = None) -> CheckResult:
    """Open an incident for each new finding, close those whose condition has passed, and
    mail the admins about each opening and closing not mailed yet."""
    now = now or timezone.now()
    result = CheckResult()
    findings = {(f.kind, f.key): f for f in incidents_found(now=now)}
    open_now = {(i.kind, i.key): i for i in Incident.objects.filter(closed_at__isnull=True)}
    for key, finding in findings.items():
        if key in open_now:
            Incident.objects.filter(pk=open_now[key].pk).update(last_detail=finding.detail)
            continue
        try:
            with transaction.atomic():
                incident = Incident.objects.create(
                    kind=finding.kind, key=finding.key, opened_at=now, detail=finding.detail
                )
        except IntegrityError:
            continue  # another check opened it a moment ago
        result.opened.append(incident)
    for key, incident in open_now.items():
        if key not in findings and Incident.objects.filter(pk=incident.pk, closed_at__isnull=True).update(
            closed_at=now
        ):
            incident.closed_at = now
            result.closed.append(incident)
    result.mailed = _notify(now)
    return result


def _admin_url(incident: Incident) -> str:
    path = reverse("admin:alerts_incident_change", args=[incident.pk]).removeprefix(get_script_prefix())
    return f"{settings.SITE_URL}/{path}"


def _send(incident: Incident, *, recovered: bool) -> None:
    what = incident.get_kind_display() + (f" ({incident.key})" if incident.key else "")
    if recovered:
        subject = f"[{settings.SITE_NAME}] Recovered: {what}"
        lines = [
            f"Recovered at {_when(incident.closed_at)}, open since {_when(incident.opened_at)}.",
            "",
            f"When it opened: {incident.detail}",
        ]
        if incident.last_detail and incident.last_detail != incident.detail:
            lines.append(f"Last seen: {incident.last_detail}")
    else:
        subject = f"[{settings.SITE_NAME}] Incident: {what}"
        lines = [
            incident.detail,
            "",
            f"Open since {_when(incident.opened_at)}. You get one more email when it recovers.",
        ]
    lines += ["", f"In the admin: {_admin_url(incident)}"]
    EmailMessage(
        subject=subject,
        body="\n".join(lines) + "\n",
        from_email=settings.SERVER_EMAIL,
        to=[address for _, address in settings.ADMINS],
        headers={"Auto-Submitted": "auto-generated"},
    ).send()


def _notify(now: dt.datetime) -> int:
    """Mail each opening and each recovery not mailed yet; returns how many were sent.
    A recovery is mailed only for an incident whose opening was."""
    if not settings.ADMINS:
        if Incident.objects.filter(closed_at__isnull=True).exists():
            log.warning("open incidents, but ADMINS is empty: nobody is mailed (see the admin's Incidents)")
        return 0
    sent = 0
    opening = Incident.objects.filter(closed_at__isnull=True, opened_notified_at__isnull=True)
    closing = Incident.objects.filter(
        closed_at__isnull=False, opened_notified_at__isnull=False, closed_notified_at__isnull=True
    )
    for incident, stamp in [(i, "opened_notified_at") for i in opening] + [
        (i, "closed_notified_at") for i in closing
    ]:
        # Claimed before sending: a concurrent check finds it taken and sends nothing.
        if not Incident.objects.filter(pk=incident.pk, **{f"{stamp}__isnull": True}).update(**{stamp: now}):
            continue
        try:
            _send(incident, recovered=stamp == "closed_notified_at")
        except Exception as exc:
            log.warning("could not mail the admins about incident %s: %s", incident.pk, exc)
            Incident.objects.filter(pk=incident.pk).update(**{stamp: None})  # the next check tries again
            continue
        sent += 1
    return sent
