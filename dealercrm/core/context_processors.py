from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.functional import SimpleLazyObject
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from .permissions import Perm


@dataclass
class NavItem:
    key: str
    label: str
    icon: str
    url: str = ""
    children: list[NavItem] = field(default_factory=list)


def _url(name: str) -> str:
    # Other apps add their pages over time; a missing one just leaves its menu entry out.
    try:
        return reverse(name)
    except NoReverseMatch:
        return ""


def navigation(user) -> list[NavItem]:  # noqa: ANN001
    """The main menu: only what the role may open."""
    items = [NavItem("workspace", _("Workspace"), "ti-layout-dashboard", _url("core:workspace"))]
    if user.has_perm(Perm.VIEW_CUSTOMER):
        items.append(NavItem("customers", _("Customers"), "ti-users", _url("customers:list")))
    if user.has_perm(Perm.VIEW_VEHICLE) or user.has_perm(Perm.MANAGE_CATALOGUE):
        items.append(
            NavItem("vehicles", _("Vehicle catalogue"), "ti-car", _url("vehicles:catalogue"))
        )
    work: list[NavItem] = []
    if user.has_perm(Perm.WORK_TASKS):
        work.append(NavItem("tasks", _("My tasks"), "ti-checklist", _url("worklist:mine")))
    if user.has_perm(Perm.MANAGE_TASKS):
        work.append(NavItem("tasks_all", _("All tasks"), "ti-list-check", _url("worklist:all")))
    if work:
        items.append(NavItem("worklist", _("Tasks"), "ti-checklist", children=work))
    sales: list[NavItem] = []
    if user.has_perm(Perm.VIEW_LEADS):
        sales.append(NavItem("leads", _("Leads"), "ti-user-search", _url("sales:leads")))
    if user.has_perm(Perm.WORK_LEADS):
        sales.append(
            NavItem("followups", _("Follow-ups due"), "ti-calendar-due", _url("sales:followups"))
        )
        sales.append(
            NavItem("test_drives", _("Test drives"), "ti-steering-wheel", _url("sales:test_drives"))
        )
    if user.has_perm(Perm.VIEW_LEADS):
        sales.append(NavItem("orders", _("Orders"), "ti-file-invoice", _url("sales:orders")))
    if user.has_perm(Perm.MANAGE_LEADS):
        sales.append(NavItem("losses", _("Losses to approve"), "ti-user-x", _url("sales:losses")))
    if user.has_perm(Perm.DISPATCH_LEADS):
        sales.append(
            NavItem("dispatches", _("OEM dispatch"), "ti-send-2", _url("sales:dispatches"))
        )
    if user.has_perm(Perm.VIEW_FUNNEL):
        sales.append(NavItem("funnel", _("Sales funnel"), "ti-filter", _url("sales:funnel")))
        if user.has_perm(Perm.VIEW_NETWORK):
            sales.append(
                NavItem(
                    "scorecard", _("Dispatch scorecard"), "ti-chart-bar", _url("sales:scorecard")
                )
            )
    if user.has_perm(Perm.VIEW_RESOURCES):
        sales.append(
            NavItem("demo_cars", _("Demo cars"), "ti-car-garage", _url("bookings:resources"))
        )
    if user.has_perm(Perm.MANAGE_LEADS):
        sales.append(
            NavItem("sales_policy", _("Sales settings"), "ti-adjustments", _url("sales:policy"))
        )
    if sales:
        items.append(NavItem("sales", _("Sales"), "ti-car", children=sales))
    items.extend(_aftersales_navigation(user))
    messaging: list[NavItem] = []
    if user.has_perm(Perm.VIEW_MESSAGES):
        messaging.append(NavItem("outbox", _("Messages"), "ti-send", _url("messaging:outbox")))
        messaging.append(
            NavItem("templates", _("Message templates"), "ti-template", _url("messaging:templates"))
        )
    if user.has_perm(Perm.RUN_CAMPAIGNS):
        messaging.append(
            NavItem("campaigns", _("Campaigns"), "ti-speakerphone", _url("messaging:campaigns"))
        )
    if user.has_perm(Perm.MANAGE_TASKS):
        messaging.append(
            NavItem(
                "unmatched",
                _("Unmatched replies"),
                "ti-message-question",
                _url("messaging:unmatched"),
            )
        )
    if user.has_perm(Perm.EXPORT_MAIL_LIST):
        messaging.append(NavItem("mail", _("Direct mail"), "ti-mailbox", _url("messaging:mail")))
    if user.has_perm(Perm.MANAGE_MESSAGING_SETTINGS):
        messaging.append(
            NavItem(
                "msg_settings", _("Messaging settings"), "ti-settings", _url("messaging:settings")
            )
        )
    if messaging:
        items.append(NavItem("messaging", _("Messaging"), "ti-messages", children=messaging))
    org: list[NavItem] = []
    if user.has_perm(Perm.VIEW_NETWORK):
        org.append(NavItem("dealers", _("Dealers"), "ti-building-store", _url("core:dealer_list")))
    if user.has_perm(Perm.MANAGE_DEALERS):
        org.append(NavItem("regions", _("Regions"), "ti-map-2", _url("core:region_list")))
        org.append(NavItem("groups", _("Dealer groups"), "ti-building", _url("core:group_list")))
    if user.has_perm(Perm.MANAGE_STAFF):
        org.append(NavItem("staff", _("Staff"), "ti-id-badge-2", _url("core:staff_list")))
    if org:
        items.append(NavItem("organisation", _("Organisation"), "ti-sitemap", children=org))
    if user.has_perm(Perm.VIEW_AUDIT_LOG):
        items.append(NavItem("audit", _("Audit log"), "ti-history", _url("core:audit_log")))
    for item in items:
        item.children = [child for child in item.children if child.url]
    return [item for item in items if item.url or item.children]


def _aftersales_navigation(user) -> list[NavItem]:  # noqa: ANN001
    """After-sales (workshop, recalls, rescue) and customer care (care tasks, complaints)."""
    service: list[NavItem] = []
    if user.has_perm(Perm.WORK_SERVICE):
        service.append(
            NavItem(
                "service_calendar", _("Service calendar"), "ti-calendar", _url("service:calendar")
            )
        )
    if user.has_perm(Perm.VIEW_SERVICE):
        service.append(
            NavItem(
                "appointments",
                _("Appointments"),
                "ti-calendar-time",
                _url("service:appointment_list"),
            )
        )
        service.append(
            NavItem(
                "repair_orders", _("Repair orders"), "ti-tool", _url("service:repair_order_list")
            )
        )
    if user.has_perm(Perm.WORK_RESCUE):
        service.append(
            NavItem("rescue", _("Roadside rescue"), "ti-lifebuoy", _url("service:rescue_list"))
        )
    if user.has_perm(Perm.VIEW_RECALLS):
        service.append(
            NavItem("recalls", _("Recalls"), "ti-alert-triangle", _url("service:recall_list"))
        )
    if user.has_perm(Perm.MANAGE_SCHEDULES):
        service.append(
            NavItem(
                "schedules", _("Maintenance schedules"), "ti-list-check", _url("service:schedules")
            )
        )
    if user.has_perm(Perm.MANAGE_SERVICE):
        service.append(
            NavItem(
                "service_policy", _("Workshop settings"), "ti-adjustments", _url("service:policy")
            )
        )
    care: list[NavItem] = []
    if user.has_perm(Perm.WORK_CARE):
        care.append(
            NavItem("care_worklist", _("Care tasks"), "ti-heart-handshake", _url("care:worklist"))
        )
        care.append(
            NavItem("care_calendar", _("Care calendar"), "ti-calendar-event", _url("care:calendar"))
        )
    if user.has_perm(Perm.MANAGE_CARE):
        care.append(NavItem("care_stats", _("Care figures"), "ti-chart-bar", _url("care:stats")))
        care.append(NavItem("care_settings", _("Care rules"), "ti-settings", _url("care:settings")))
    if user.has_perm(Perm.MANAGE_CARE_CATALOGUE):
        care.append(
            NavItem(
                "seasonal_checks",
                _("Seasonal checks"),
                "ti-cloud-rain",
                _url("care:seasonal_checks"),
            )
        )
    items = []
    service = [item for item in service if item.url]
    care = [item for item in care if item.url]
    feedback = [item for item in _feedback_navigation(user) if item.url]
    if service:
        items.append(NavItem("service", _("After-sales"), "ti-tool", children=service))
    if care:
        items.append(NavItem("care", _("Customer care"), "ti-heart", children=care))
    if feedback:
        items.append(
            NavItem(
                "feedback", _("Complaints and satisfaction"), "ti-mood-smile", children=feedback
            )
        )
    data = _data_navigation(user)
    if data:
        items.append(NavItem("dataquality", _("Data"), "ti-database", children=data))
    return items


def _data_navigation(user) -> list[NavItem]:  # noqa: ANN001
    """Imports, duplicates and merges, data-quality scores, exports."""
    entries = [
        (Perm.IMPORT_DATA, "imports", _("Imports"), "ti-file-import", "dataquality:import_list"),
        (
            Perm.REVIEW_DUPLICATES,
            "duplicates",
            _("Possible duplicates"),
            "ti-users-group",
            "dataquality:duplicate_list",
        ),
        (Perm.MERGE_CUSTOMERS, "merges", _("Merges"), "ti-arrow-merge", "dataquality:merge_list"),
        (
            Perm.VIEW_DATA_QUALITY,
            "quality",
            _("Data-quality scores"),
            "ti-report-analytics",
            "dataquality:quality",
        ),
        (
            Perm.MANAGE_AUDIT,
            "audit_policy",
            _("Audit weights and rebates"),
            "ti-adjustments",
            "dataquality:audit_policy",
        ),
        (
            Perm.EXPORT_CUSTOMERS,
            "exports",
            _("My exports"),
            "ti-file-export",
            "dataquality:export_list",
        ),
    ]
    return _allowed(user, entries)


def _feedback_navigation(user) -> list[NavItem]:  # noqa: ANN001
    """Complaints (list, figures, SLA) and surveys (dashboard, invitations, questionnaires)."""
    entries = [
        (
            Perm.VIEW_COMPLAINTS,
            "complaints",
            _("Complaints"),
            "ti-message-report",
            "feedback:complaint_list",
        ),
        (
            Perm.VIEW_FEEDBACK_STATS,
            "complaint_stats",
            _("Complaint figures"),
            "ti-chart-bar",
            "feedback:complaint_stats",
        ),
        (
            Perm.MANAGE_COMPLAINTS,
            "complaint_sla",
            _("Complaint SLA"),
            "ti-clock-exclamation",
            "feedback:sla_settings",
        ),
        (
            Perm.VIEW_FEEDBACK_STATS,
            "survey_dashboard",
            _("Satisfaction"),
            "ti-mood-smile",
            "surveys:dashboard",
        ),
        (
            Perm.SEND_SURVEYS,
            "survey_invitations",
            _("Survey invitations"),
            "ti-send",
            "surveys:invitation_list",
        ),
        (
            Perm.MANAGE_SURVEYS,
            "questionnaires",
            _("Questionnaires"),
            "ti-forms",
            "surveys:questionnaire_list",
        ),
        (
            Perm.MANAGE_SURVEYS,
            "survey_settings",
            _("Survey settings"),
            "ti-settings",
            "surveys:settings",
        ),
    ]
    return _allowed(user, entries)


def _allowed(user, entries: list[tuple[str, str, str, str, str]]) -> list[NavItem]:  # noqa: ANN001
    """Menu entries (permission, key, label, icon, URL name) the user may open."""
    return [
        NavItem(key, label, icon, _url(url_name))
        for perm, key, label, icon, url_name in entries
        if user.has_perm(perm)
    ]


def _active_key(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return ""
    if match.namespace and match.namespace != "core":
        return match.namespace
    name = match.url_name or ""
    if name == "workspace":
        return "workspace"
    if name.startswith("audit"):
        return "audit"
    for key in ("region", "group", "dealer", "staff"):
        if name.startswith(key):
            return "organisation"
    return ""


# The rendered menu by (role, superuser, language, section, URLconf, script prefix): it depends
# on nothing else, and building and rendering it cost about a tenth of a page's time.
_menus: dict[tuple, str] = {}


def menu_html(request: HttpRequest) -> str:
    """The main menu of the signed-in user, for the page shell."""
    user = request.user
    active = _active_key(request)
    key = (
        user.role,
        user.is_superuser,
        get_language(),
        active,
        get_urlconf(),
        get_script_prefix(),
    )
    menu = _menus.get(key)
    if menu is None:
        menu = _menus[key] = render_to_string(
            "core/_menu.html", {"shell_nav": navigation(user), "shell_active": active}
        )
    return menu


def shell(request: HttpRequest) -> dict:
    """What the page shell (navigation, search box, language switch) needs on every page."""
    context: dict = {"shell_languages": settings.LANGUAGES}
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        # Lazy: partials (search suggestions, timeline entries) never show the menu.
        context["shell_menu"] = SimpleLazyObject(lambda: menu_html(request))
    return context
