"""The admin for subscribers: find them, see their filters and their history, and act on
them through the services (never by editing a status by hand)."""

from __future__ import annotations

import datetime as dt

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html

from alerts.search.query import unknown_categories
from subscribers import invitations, selectors, services, tokens
from subscribers.admin_links import preview_link
from subscribers.models import Invitation, Subscriber, SubscriberEvent, TopicFilter, Vote

Actor = SubscriberEvent.Actor
Status = Subscriber.Status
# What a new invitation's expiry is set to in the form (the admin can change it).
INVITATION_DEFAULT_LIFETIME = dt.timedelta(days=30)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class TopicFilterInline(ReadOnlyInline):
    model = TopicFilter
    fields = (
        "position",
        "name",
        "query",
        "is_active",
        "unknown_categories",
        "category_notice_sent_at",
        "updated_at",
    )
    readonly_fields = fields
    verbose_name_plural = "Topic filters (the subscriber changes them on their preferences page)"

    @admin.display(description="Unknown categories (the filter matches nothing)")
    def unknown_categories(self, obj: TopicFilter) -> str:
        return ", ".join(
            f"cat:{written}" + (f" (did you mean cat:{hint}?)" if hint else "")
            for written, hint in unknown_categories(obj.query)
        )


class UnknownCategoriesFilter(admin.SimpleListFilter):
    """Subscribers with a filter saved before `cat:` was checked that names a category arXiv
    does not have: that filter matches nothing (they are told on their page and by email)."""

    title = "filters with unknown categories"
    parameter_name = "unknown_categories"

    def lookups(self, request, model_admin):
        return [("yes", "Some filter names an unknown category")]

    def queryset(self, request, queryset):
        if self.value() != "yes":
            return queryset
        return queryset.filter(
            pk__in={notice.subscriber_id for notice in selectors.filters_with_unknown_categories()}
        )


class SubscriberEventInline(ReadOnlyInline):
    model = SubscriberEvent
    fields = ("created_at", "kind", "actor", "from_status", "to_status", "detail")
    readonly_fields = fields
    ordering = ("-created_at", "-id")
    verbose_name_plural = "History (audit trail)"


def _run(modeladmin, request, queryset, verb: str, call) -> None:
    """Apply one service to every selected subscriber; report what happened to each."""
    done, unchanged = 0, 0
    for subscriber in queryset:
        try:
            changed = call(subscriber)
        except services.SubscriptionError as exc:
            modeladmin.message_user(request, exc.message, messages.WARNING)
            continue
        if changed:
            done += 1
        else:
            unchanged += 1
    if done:
        modeladmin.message_user(
            request, f"{verb}: {done} subscriber{'s' if done != 1 else ''}.", messages.SUCCESS
        )
    if unchanged:
        modeladmin.message_user(
            request,
            f"{unchanged} subscriber{'s' if unchanged != 1 else ''} left as they were.",
            messages.INFO,
        )


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    list_display = ("email", "status", "paused", "frequency", "filter_count", "created_at", "confirmed_at")
    list_filter = ("status", "frequency", "created_at", "include_trending", UnknownCategoriesFilter)
    search_fields = ("email",)
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    list_per_page = 100
    fields = (
        "email",
        "pending_email",
        "status",
        "paused_at",
        "paused_until",
        "frequency",
        "week_day",
        "send_hour",
        "timezone",
        "max_papers",
        "include_trending",
        "send_when_empty",
        "created_at",
        "confirmed_at",
        "status_changed_at",
        "unsubscribed_since",
        "updated_at",
        "next_digest",
    )
    readonly_fields = fields
    inlines = (TopicFilterInline, SubscriberEventInline)
    actions = ("resend_confirmation", "reactivate", "suppress_bounced", "suppress_complained")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(filter_count=Count("filters"))

    def has_add_permission(self, request):
        # People sign up themselves (double opt-in); an admin never subscribes anyone.
        return False

    @admin.display(description="Filters", ordering="filter_count")
    def filter_count(self, obj: Subscriber) -> int:
        return obj.filter_count

    # Words, not Django's boolean icons: a red cross for "not paused" read as an error.
    @admin.display(description="Paused", ordering="paused_at")
    def paused(self, obj: Subscriber) -> str | None:
        if not obj.paused_at:
            return None
        until = f", until {obj.paused_until:%Y-%m-%d}" if obj.paused_until else ""
        return f"since {obj.paused_at:%Y-%m-%d}{until}"

    # The column keeps the date of the last unsubscription; a re-subscribed subscriber is
    # not unsubscribed, so the date shows only while the status says so.
    @admin.display(description="Unsubscribed at")
    def unsubscribed_since(self, obj: Subscriber):
        if obj.status != Status.UNSUBSCRIBED or obj.unsubscribed_at is None:
            return self.get_empty_value_display()
        return date_format(timezone.localtime(obj.unsubscribed_at), "DATETIME_FORMAT")

    @admin.display(description="Next digest")
    def next_digest(self, obj: Subscriber) -> str:
        return preview_link(obj)

    # Actions ---------------------------------------------------------------------------

    @admin.action(description="Resend the confirmation email")
    def resend_confirmation(self, request, queryset):
        def call(subscriber):
            sent = services.confirmation_resend(subscriber=subscriber, actor=Actor.ADMIN)
            if not sent:
                self.message_user(
                    request,
                    f"{subscriber.email} already had its share of emails today; nothing sent.",
                    messages.WARNING,
                )
            return sent

        _run(self, request, queryset, "Confirmation email queued", call)

    @admin.action(description="Reactivate (after a bounce; never a complaint)")
    def reactivate(self, request, queryset):
        _run(
            self,
            request,
            queryset,
            "Reactivated",
            lambda subscriber: services.subscriber_reactivate(subscriber=subscriber, actor=Actor.ADMIN),
        )

    @admin.action(description="Suppress: mark as bounced (no more mail)")
    def suppress_bounced(self, request, queryset):
        self._suppress(request, queryset, Status.BOUNCED)

    @admin.action(description="Suppress: mark as complained (no more mail, ever)")
    def suppress_complained(self, request, queryset):
        self._suppress(request, queryset, Status.COMPLAINED)

    def _suppress(self, request, queryset, status: str) -> None:
        reason = f"suppressed by {request.user.get_username()} in the admin"

        def call(subscriber):
            return services.subscriber_suppress(
                subscriber=subscriber, status=status, reason=reason, actor=Actor.ADMIN
            )

        _run(self, request, queryset, f"Marked {status}", call)

    # Deleting is erasing (a GDPR request): personal data goes, the counts stay. -------

    def delete_model(self, request, obj):
        services.subscriber_erase(subscriber=obj, actor=Actor.ADMIN)

    def delete_queryset(self, request, queryset):
        for subscriber in queryset:
            services.subscriber_erase(subscriber=subscriber, actor=Actor.ADMIN)

    # Counts at a glance, and the dashboard ----------------------------------------------

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "status_counts": selectors.subscriber_status_counts(),
            "dashboard_url": reverse(f"{self.admin_site.name}:subscribers_subscriber_dashboard"),
        }
        return super().changelist_view(request, extra_context=extra_context)

    def get_urls(self):
        dashboard = path(
            "dashboard/",
            self.admin_site.admin_view(self.dashboard_view),
            name="subscribers_subscriber_dashboard",
        )
        return [dashboard, *super().get_urls()]

    def dashboard_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        days = selectors.subscriber_daily_stats(days=30)
        context = {
            **self.admin_site.each_context(request),
            "title": "Subscribers: the last 30 days",
            "opts": self.model._meta,
            "days": days,
            "most_active": max((day.active for day in days), default=0) or 1,
            "most_signups": max((day.signups for day in days), default=0) or 1,
            "status_counts": selectors.subscriber_status_counts(),
        }
        return TemplateResponse(request, "admin/subscribers/dashboard.html", context)

    class Media:
        css = {"all": ("subscribers/admin.css",)}


@admin.register(SubscriberEvent)
class SubscriberEventAdmin(admin.ModelAdmin):
    """The audit trail: every state change of every subscriber, read-only."""

    list_display = ("created_at", "subscriber", "kind", "actor", "from_status", "to_status", "detail")
    list_filter = ("kind", "actor", "created_at")
    search_fields = ("subscriber__email",)
    date_hierarchy = "created_at"
    list_select_related = ("subscriber",)
    list_per_page = 100
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Vote)
class VoteAdmin(admin.ModelAdmin):
    """Readers' votes from their digests (more / less like this, save): seen and removable
    here (a reader removes their own on the manage page); never written by hand."""

    list_display = ("created_at", "subscriber", "action", "source", "paper")
    list_filter = ("action", "source", "created_at")
    search_fields = ("subscriber__email", "paper__arxiv_id", "paper__title")
    date_hierarchy = "created_at"
    list_select_related = ("subscriber", "paper")
    raw_id_fields = ("subscriber", "paper", "digest")
    list_per_page = 100
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def _invitation_state(invitation: Invitation) -> str:
    try:
        invitations.invitation_check(invitation)
    except invitations.InvitationUnusable as exc:
        return {"expired": "expired", "used_up": "used up", "revoked": "revoked"}[exc.reason]
    return "valid"


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """Sign-up links for addresses outside SIGNUP_ALLOWED_DOMAINS: create one, copy its
    link from the list or the invitation's page, revoke it when it should stop."""

    list_display = ("__str__", "state", "use_count", "expires_at", "created_by", "created_at", "link")
    list_filter = ("created_at", "expires_at")
    search_fields = ("note",)
    actions = ("revoke",)
    readonly_fields = ("link", "state", "use_count", "created_by", "created_at", "revoked_at")

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("note", "expires_at", "max_uses")
        return ("link", "state", "note", "use_count", "expires_at", "created_by", "created_at", "revoked_at")

    def get_readonly_fields(self, request, obj=None):
        # The link's rules are fixed once it may be in someone's hands; the note stays editable.
        return self.readonly_fields + (("expires_at", "max_uses") if obj else ())

    def get_changeform_initial_data(self, request):
        return {"expires_at": timezone.now() + INVITATION_DEFAULT_LIFETIME, "max_uses": 1}

    @admin.display(description="Link to send")
    def link(self, obj: Invitation) -> str:
        url = tokens.invitation_url(obj)
        return format_html(
            '<input type="text" readonly value="{}" aria-label="Invitation link" size="70" '
            'class="invitation-link">',
            url,
        )

    @admin.display(description="State")
    def state(self, obj: Invitation) -> str:
        return _invitation_state(obj)

    @admin.display(description="Uses", ordering="uses")
    def use_count(self, obj: Invitation) -> str:
        return f"{obj.uses} of {obj.max_uses}"

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["note"])
            return
        created = invitations.invitation_create(
            created_by=request.user, note=obj.note, expires_at=obj.expires_at, max_uses=obj.max_uses
        )
        obj.pk, obj.secret, obj.created_at = created.pk, created.secret, created.created_at

    @admin.action(description="Revoke: the link stops working at once")
    def revoke(self, request, queryset):
        revoked = sum(invitations.invitation_revoke(invitation=invitation) for invitation in queryset)
        self.message_user(
            request, f"Revoked: {revoked} invitation{'s' if revoked != 1 else ''}.", messages.SUCCESS
        )
