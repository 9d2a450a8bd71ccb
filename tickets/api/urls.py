from django.urls import path

from departments.api import CategoryListApi, UnitListApi
from tickets.api import views

urlpatterns = [
    path("auth/token/", views.TokenApi.as_view(), name="api-token"),
    path("tickets/", views.TicketListCreateApi.as_view(), name="api-tickets"),
    path("tickets/<str:number>/", views.TicketDetailApi.as_view(), name="api-ticket"),
    *[
        path(f"tickets/<str:number>/{view.transition}/", view.as_view(), name=f"api-ticket-{view.transition}")
        for view in views.TRANSITION_VIEWS
    ],
    path("reports/overdue/", views.OverdueReportApi.as_view(), name="api-report-overdue"),
    path("units/", UnitListApi.as_view(), name="api-units"),
    path("categories/", CategoryListApi.as_view(), name="api-categories"),
]
