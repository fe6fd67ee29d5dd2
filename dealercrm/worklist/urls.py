from django.urls import path

from . import views

app_name = "worklist"

urlpatterns = [
    path("", views.mine, name="mine"),
    path("all/", views.all_tasks, name="all"),
    path("<int:task_id>/", views.detail, name="detail"),
    path("<int:task_id>/complete/", views.complete, name="complete"),
    path("<int:task_id>/assign/", views.assign, name="assign"),
    path("notices/read/", views.notices_read, name="notices_read"),
]
