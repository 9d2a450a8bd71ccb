from django.urls import path

from tickets.intake import views

app_name = "intake"
urlpatterns = [
    path("sms/", views.sms_webhook, name="sms"),
    path("weibo/", views.weibo_webhook, name="weibo"),
]
