from django.urls import path

from feedback.stats import desk

app_name = "stats"
urlpatterns = [
    path("", desk.stats_dashboard, name="dashboard"),
    path("tickets/", desk.stats_tickets, name="tickets"),
    path("ranking/", desk.stats_ranking, name="ranking"),
]
