"""The messaging pages (staff only): outbox, templates, campaigns, settings, direct mail."""

from django.urls import path

from . import views

app_name = "messaging"
urlpatterns = [
    path("", views.outbox, name="outbox"),
    path("<int:message_id>/", views.message_detail, name="message"),
    path("<int:message_id>/cancel/", views.message_cancel, name="message_cancel"),
    path("<int:message_id>/release/", views.message_release, name="message_release"),
    path("replies/unmatched/", views.unmatched_replies, name="unmatched"),
    path("templates/", views.template_list, name="templates"),
    path("templates/new/", views.template_create, name="template_create"),
    path("templates/<int:template_id>/edit/", views.template_edit, name="template_edit"),
    path("templates/sms-length/", views.template_sms_length, name="template_sms_length"),
    path("templates/preview/", views.template_preview, name="template_preview"),
    path("templates/customers/", views.template_customers, name="template_customers"),
    path("campaigns/", views.campaign_list, name="campaigns"),
    path("campaigns/new/", views.campaign_create, name="campaign_create"),
    path("campaigns/<int:campaign_id>/", views.campaign_detail, name="campaign"),
    path("campaigns/<int:campaign_id>/queue/", views.campaign_queue, name="campaign_queue"),
    path(
        "campaigns/<int:campaign_id>/progress/", views.campaign_progress, name="campaign_progress"
    ),
    path("settings/", views.messaging_settings, name="settings"),
    path("settings/provider/", views.provider_edit, name="provider"),
    path("mail/", views.mail_list, name="mail"),
    path("mail/export/", views.mail_export, name="mail_export"),
]
