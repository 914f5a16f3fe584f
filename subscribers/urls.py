from django.urls import path

from subscribers import views

app_name = "subscribers"

urlpatterns = [
    path("", views.signup, name="signup"),
    path("preview/", views.preview_view, name="preview"),
    path("resend/", views.resend, name="resend"),
    path("confirm/<str:token>/", views.confirm, name="confirm"),
    path("manage/<str:token>/", views.manage, name="manage"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("unsubscribe/<str:token>/resubscribe/", views.resubscribe, name="resubscribe"),
]
