from django.urls import path

from subscribers import feedback_views, views

app_name = "subscribers"

urlpatterns = [
    path("", views.signup, name="signup"),
    path("preview/", views.preview_view, name="preview"),
    path("resend/", views.resend, name="resend"),
    path("confirm/<str:token>/", views.confirm, name="confirm"),
    path("invite/<str:token>/", views.invitation, name="invitation"),
    path("email/<str:token>/", views.email_change, name="email-change"),
    path("manage/<str:token>/", views.manage, name="manage"),
    path("manage/<str:token>/saved/", feedback_views.saved, {"kind": "manage"}, name="saved"),
    path(
        "manage/<str:token>/saved/papers.bib",
        feedback_views.saved_export,
        {"fmt": "bibtex", "kind": "manage"},
        name="saved-bibtex",
    ),
    path(
        "manage/<str:token>/saved/arxiv-ids.txt",
        feedback_views.saved_export,
        {"fmt": "ids", "kind": "manage"},
        name="saved-ids",
    ),
    path("manage/<str:token>/votes/", feedback_views.vote_remove, name="vote-remove"),
    path("manage/<str:token>/data.json", feedback_views.data_export, name="data-export"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("unsubscribe/<str:token>/resubscribe/", views.resubscribe, name="resubscribe"),
]
