from django.contrib import admin

from .models import Paper


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
