from django.urls import path

from tickets.desk import views

app_name = "desk"
urlpatterns = [
    path("call/", views.call_entry, name="call"),
    path("call/history/", views.call_history, name="call-history"),
    path("call/<str:number>/", views.call_done, name="call-done"),
]
