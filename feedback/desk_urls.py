from django.urls import path

from feedback import desk

app_name = "callbacks"
urlpatterns = [
    path("", desk.callbacks, name="list"),
    path("<str:number>/", desk.callback, name="call"),
]
