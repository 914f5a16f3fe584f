from django.urls import include, path

from alerts import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("digest/<str:token>/", views.digest_view, name="digest-view"),
    path("feed/<str:token>.xml", views.DigestFeed(), name="digest-feed"),
    path("anymail/", include("anymail.urls")),
]
