from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from alerts import outbox_views

urlpatterns = [
    # The local outbox lives under the admin's path, for admins only.
    path(f"{settings.ADMIN_URL}outbox/", outbox_views.outbox_list, name="outbox-list"),
    path(f"{settings.ADMIN_URL}outbox/<str:name>/", outbox_views.outbox_detail, name="outbox-message"),
    path(settings.ADMIN_URL, admin.site.urls),
    path("", include("alerts.urls")),
    path("", include("subscribers.urls")),
]

# A request too big or too broken to read gets a page that says what to do next.
handler400 = "subscribers.views.bad_request"
# An error of ours gets the site's page too (with a heading and landmarks), not a bare line.
handler500 = "subscribers.views.server_error"
