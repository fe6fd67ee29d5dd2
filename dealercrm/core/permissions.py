"""Roles and what each may do.

Roles are fixed by the business, so their permissions live here in code (reviewed, versioned,
no database look-up per check) rather than in editable Groups. RoleBackend answers
`user.has_perm("customers.view_full_contact")` from this table.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    SALES_CONSULTANT = "sales_consultant", _("Sales consultant")
    SERVICE_ADVISOR = "service_advisor", _("Service advisor")
    CARE_SPECIALIST = "care_specialist", _("Customer care specialist")
    DEALER_MANAGER = "dealer_manager", _("Dealer manager")
    DEALER_ADMIN = "dealer_admin", _("Dealer administrator")
    OEM_ANALYST = "oem_analyst", _("OEM analyst")
    OEM_ADMIN = "oem_admin", _("OEM administrator")
    SYSTEM_ADMIN = "system_admin", _("System administrator")


DEALER_ROLES = frozenset(
    {
        Role.SALES_CONSULTANT,
        Role.SERVICE_ADVISOR,
        Role.CARE_SPECIALIST,
        Role.DEALER_MANAGER,
        Role.DEALER_ADMIN,
    }
)
NETWORK_ROLES = frozenset({Role.OEM_ANALYST, Role.OEM_ADMIN, Role.SYSTEM_ADMIN})


class Perm:
    """Permission names, as `user.has_perm` takes them."""

    VIEW_CUSTOMER = "customers.view_customer"
    # Without this a user sees only the customers assigned to them.
    VIEW_ALL_DEALER_CUSTOMERS = "customers.view_all_dealer_customers"
    ADD_CUSTOMER = "customers.add_customer"
    CHANGE_CUSTOMER = "customers.change_customer"
    DELETE_CUSTOMER = "customers.delete_customer"
    VIEW_FULL_CONTACT = "customers.view_full_contact"
    ADD_INTERACTION = "customers.add_interaction"
    VIEW_VEHICLE = "vehicles.view_vehicle"
    CHANGE_VEHICLE = "vehicles.change_vehicle"
    MANAGE_CATALOGUE = "vehicles.manage_catalogue"
    VIEW_NETWORK = "core.view_network"
    MANAGE_STAFF = "core.manage_staff"
    MANAGE_DEALERS = "core.manage_dealers"
    VIEW_AUDIT_LOG = "core.view_audit_log"
    MANAGE_API_TOKENS = "core.manage_api_tokens"
    # Messaging: send one-off messages and see the dealer's outbox; templates; campaigns;
    # providers and the quiet-hours / frequency-cap policy; the direct-mail address list.
    SEND_MESSAGE = "messaging.send_message"
    VIEW_MESSAGES = "messaging.view_message"
    MANAGE_TEMPLATES = "messaging.manage_templates"
    RUN_CAMPAIGNS = "messaging.run_campaign"
    MANAGE_MESSAGING_SETTINGS = "messaging.manage_settings"
    EXPORT_MAIL_LIST = "messaging.export_mail_list"
    # Worklist: see one's tasks and work them; managers see and hand out everyone's.
    WORK_TASKS = "worklist.work_task"
    MANAGE_TASKS = "worklist.manage_task"
    # Sales: see leads (a consultant only their own without VIEW_ALL_LEADS); work them (activities,
    # test drives, quotes, orders, delivery); manage them (assign, approve a loss, the dealer's
    # sales policy); the OEM's dispatch of leads to dealers; the funnel and scorecards; posting
    # leads from a website form or an auto-show tablet (integration tokens).
    VIEW_LEADS = "sales.view_lead"
    VIEW_ALL_LEADS = "sales.view_all_leads"
    WORK_LEADS = "sales.work_lead"
    MANAGE_LEADS = "sales.manage_lead"
    DISPATCH_LEADS = "sales.dispatch_lead"
    VIEW_FUNNEL = "sales.view_funnel"
    SUBMIT_LEADS = "sales.submit_lead"
    # Bookable resources of a dealer: demo cars (and, later, service bays and loan cars).
    VIEW_RESOURCES = "bookings.view_resource"
    MANAGE_RESOURCES = "bookings.manage_resource"
    # After-sales: see appointments and repair orders (and a car's forecast); book and record
    # them; the workshop's policy (hours, capacity); the OEM's maintenance schedules per model;
    # recalls (the OEM defines them, dealers see and work their cars); roadside rescue.
    VIEW_SERVICE = "service.view_service"
    WORK_SERVICE = "service.work_service"
    MANAGE_SERVICE = "service.manage_service"
    MANAGE_SCHEDULES = "service.manage_schedules"
    VIEW_RECALLS = "service.view_recalls"
    MANAGE_RECALLS = "service.manage_recalls"
    WORK_RESCUE = "service.work_rescue"
    # Customer care: work one's care tasks; the dealer's rule settings, the team's worklists and
    # completion figures; the OEM's seasonal checks per region. Running the engine by hand.
    WORK_CARE = "care.work_care"
    MANAGE_CARE = "care.manage_care"
    MANAGE_CARE_CATALOGUE = "care.manage_catalogue"
    # Complaints: see them; take one in (every customer-facing role; the OEM's hotline routes
    # one to a dealer); handle them (contact log, solution, follow-up); the dealer's SLA
    # settings and reassigning. Surveys: build questionnaires (a dealer's own, or the brand's
    # for the OEM); send ad-hoc lists and enter phone surveys. Complaint and survey figures.
    VIEW_COMPLAINTS = "feedback.view_complaint"
    ADD_COMPLAINT = "feedback.add_complaint"
    WORK_COMPLAINTS = "feedback.work_complaint"
    MANAGE_COMPLAINTS = "feedback.manage_complaint"
    MANAGE_SURVEYS = "feedback.manage_survey"
    SEND_SURVEYS = "feedback.send_survey"
    VIEW_FEEDBACK_STATS = "feedback.view_stats"
    # Data quality: import DMS exports and spreadsheets; review the duplicate queue (the OEM's
    # across dealers too); merge customers and undo merges (and the auto-merge threshold);
    # see data-quality scores; set the brand's audit weights and rebate bands; the rebate table
    # for finance; export customers and lists.
    IMPORT_DATA = "dataquality.import_data"
    REVIEW_DUPLICATES = "dataquality.review_duplicates"
    MERGE_CUSTOMERS = "dataquality.merge_customers"
    VIEW_DATA_QUALITY = "dataquality.view_audit"
    MANAGE_AUDIT = "dataquality.manage_audit"
    EXPORT_REBATES = "dataquality.export_rebates"
    EXPORT_CUSTOMERS = "dataquality.export_customers"


_CUSTOMER_WORK = {
    Perm.VIEW_CUSTOMER,
    Perm.ADD_CUSTOMER,
    Perm.CHANGE_CUSTOMER,
    Perm.VIEW_FULL_CONTACT,
    Perm.ADD_INTERACTION,
    Perm.VIEW_VEHICLE,
    Perm.CHANGE_VEHICLE,
    Perm.MANAGE_API_TOKENS,
    Perm.SEND_MESSAGE,
    Perm.VIEW_MESSAGES,
    Perm.WORK_TASKS,
    Perm.VIEW_SERVICE,
    Perm.WORK_CARE,
    Perm.VIEW_COMPLAINTS,
    Perm.ADD_COMPLAINT,
}
# Workshop reception: appointments, repair orders, recalls, rescue.
_SERVICE_WORK = {
    Perm.WORK_SERVICE,
    Perm.VIEW_RECALLS,
    Perm.WORK_RESCUE,
    Perm.VIEW_RESOURCES,
}
# What a salesperson needs to work a lead from first contact to delivery.
_SALES_WORK = {
    Perm.VIEW_LEADS,
    Perm.WORK_LEADS,
    Perm.SUBMIT_LEADS,
    Perm.VIEW_RESOURCES,
}
# Customer care and managers run the dealer's outbound messaging.
_MESSAGING_WORK = {
    Perm.MANAGE_TEMPLATES,
    Perm.RUN_CAMPAIGNS,
    Perm.EXPORT_MAIL_LIST,
    Perm.MANAGE_TASKS,
}

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.SALES_CONSULTANT: frozenset(_CUSTOMER_WORK | _SALES_WORK),
    Role.SERVICE_ADVISOR: frozenset(
        _CUSTOMER_WORK | _SERVICE_WORK | {Perm.VIEW_ALL_DEALER_CUSTOMERS}
    ),
    Role.CARE_SPECIALIST: frozenset(
        _CUSTOMER_WORK
        | _MESSAGING_WORK
        | _SERVICE_WORK
        | {
            Perm.VIEW_ALL_DEALER_CUSTOMERS,
            Perm.WORK_COMPLAINTS,
            Perm.SEND_SURVEYS,
            Perm.VIEW_FEEDBACK_STATS,
            Perm.REVIEW_DUPLICATES,
            Perm.EXPORT_CUSTOMERS,
        }
    ),
    Role.DEALER_MANAGER: frozenset(
        _CUSTOMER_WORK
        | _MESSAGING_WORK
        | _SALES_WORK
        | _SERVICE_WORK
        | {
            Perm.VIEW_ALL_DEALER_CUSTOMERS,
            Perm.DELETE_CUSTOMER,
            Perm.VIEW_AUDIT_LOG,
            Perm.MANAGE_MESSAGING_SETTINGS,
            Perm.VIEW_ALL_LEADS,
            Perm.MANAGE_LEADS,
            Perm.VIEW_FUNNEL,
            Perm.MANAGE_RESOURCES,
            Perm.MANAGE_SERVICE,
            Perm.MANAGE_CARE,
            Perm.WORK_COMPLAINTS,
            Perm.MANAGE_COMPLAINTS,
            Perm.MANAGE_SURVEYS,
            Perm.SEND_SURVEYS,
            Perm.VIEW_FEEDBACK_STATS,
            Perm.IMPORT_DATA,
            Perm.REVIEW_DUPLICATES,
            Perm.MERGE_CUSTOMERS,
            Perm.VIEW_DATA_QUALITY,
            Perm.EXPORT_CUSTOMERS,
        }
    ),
    # The dealer admin runs the dealer's accounts and message providers, not its customer
    # relationships.
    Role.DEALER_ADMIN: frozenset(
        {
            Perm.MANAGE_STAFF,
            Perm.VIEW_AUDIT_LOG,
            Perm.MANAGE_API_TOKENS,
            Perm.MANAGE_MESSAGING_SETTINGS,
            Perm.VIEW_RESOURCES,
            Perm.MANAGE_RESOURCES,
            Perm.MANAGE_SERVICE,
            Perm.IMPORT_DATA,
            Perm.VIEW_DATA_QUALITY,
        }
    ),
    # OEM roles read the whole network; contact details stay masked for them.
    Role.OEM_ANALYST: frozenset(
        {
            Perm.VIEW_CUSTOMER,
            Perm.VIEW_ALL_DEALER_CUSTOMERS,
            Perm.VIEW_VEHICLE,
            Perm.VIEW_NETWORK,
            Perm.VIEW_LEADS,
            Perm.VIEW_ALL_LEADS,
            Perm.VIEW_FUNNEL,
            Perm.VIEW_SERVICE,
            Perm.VIEW_RECALLS,
            Perm.VIEW_COMPLAINTS,
            Perm.VIEW_FEEDBACK_STATS,
            Perm.REVIEW_DUPLICATES,
            Perm.VIEW_DATA_QUALITY,
            Perm.EXPORT_REBATES,
            Perm.EXPORT_CUSTOMERS,
        }
    ),
    Role.OEM_ADMIN: frozenset(
        {
            Perm.VIEW_CUSTOMER,
            Perm.VIEW_ALL_DEALER_CUSTOMERS,
            Perm.VIEW_VEHICLE,
            Perm.VIEW_NETWORK,
            Perm.MANAGE_DEALERS,
            Perm.MANAGE_STAFF,
            Perm.MANAGE_CATALOGUE,
            Perm.VIEW_AUDIT_LOG,
            Perm.MANAGE_API_TOKENS,
            Perm.VIEW_LEADS,
            Perm.VIEW_ALL_LEADS,
            Perm.VIEW_FUNNEL,
            Perm.DISPATCH_LEADS,
            Perm.SUBMIT_LEADS,
            Perm.VIEW_SERVICE,
            Perm.VIEW_RECALLS,
            Perm.MANAGE_RECALLS,
            Perm.MANAGE_SCHEDULES,
            Perm.MANAGE_CARE_CATALOGUE,
            Perm.VIEW_COMPLAINTS,
            Perm.ADD_COMPLAINT,
            Perm.MANAGE_SURVEYS,
            Perm.VIEW_FEEDBACK_STATS,
            Perm.REVIEW_DUPLICATES,
            Perm.VIEW_DATA_QUALITY,
            Perm.MANAGE_AUDIT,
            Perm.EXPORT_REBATES,
            Perm.EXPORT_CUSTOMERS,
        }
    ),
    Role.SYSTEM_ADMIN: frozenset(
        _CUSTOMER_WORK
        | _MESSAGING_WORK
        | _SALES_WORK
        | _SERVICE_WORK
        | {
            Perm.MANAGE_SERVICE,
            Perm.MANAGE_SCHEDULES,
            Perm.MANAGE_RECALLS,
            Perm.MANAGE_CARE,
            Perm.MANAGE_CARE_CATALOGUE,
            Perm.VIEW_COMPLAINTS,
            Perm.WORK_COMPLAINTS,
            Perm.MANAGE_COMPLAINTS,
            Perm.MANAGE_SURVEYS,
            Perm.SEND_SURVEYS,
            Perm.VIEW_FEEDBACK_STATS,
            Perm.VIEW_ALL_LEADS,
            Perm.MANAGE_LEADS,
            Perm.DISPATCH_LEADS,
            Perm.VIEW_FUNNEL,
            Perm.MANAGE_RESOURCES,
            Perm.MANAGE_MESSAGING_SETTINGS,
            Perm.VIEW_ALL_DEALER_CUSTOMERS,
            Perm.DELETE_CUSTOMER,
            Perm.VIEW_NETWORK,
            Perm.MANAGE_DEALERS,
            Perm.MANAGE_STAFF,
            Perm.MANAGE_CATALOGUE,
            Perm.VIEW_AUDIT_LOG,
            Perm.IMPORT_DATA,
            Perm.REVIEW_DUPLICATES,
            Perm.MERGE_CUSTOMERS,
            Perm.VIEW_DATA_QUALITY,
            Perm.MANAGE_AUDIT,
            Perm.EXPORT_REBATES,
            Perm.EXPORT_CUSTOMERS,
        }
    ),
}


def permissions_for_role(role: str) -> frozenset[str]:
    return ROLE_PERMISSIONS.get(role, frozenset())


class RoleBackend:
    """Authenticates by username and password like ModelBackend; answers permissions by role."""

    def authenticate(self, request, username=None, password=None, **kwargs):  # noqa: ANN001
        from django.contrib.auth.backends import ModelBackend

        return ModelBackend().authenticate(request, username=username, password=password, **kwargs)

    def get_user(self, user_id):  # noqa: ANN001
        from .user_cache import cached_user

        user = cached_user(user_id)
        return user if user is not None and user.is_active else None

    def get_all_permissions(self, user_obj, obj=None) -> set[str]:  # noqa: ANN001
        if not user_obj.is_active or user_obj.is_anonymous:
            return set()
        return set(permissions_for_role(user_obj.role))

    def has_perm(self, user_obj, perm: str, obj=None) -> bool:  # noqa: ANN001
        return perm in self.get_all_permissions(user_obj, obj)

    def has_module_perms(self, user_obj, app_label: str) -> bool:  # noqa: ANN001
        return any(p.startswith(app_label + ".") for p in self.get_all_permissions(user_obj))
