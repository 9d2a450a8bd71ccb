from django.urls import path

from feedback import views
from feedback.stats import public

app_name = "feedback"
urlpatterns = [
    path("rate/<str:number>/", views.incomplete_link, name="rate-incomplete"),
    # Before the token's route: "thanks" is no token.
    path("rate/<str:number>/thanks/", views.rated, name="rated"),
    path("rate/<str:number>/<str:token>/", views.rate, name="rate"),
    path("stats/", public.public_stats, name="stats"),
]
