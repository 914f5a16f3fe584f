from urllib.parse import quote

from csp.decorators import csp_update
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html

from alerts import admin_schedules
from alerts.digests.previews import digest_preview
from alerts.digests.recovery import digests_retry
from alerts.digests.resending import digest_resend_plan, digest_resend_request
from alerts.models import DeliveryEvent, Digest, DigestItem, DigestResend, FetchRun, Incident, Paper
from alerts.tasks import send_test_digest
from subscribers.admin_links import preview_link
from subscribers.models import Subscriber


@admin.register(Paper)
class PaperAdmin(admin.ModelAdmin):
    # A link typed without a scheme is https (Django 6's default, chosen now).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ("key_display", "title", "primary_category", "announced_on", "upvotes", "source")
    list_filter = ("source", "announced_on", "primary_category", "announce_type")
    search_fields = ("arxiv_id", "external_key", "title", "abstract", "doi")
    date_hierarchy = "first_seen_at"
    readonly_fields = ("first_seen_at", "modified_at")
    list_per_page = 50
    show_full_result_count = False

    @admin.display(description="Id", ordering="arxiv_id")
    def key_display(self, obj: Paper) -> str:
        return obj.key


class LeftOutFilter(admin.SimpleListFilter):
    """Runs that left categories in use unfetched (ARXIV_MAX_CATEGORIES_PER_RUN)."""

    title = "categories left out"
    parameter_name = "left_out"

    def lookups(self, request, model_admin):
        return [("yes", "Some left out"), ("no", "None left out")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(left_out=[])
        if self.value() == "no":
            return queryset.filter(left_out=[])
        return queryset


@admin.register(FetchRun)
class FetchRunAdmin(admin.ModelAdmin):
    """Every fetch of every source, failures first to the eye: a read-only log."""

    list_display = (
        "started_at",
        "source",
        "status",
        "fetched",
        "created",
        "updated",
        "skipped",
        "requests",
        "duration",
        "left_out_short",
        "error_short",
    )
    list_filter = ("status", "source", LeftOutFilter, "started_at")
    search_fields = ("error", "notes")
    date_hierarchy = "started_at"
    list_per_page = 100

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Duration")
    def duration(self, obj: FetchRun) -> str:
        if not obj.finished_at:
            return "-"
        return f"{(obj.finished_at - obj.started_at).total_seconds():.1f}s"

    @admin.display(description="Left out")
    def left_out_short(self, obj: FetchRun) -> str:
        """How many categories in use this run did not fetch, and the first of them."""
        if not obj.left_out:
            return "-"
        shown = ", ".join(obj.left_out[:5])
        return f"{len(obj.left_out)}: {shown}" + (", ..." if len(obj.left_out) > 5 else "")

    @admin.display(description="Error or notes")
    def error_short(self, obj: FetchRun) -> str:
        text = obj.error or obj.notes
        return text if len(text) <= 160 else text[:157] + "..."


class DigestItemInline(admin.TabularInline):
    model = DigestItem
    extra = 0
    can_delete = False
    fields = ("section", "rank", "paper", "score", "filters", "terms")
    readonly_fields = fields
    raw_id_fields = ("paper",)

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class DigestResendInline(admin.TabularInline):
    """The audit of a digest's re-sends: who asked, when, and what became of each."""

    model = DigestResend
    extra = 0
    can_delete = False
    fields = ("requested_at", "requested_by_name", "status", "message_id", "sent_at", "error")
    readonly_fields = fields
    verbose_name_plural = "Re-sends (sent again by an admin)"

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Digest)
class DigestAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "subscriber",
        "period",
        "frequency",
        "status",
        "paper_count",
        "attempts",
        "sent_at",
        "delivery_status",
        "error_short",
    )
    list_filter = ("status", "period", "frequency", "delivery_status")
    search_fields = ("subscriber__email", "esp_message_id", "subject")
    date_hierarchy = "period"
    list_select_related = ("subscriber",)
    raw_id_fields = ("subscriber",)
    inlines = [DigestResendInline, DigestItemInline]
    actions = ["retry_digests"]
    show_full_result_count = False
    readonly_fields = [f.name for f in Digest._meta.fields] + ["next_digest", "send_again"]

    @admin.display(description="Send again")
    def send_again(self, obj: Digest) -> str:
        url = reverse("admin:alerts_digest_resend", args=[obj.pk])
        return format_html('<a href="{}">Send this digest again…</a>', url)

    @admin.display(description="Subscriber's next digest")
    def next_digest(self, obj: Digest) -> str:
        return preview_link(obj.subscriber)

    @admin.display(description="Last error")
    def error_short(self, obj: Digest) -> str:
        return (obj.last_error[:120] + "…") if len(obj.last_error) > 120 else obj.last_error

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Send the selected failed digests again")
    def retry_digests(self, request, queryset):
        count = digests_retry(digest_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{count} failed digest(s) queued to be sent again.")

    def get_urls(self):
        custom = [
            path(
                "preview/",
                self.admin_site.admin_view(self.preview_view),
                name="alerts_digest_preview",
            ),
            path(
                "<int:digest_id>/resend/",
                self.admin_site.admin_view(self.resend_view),
                name="alerts_digest_resend",
            ),
        ]
        return custom + super().get_urls()

    def resend_view(self, request, digest_id: int):
        """ "Send this digest again": GET shows what would happen (or why it cannot), the
        POST of its form (CSRF-checked by admin_view) does it. A second delivery to a person
        needs the alerts.resend_digest permission, not only admin access."""
        if not request.user.has_perm("alerts.resend_digest"):
            raise PermissionDenied
        digest = get_object_or_404(Digest.objects.select_related("subscriber"), pk=digest_id)
        change_url = reverse("admin:alerts_digest_change", args=[digest.pk])
        if request.method == "POST":
            plan = digest_resend_request(digest_id=digest.pk, user=request.user)
            if plan.refusal:
                messages.error(request, f"Not sent: {plan.refusal}")
            elif plan.action == "retry":
                messages.success(request, f"The failed digest {digest.pk} is queued to be sent again.")
            else:
                messages.success(
                    request,
                    f"Digest {digest.pk} is on its way again to {digest.subscriber.email}, "
                    "with a new Message-ID; the re-send is listed on this page.",
                )
            return redirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Send digest {digest.pk} again?",
            "opts": self.model._meta,
            "digest": digest,
            "plan": digest_resend_plan(digest=digest),
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/alerts/digest/resend_confirm.html", context)

    # The preview shows the email's inline styles in a sandboxed frame, which inherits this
    # page's CSP; scripts stay forbidden (and the sandbox disables them too).
    @method_decorator(csp_update({"style-src": ["'unsafe-inline'"]}))
    def preview_view(self, request):
        """The next digest of any subscriber, rendered; and "send a test digest to me".

        It tells whether an address is subscribed and shows what they read: staff need the
        alerts.preview_digest permission (superusers have it), not only admin access."""
        if not request.user.has_perm("alerts.preview_digest"):
            raise PermissionDenied
        context = {**self.admin_site.each_context(request), "title": "Preview a subscriber's next digest"}
        email = (request.POST.get("email") or request.GET.get("email") or "").strip()
        context["email"] = email
        if email:
            subscriber = Subscriber.objects.by_email(email).first()
            if subscriber is None:
                context["error"] = f"No subscriber has the address {email}."
            elif request.method == "POST" and "send_test" in request.POST:
                if not request.user.email:
                    context["error"] = "Your admin account has no email address to send the test to."
                else:
                    send_test_digest.delay(subscriber.pk, request.user.email)
                    self.message_user(
                        request,
                        f"A test digest for {subscriber.email} is on its way to {request.user.email}.",
                    )
                    return redirect(f"{request.path}?email={quote(subscriber.email)}")
            else:
                preview = digest_preview(subscriber=subscriber)
                context.update(subscriber=subscriber, preview=preview, rendered=preview.rendered)
        return TemplateResponse(request, "admin/alerts/digest/preview.html", context)


@admin.register(DigestResend)
class DigestResendAdmin(admin.ModelAdmin):
    """Every re-send an admin asked for: the audit trail of second deliveries."""

    list_display = ("requested_at", "digest", "subscriber_email", "requested_by_name", "status", "sent_at")
    list_filter = ("status", "requested_at")
    search_fields = ("digest__subscriber__email", "requested_by_name", "message_id")
    list_select_related = ("digest", "digest__subscriber")
    readonly_fields = [f.name for f in DigestResend._meta.fields]

    @admin.display(description="Subscriber")
    def subscriber_email(self, obj: DigestResend) -> str:
        return obj.digest.subscriber.email if obj.digest.subscriber else "-"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class OpenFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", "Open"), ("closed", "Closed")]

    def queryset(self, request, queryset):
        if self.value() in ("open", "closed"):
            return queryset.filter(closed_at__isnull=self.value() == "open")
        return queryset


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    """Operator incidents (alerts.incidents): open ones first to the eye, a read-only log."""

    list_display = ("opened_at", "kind", "key", "closed_at", "detail", "last_detail", "mailed")
    list_filter = (OpenFilter, "kind", "opened_at")
    search_fields = ("detail", "last_detail", "key")
    date_hierarchy = "opened_at"
    readonly_fields = [f.name for f in Incident._meta.fields]

    @admin.display(description="Admins mailed")
    def mailed(self, obj: Incident) -> str:
        said = [
            w for w, at in (("opened", obj.opened_notified_at), ("recovered", obj.closed_notified_at)) if at
        ]
        return ", ".join(said) or "-"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(DeliveryEvent)
class DeliveryEventAdmin(admin.ModelAdmin):
    list_display = ("received_at", "event_type", "recipient", "esp_name", "digest", "reject_reason")
    list_filter = ("event_type", "esp_name", "reject_reason")
    search_fields = ("recipient", "message_id", "event_id")
    raw_id_fields = ("digest", "subscriber")
    date_hierarchy = "received_at"
    readonly_fields = [f.name for f in DeliveryEvent._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


# Periodic tasks: schedules in plain words, Celery's housekeeping out of the list.
admin_schedules.register(admin.site)
