"""django-celery-beat's "Periodic tasks" list, as an operator reads it: each schedule in
plain words, and Celery's own housekeeping (celery.backend_cleanup) left out of the list."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin import helpers
from django_celery_beat.admin import PeriodicTaskAdmin
from django_celery_beat.models import PeriodicTask

from alerts.schedule_words import schedule_in_words

# Tasks Celery schedules for itself; nothing an operator of this service needs to see.
INTERNAL_PREFIX = "celery."


class PlainPeriodicTaskAdmin(PeriodicTaskAdmin):
    list_display = ("name", "enabled", "schedule_words", "last_run_at", "one_off")

    @admin.display(description="Schedule")
    def schedule_words(self, obj: PeriodicTask) -> str:
        return schedule_in_words(obj)

    def action_checkbox(self, obj: PeriodicTask):
        # Django names the row by str(obj), which for a periodic task is the raw cron line.
        attrs = {"class": "action-select", "aria-label": f"Select {obj.name} ({schedule_in_words(obj)})"}
        return forms.CheckboxInput(attrs, lambda value: False).render(
            helpers.ACTION_CHECKBOX_NAME, str(obj.pk)
        )

    def get_queryset(self, request):
        return super().get_queryset(request).exclude(task__startswith=INTERNAL_PREFIX)


def register(site: admin.AdminSite) -> None:
    if site.is_registered(PeriodicTask):
        site.unregister(PeriodicTask)
    site.register(PeriodicTask, PlainPeriodicTaskAdmin)
