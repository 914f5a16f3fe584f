"""The admin site: Django's, with the service's cockpit on its home page and the two
buttons the cockpit offers ("fetch now" per source, "send due digests now").

Both buttons are POST forms (CSRF-checked by `admin_view`) and need the permission to
change periodic tasks: whoever may run the scheduled jobs from "Periodic tasks" may start
one now. Each answers with what it started and a link to where its run shows up.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from alerts import cockpit
from alerts.models import Incident, Paper
from alerts.tasks import dispatch_due_digests, fetch_papers_task

RUN_JOBS = "django_celery_beat.change_periodictask"


def cockpit_context(request) -> dict:
    """What the home page shows this user: each part only with the permission to see it."""
    user = request.user
    now = timezone.now()
    context: dict = {"can_run_jobs": user.has_perm(RUN_JOBS), "offline_demo": settings.OFFLINE_DEMO}
    if user.has_perm("alerts.view_incident"):
        context["incidents"] = list(Incident.objects.filter(closed_at__isnull=True).order_by("opened_at"))
        context["show_incidents"] = True
    if user.has_perm("alerts.view_fetchrun"):
        context["sources"] = cockpit.sources_status(now=now)
    if user.has_perm("alerts.view_digest"):
        context["queue"] = cockpit.queue_status()
        charts = cockpit.activity_charts(today=timezone.localdate(now))
        days = charts[0][0].days if charts else []
        context["charts"] = charts
        context["chart_rows"] = [(day, [s.values[i] for s, _ in charts]) for i, day in enumerate(days)]
        context["time_zone"] = settings.TIME_ZONE
    return context


class AlertsAdminSite(admin.AdminSite):
    site_header = "Paper alerts"
    site_title = "Paper alerts admin"
    index_title = "The service at a glance"

    def index(self, request, extra_context=None):
        context = {**cockpit_context(request), **(extra_context or {})}
        return super().index(request, extra_context=context)

    def get_urls(self):
        mine = [
            path("cockpit/fetch/", self.admin_view(self.fetch_now), name="cockpit_fetch"),
            path("cockpit/send-due/", self.admin_view(self.send_due_now), name="cockpit_send_due"),
        ]
        return mine + super().get_urls()

    def _check(self, request) -> None:
        if not request.user.has_perm(RUN_JOBS):
            raise PermissionDenied("Starting a job needs the permission to change periodic tasks.")

    @staticmethod
    def _since_query(field: str, **more: str) -> str:
        # The run's rows are the ones started from this moment on (to the second).
        moment = timezone.now().replace(microsecond=0)
        return urlencode({**more, f"{field}__gte": moment.isoformat()})

    @staticmethod
    def _home():
        return HttpResponseRedirect(reverse("admin:index"))

    def fetch_now(self, request):
        return require_POST(self._fetch_now)(request)

    def _fetch_now(self, request):
        self._check(request)
        source = request.POST.get("source", "")
        if source not in cockpit.fetchable_sources():
            messages.error(request, f"There is no source {source!r} to fetch now.")
            return self._home()
        link = (
            reverse("admin:alerts_fetchrun_changelist") + "?" + self._since_query("started_at", source=source)
        )
        result = fetch_papers_task.delay(source=source)
        label = Paper.Source(source).label
        messages.success(
            request,
            format_html(
                'Started {} for {} ({}), task {}. <a href="{}">Its run in the fetch log</a>.',
                cockpit.FETCH_TASK,
                label,
                source,
                result.id,
                link,
            ),
        )
        return self._home()

    def send_due_now(self, request):
        return require_POST(self._send_due_now)(request)

    def _send_due_now(self, request):
        self._check(request)
        link = reverse("admin:alerts_digest_changelist") + "?" + self._since_query("created_at")
        result = dispatch_due_digests.delay()
        messages.success(
            request,
            format_html(
                "Started {} (task {}): the digests of subscribers whose send hour has come are "
                'created and queued to send. <a href="{}">The digests of this run</a>.',
                cockpit.DISPATCH_TASK,
                result.id,
                link,
            ),
        )
        return self._home()
