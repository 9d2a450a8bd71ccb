from django.urls import path

from tickets.citizen import views

app_name = "citizen"
urlpatterns = [
    path("", views.report, name="report"),
    path("reported/<str:number>/", views.reported, name="reported"),
    path("track/", views.find, name="find"),
    path("track/<str:number>/", views.track, name="track"),
]
