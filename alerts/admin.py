from django.contrib import admin

from .models import FetchRun, Paper


@admin.register(Paper)
class PaperAdmin(admin.ModelAdmin):
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
        "error_short",
    )
    list_filter = ("status", "source", "started_at")
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

    @admin.display(description="Error or notes")
    def error_short(self, obj: FetchRun) -> str:
        text = obj.error or obj.notes
        return text if len(text) <= 160 else text[:157] + "..."
