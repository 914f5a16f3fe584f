from django.conf import settings
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path(settings.ADMIN_URL, admin.site.urls),
    path("", include("alerts.urls")),
    path("", include("subscribers.urls")),
]

# A request too big or too broken to read gets a page that says what to do next.
handler400 = "subscribers.views.bad_request"
