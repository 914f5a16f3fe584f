"""The periodic tasks beat runs, defined once.

Beat reads its schedule from django-celery-beat's rows (an admin can edit or disable them);
this list is what those rows are made from (`schedules_store`, called by migrations).

- arXiv rebuilds its listings at midnight US Eastern after each announcement, Sunday to
  Thursday night: they are fetched early on Monday to Friday, New York time.
- Hugging Face's upvotes move all day: its daily list is refreshed every four hours.
- Extra feeds (journals, blogs) are read once a night.
- Dispatch runs every 15 minutes: subscribers in time zones a half or quarter hour off
  UTC (India, Nepal, parts of Australia) reach their send hour at :30 or :45. Each run is
  idempotent, so running often costs a few cheap queries.
- Recovery runs every 2 minutes.
- The incident check (operator alerts) runs every 5 minutes: a late source or a stuck
  queue is mailed within minutes, and the check is a few aggregate queries.
- Old rows are pruned once a night, after the nightly fetches and before Europe's morning
  digests (RETENTION_DAYS; alerts.digests.retention).

Task names are interfaces: rows stored in existing databases name them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.utils import timezone


@dataclass(frozen=True)
class Periodic:
    name: str  # unique: the row's key in django-celery-beat's table
    task: str
    minute: str
    description: str
    hour: str = "*"
    day_of_week: str = "*"
    timezone: str = "UTC"
    kwargs: dict = field(default_factory=dict)

    def crontab(self) -> dict[str, str]:
        return {
            "minute": self.minute,
            "hour": self.hour,
            "day_of_week": self.day_of_week,
            "day_of_month": "*",
            "month_of_year": "*",
            "timezone": self.timezone,
        }


FETCH = "alerts.tasks.fetch_papers_task"
PERIODIC_TASKS = (
    Periodic(
        name="Fetch arXiv listings",
        task=FETCH,
        kwargs={"source": "arxiv-rss"},
        minute="30",
        hour="0",
        day_of_week="1-5",
        timezone="America/New_York",
        description="arXiv's listing feeds for the categories in use, after arXiv's midnight update "
        "(Sunday to Thursday nights, New York time).",
    ),
    Periodic(
        name="Refresh Hugging Face daily papers",
        task=FETCH,
        kwargs={"source": "hf-daily"},
        minute="15",
        hour="*/4",
        description="Hugging Face's daily papers of today and yesterday: new papers and their upvotes.",
    ),
    Periodic(
        name="Fetch extra feeds",
        task=FETCH,
        kwargs={"source": "feed"},
        minute="45",
        hour="1",
        description="Every feed in EXTRA_FEEDS (journals, blogs), one task each.",
    ),
    Periodic(
        name="Dispatch due digests",
        task="alerts.tasks.dispatch_due_digests",
        minute="*/15",
        description="Create the digests of subscribers whose local send hour has come, and queue them.",
    ),
    Periodic(
        name="Recover stalled digests",
        task="alerts.tasks.recover_digests",
        minute="*/2",
        description="Take over digests claimed by a worker that died; queue pending digests whose "
        "task was lost (e.g. a broker restart).",
    ),
    Periodic(
        name="Check for incidents",
        task="alerts.tasks.check_incidents",
        minute="*/5",
        description="Mail the admins (DJANGO_ADMINS) once when a source is late, the digest queue is "
        "stuck or the failure rate jumps, and once when it recovers.",
    ),
    Periodic(
        name="Prune old rows",
        task="alerts.tasks.prune_old_rows",
        minute="20",
        hour="3",
        description="Count the closed days for the charts and /metrics, then delete digest items, "
        "delivery events and fetch runs older than RETENTION_DAYS.",
    ),
)


def schedules_store(apps) -> None:
    """Make django-celery-beat's rows say what PERIODIC_TASKS says; safe to run again.

    `apps` is a migration's app registry (or django.apps.apps). A row is found by its name,
    so none is ever duplicated. What the code owns (the task, its arguments, the
    description) is written; what an admin may have chosen (when it runs, whether it is
    enabled) is kept for a row that exists, and a missing row is created enabled.
    """
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    for periodic in PERIODIC_TASKS:
        row = PeriodicTask.objects.filter(name=periodic.name).first()
        if row is None:
            # Crontab rows have no unique key: an identical one an admin made is reused.
            crontab = CrontabSchedule.objects.filter(**periodic.crontab()).order_by("pk").first()
            row = PeriodicTask(
                name=periodic.name,
                crontab=crontab or CrontabSchedule.objects.create(**periodic.crontab()),
                enabled=True,
            )
        row.task = periodic.task
        row.kwargs = json.dumps(periodic.kwargs)
        row.description = periodic.description
        row.save()
    # Beat reloads its schedule when this changes; a migration's models send no signals.
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})
