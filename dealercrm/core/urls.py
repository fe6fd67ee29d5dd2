from django.contrib.auth import views as auth_views
from django.urls import path

from . import views, views_audit, views_org

app_name = "core"
urlpatterns = [
    path("", views.workspace, name="workspace"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("me/language/", views.set_language, name="set_language"),
    path("me/tokens/", views.api_tokens, name="api_tokens"),
    path("me/tokens/<int:token_id>/revoke/", views.api_token_revoke_view, name="api_token_revoke"),
    path("audit/", views_audit.audit_log, name="audit_log"),
    path("org/regions/", views_org.region_list, name="region_list"),
    path("org/regions/new/", views_org.region_create_view, name="region_create"),
    path("org/regions/<int:region_id>/edit/", views_org.region_edit, name="region_edit"),
    path("org/regions/<int:region_id>/toggle/", views_org.region_toggle, name="region_toggle"),
    path("org/groups/", views_org.group_list, name="group_list"),
    path("org/groups/new/", views_org.group_create_view, name="group_create"),
    path("org/groups/<int:group_id>/edit/", views_org.group_edit, name="group_edit"),
    path("org/groups/<int:group_id>/toggle/", views_org.group_toggle, name="group_toggle"),
    path("org/dealers/", views_org.dealer_list, name="dealer_list"),
    path("org/dealers/new/", views_org.dealer_create_view, name="dealer_create"),
    path("org/dealers/<int:dealer_id>/", views_org.dealer_detail, name="dealer_detail"),
    path("org/dealers/<int:dealer_id>/edit/", views_org.dealer_edit, name="dealer_edit"),
    path("org/dealers/<int:dealer_id>/toggle/", views_org.dealer_toggle, name="dealer_toggle"),
    path("org/staff/", views_org.staff_list, name="staff_list"),
    path("org/staff/new/", views_org.staff_create_view, name="staff_create"),
    path("org/staff/<int:user_id>/edit/", views_org.staff_edit, name="staff_edit"),
    path("org/staff/<int:user_id>/toggle/", views_org.staff_toggle, name="staff_toggle"),
    path("org/staff/<int:user_id>/password/", views_org.staff_password, name="staff_password"),
]
