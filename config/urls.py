from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from alerts import outbox_views
from subscribers import feedback_views

urlpatterns = [
    # The local outbox lives under the admin's path, for admins only.
    path(f"{settings.ADMIN_URL}outbox/", outbox_views.outbox_list, name="outbox-list"),
    path(f"{settings.ADMIN_URL}outbox/<str:name>/", outbox_views.outbox_detail, name="outbox-message"),
    path(settings.ADMIN_URL, admin.site.urls),
    # Feedback links from digests (fixed prefix): one signed token per digest, the paper
    # and the action in the path.
    path("feedback/<str:token>/", feedback_views.feedback_digest, name="feedback-digest"),
    path("feedback/<str:token>/saved/", feedback_views.saved, name="feedback-saved"),
    path(
        "feedback/<str:token>/saved/papers.bib",
        feedback_views.saved_export,
        {"fmt": "bibtex"},
        name="feedback-saved-bibtex",
    ),
    path(
        "feedback/<str:token>/saved/arxiv-ids.txt",
        feedback_views.saved_export,
        {"fmt": "ids"},
        name="feedback-saved-ids",
    ),
    path("feedback/<str:token>/<str:paper_id>/<str:action>/", feedback_views.feedback_vote, name="feedback"),
    path("", include("alerts.urls")),
    path("", include("subscribers.urls")),
]

# A request too big or too broken to read gets a page that says what to do next.
handler400 = "subscribers.views.bad_request"
# An error of ours gets the site's page too (with a heading and landmarks), not a bare line.
handler500 = "subscribers.views.server_error"
