from django.urls import path

from tickets.desk import archive, live, views

app_name = "desk"
urlpatterns = [
    path("", live.dispatch_desk, name="dispatch"),
    path("tickets/<str:number>/", live.dispatch_panel, name="dispatch-panel"),
    path("queue/", live.unit_queue_page, name="queue-mine"),
    path("queue/<slug:code>/", live.unit_queue_page, name="queue"),
    path("call/", views.call_entry, name="call"),
    path("call/history/", views.call_history, name="call-history"),
    path("call/<str:number>/", views.call_done, name="call-done"),
    path("search/", archive.archive_search, name="search"),
    path("record/<str:number>/", archive.ticket_record, name="record"),
]
