"""The admin's view of the local outbox: what the service sent, as the recipient sees it."""

from dataclasses import dataclass
from datetime import datetime

from csp.decorators import csp_update
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render

from alerts.outbox import html_for_preview, message_bodies, outbox_message, outbox_names

PAGE_SIZE = 50

# The outbox holds every confirm and manage link ever sent: staff need this permission
# (superusers have it). Staff without it get 403; anyone else the admin's login page.
OUTBOX_PERMISSION = "alerts.view_outbox"


@dataclass(frozen=True)
class OutboxRow:
    name: str
    date: datetime | None
    to: str
    subject: str


def _date(message) -> datetime | None:
    header = message["Date"]
    return getattr(header, "datetime", None)


@staff_member_required
@permission_required(OUTBOX_PERMISSION, raise_exception=True)
def outbox_list(request):
    page = Paginator(outbox_names(), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = []
    for name in page:
        message = outbox_message(name, headers_only=True)
        if message is None:
            continue  # removed since it was listed
        to, subject = str(message["To"] or ""), str(message["Subject"] or "")
        rows.append(OutboxRow(name=name, date=_date(message), to=to, subject=subject))
    context = {
        **admin.site.each_context(request),
        "title": "Local outbox",
        "page": page,
        "rows": rows,
        "uses_outbox": settings.EMAIL_BACKEND == "alerts.outbox.OutboxEmailBackend",
        "email_backend": settings.EMAIL_BACKEND,
    }
    return render(request, "admin/outbox/list.html", context)


# The email's own styles (a <style> block, style attributes) must apply inside the preview
# frame, which inherits this page's policy. Scripts stay forbidden, and the frame is sandboxed.
@staff_member_required
@permission_required(OUTBOX_PERMISSION, raise_exception=True)
@csp_update({"style-src": ["'unsafe-inline'"]})
def outbox_detail(request, name: str):
    message = outbox_message(name)
    if message is None:
        raise Http404("No such message in the outbox.")
    text, html = message_bodies(message)
    context = {
        **admin.site.each_context(request),
        "title": str(message["Subject"] or "(no subject)"),
        "name": name,
        "date": _date(message),
        "headers": [(key, str(value)) for key, value in message.items()],
        "text": text,
        "html": html_for_preview(html) if html else "",
    }
    return render(request, "admin/outbox/message.html", context)
