"""Organisation pages: regions, dealer groups and dealers (OEM and system admins), staff (dealer
admins for their dealer, OEM admins for the brand). The services enforce who may do what; the
views only look rows up (404 for what the user may not see) and show the forms."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from .access import staff_view
from .forms import (
    DealerForm,
    DealerGroupForm,
    PasswordResetForm,
    RegionForm,
    StaffCreateForm,
    StaffUpdateForm,
    apply_service_errors,
)
from .models import User
from .permissions import Perm, Role
from .scoping import get_dealer_for_user, visible_dealers
from .selectors import (
    dealer_groups_with_counts,
    dealers_with_staff_counts,
    departments_for_dealers,
    get_dealer_group_for_user,
    get_region_for_user,
    get_staff_for_user,
    regions_with_counts,
    staff_search,
    visible_dealer_groups,
    visible_regions,
)
from .services import (
    dealer_create,
    dealer_deactivate,
    dealer_group_create,
    dealer_group_set_active,
    dealer_group_update,
    dealer_reactivate,
    dealer_update,
    region_create,
    region_set_active,
    region_update,
    staff_create,
    staff_deactivate,
    staff_may_manage_dealer,
    staff_reactivate,
    staff_reset_password,
    staff_update,
)
from .workspaces import dealer_overview

PAGE_SIZE = 50


def _brand_from(form, user: User):  # noqa: ANN001, ANN202
    return form.cleaned_data.get("brand") or user.brand


# --- regions ------------------------------------------------------------------------------------


@staff_view(Perm.MANAGE_DEALERS)
def region_list(request: HttpRequest) -> HttpResponse:
    return render(
        request, "core/org/region_list.html", {"regions": list(regions_with_counts(request.user))}
    )


@staff_view(Perm.MANAGE_DEALERS)
def region_create_view(request: HttpRequest) -> HttpResponse:
    form = RegionForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        brand = _brand_from(form, request.user)
        try:
            if brand is None:
                raise ValidationError({"brand": _("Choose a brand.")})
            region = region_create(
                actor=request.user,
                brand=brand,
                code=form.cleaned_data["code"],
                name=form.cleaned_data["name"],
                request=request,
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Region “%(name)s” created.") % {"name": region.name})
            return redirect("core:region_list")
    return render(
        request,
        "core/org/simple_form.html",
        {"form": form, "title": _("New region"), "back": "core:region_list"},
    )


@staff_view(Perm.MANAGE_DEALERS)
def region_edit(request: HttpRequest, region_id: int) -> HttpResponse:
    region = get_region_for_user(request.user, region_id)
    initial = {"code": region.code, "name": region.name, "brand": region.brand_id}
    form = RegionForm(request.POST or None, user=request.user, initial=initial)
    form.fields.pop("brand", None)
    if request.method == "POST" and form.is_valid():
        try:
            region_update(
                actor=request.user,
                region=region,
                code=form.cleaned_data["code"],
                name=form.cleaned_data["name"],
                request=request,
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Region “%(name)s” saved.") % {"name": region.name})
            return redirect("core:region_list")
    return render(
        request,
        "core/org/simple_form.html",
        {
            "form": form,
            "title": _("Edit region %(name)s") % {"name": region.name},
            "back": "core:region_list",
        },
    )


@staff_view(Perm.MANAGE_DEALERS)
@require_POST
def region_toggle(request: HttpRequest, region_id: int) -> HttpResponse:
    region = get_region_for_user(request.user, region_id)
    region_set_active(
        actor=request.user, region=region, active=not region.is_active, request=request
    )
    return redirect("core:region_list")


# --- dealer groups ------------------------------------------------------------------------------


@staff_view(Perm.MANAGE_DEALERS)
def group_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "core/org/group_list.html",
        {"groups": list(dealer_groups_with_counts(request.user))},
    )


@staff_view(Perm.MANAGE_DEALERS)
def group_create_view(request: HttpRequest) -> HttpResponse:
    form = DealerGroupForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        brand = _brand_from(form, request.user)
        try:
            if brand is None:
                raise ValidationError({"brand": _("Choose a brand.")})
            group = dealer_group_create(
                actor=request.user, brand=brand, name=form.cleaned_data["name"], request=request
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Dealer group “%(name)s” created.") % {"name": group.name})
            return redirect("core:group_list")
    return render(
        request,
        "core/org/simple_form.html",
        {"form": form, "title": _("New dealer group"), "back": "core:group_list"},
    )


@staff_view(Perm.MANAGE_DEALERS)
def group_edit(request: HttpRequest, group_id: int) -> HttpResponse:
    group = get_dealer_group_for_user(request.user, group_id)
    form = DealerGroupForm(request.POST or None, user=request.user, initial={"name": group.name})
    form.fields.pop("brand", None)
    if request.method == "POST" and form.is_valid():
        try:
            dealer_group_update(
                actor=request.user, group=group, name=form.cleaned_data["name"], request=request
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Dealer group “%(name)s” saved.") % {"name": group.name})
            return redirect("core:group_list")
    return render(
        request,
        "core/org/simple_form.html",
        {
            "form": form,
            "title": _("Edit dealer group %(name)s") % {"name": group.name},
            "back": "core:group_list",
        },
    )


@staff_view(Perm.MANAGE_DEALERS)
@require_POST
def group_toggle(request: HttpRequest, group_id: int) -> HttpResponse:
    group = get_dealer_group_for_user(request.user, group_id)
    dealer_group_set_active(
        actor=request.user, group=group, active=not group.is_active, request=request
    )
    return redirect("core:group_list")


# --- dealers ------------------------------------------------------------------------------------


@staff_view(Perm.VIEW_NETWORK)
def dealer_list(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()
    page = Paginator(dealers_with_staff_counts(request.user, search=search), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    template = "core/org/dealer_list.html"
    if request.htmx:
        template += "#dealer-table"
    query = urlencode({"q": search}) if search else ""
    return render(request, template, {"page": page, "q": search, "query": query})


@staff_view(Perm.VIEW_NETWORK)
def dealer_detail(request: HttpRequest, dealer_id: int) -> HttpResponse:
    dealer = get_dealer_for_user(request.user, dealer_id)
    staff = list(
        User.objects.filter(dealer=dealer)
        .select_related("department")
        .order_by("-is_active", "role", "username")
    )
    departments = list(departments_for_dealers([dealer.pk]))
    return render(
        request,
        "core/org/dealer_detail.html",
        {
            "dealer": dealer,
            "staff": staff,
            "departments": departments,
            "may_manage_staff": staff_may_manage_dealer(request.user, dealer),
            **dealer_overview(dealer.pk, today=timezone.localdate()),
        },
    )


def _dealer_form(request: HttpRequest, **kwargs) -> DealerForm:
    return DealerForm(
        request.POST or None,
        regions=visible_regions(request.user).filter(is_active=True),
        groups=visible_dealer_groups(request.user).filter(is_active=True),
        **kwargs,
    )


@staff_view(Perm.MANAGE_DEALERS)
def dealer_create_view(request: HttpRequest) -> HttpResponse:
    form = _dealer_form(request)
    if request.method == "POST" and form.is_valid():
        try:
            dealer = dealer_create(actor=request.user, request=request, **form.cleaned_data)
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(
                request,
                _("Dealer “%(name)s” created with its sales, service and care departments.")
                % {"name": dealer.name},
            )
            return redirect("core:dealer_detail", dealer_id=dealer.pk)
    return render(
        request,
        "core/org/simple_form.html",
        {"form": form, "title": _("New dealer"), "back": "core:dealer_list"},
    )


@staff_view(Perm.MANAGE_DEALERS)
def dealer_edit(request: HttpRequest, dealer_id: int) -> HttpResponse:
    dealer = get_dealer_for_user(request.user, dealer_id)
    initial = {
        name: getattr(dealer, name)
        for name in ("code", "name", "province", "city", "address", "phone", "plate_prefix")
    }
    initial.update(region=dealer.region_id, group=dealer.group_id)
    form = _dealer_form(request, initial=initial)
    # The dealer's current region and group stay choosable even when deactivated since.
    form.fields["region"].queryset = visible_regions(request.user).filter(
        is_active=True
    ) | visible_regions(request.user).filter(pk=dealer.region_id)
    if request.method == "POST" and form.is_valid():
        try:
            dealer_update(actor=request.user, dealer=dealer, request=request, **form.cleaned_data)
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Dealer “%(name)s” saved.") % {"name": dealer.name})
            return redirect("core:dealer_detail", dealer_id=dealer.pk)
    return render(
        request,
        "core/org/simple_form.html",
        {
            "form": form,
            "title": _("Edit dealer %(name)s") % {"name": dealer.name},
            "back": "core:dealer_list",
        },
    )


@staff_view(Perm.MANAGE_DEALERS)
@require_POST
def dealer_toggle(request: HttpRequest, dealer_id: int) -> HttpResponse:
    dealer = get_dealer_for_user(request.user, dealer_id)
    if dealer.is_active:
        dealer_deactivate(actor=request.user, dealer=dealer, request=request)
        messages.success(request, _("Dealer “%(name)s” deactivated.") % {"name": dealer.name})
    else:
        dealer_reactivate(actor=request.user, dealer=dealer, request=request)
        messages.success(request, _("Dealer “%(name)s” reactivated.") % {"name": dealer.name})
    return redirect("core:dealer_detail", dealer_id=dealer.pk)


# --- staff --------------------------------------------------------------------------------------


def _manageable_dealers(user: User):  # noqa: ANN202
    qs = visible_dealers(user).filter(is_active=True)
    if user.is_network_user:
        return qs
    return qs.filter(pk=user.dealer_id)


def _dealer_filter(request: HttpRequest) -> int | None:
    raw = request.GET.get("dealer", "")
    return int(raw) if raw.isdigit() else None


@staff_view(Perm.MANAGE_STAFF)
def staff_list(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()
    role = request.GET.get("role", "")
    dealer_id = _dealer_filter(request)
    qs = staff_search(request.user, search=search, dealer_id=dealer_id, role=role)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "query": query.urlencode(),
        "q": search,
        "role": role,
        "dealer_id": dealer_id,
        "roles": Role.choices,
        "dealers": list(_manageable_dealers(request.user)) if request.user.is_network_user else [],
    }
    template = "core/org/staff_list.html"
    if request.htmx:
        template += "#staff-table"
    return render(request, template, context)


@staff_view(Perm.MANAGE_STAFF)
def staff_create_view(request: HttpRequest) -> HttpResponse:
    dealers = _manageable_dealers(request.user)
    dealer_ids = None if request.user.role == Role.SYSTEM_ADMIN else [d.pk for d in dealers]
    initial = {}
    if request.GET.get("dealer", "").isdigit():
        initial["dealer"] = int(request.GET["dealer"])
    form = StaffCreateForm(
        request.POST or None,
        actor=request.user,
        dealers=dealers,
        departments=departments_for_dealers(dealer_ids),
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        dealer = data.get("dealer")
        if "dealer" not in form.fields:
            dealer = request.user.dealer
        try:
            member = staff_create(
                actor=request.user,
                username=data["username"],
                role=data["role"],
                password=data["password"],
                dealer=dealer,
                department=data["department"],
                display_name=data["display_name"],
                email=data["email"],
                phone=data["phone"],
                language=data["language"],
                request=request,
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Staff member “%(name)s” created.") % {"name": member})
            return redirect("core:staff_list")
    return render(request, "core/org/staff_form.html", {"form": form, "member": None})


@staff_view(Perm.MANAGE_STAFF)
def staff_edit(request: HttpRequest, user_id: int) -> HttpResponse:
    member = get_staff_for_user(request.user, user_id)
    departments = departments_for_dealers([member.dealer_id] if member.dealer_id else [])
    initial = {
        "display_name": member.display_name,
        "role": member.role,
        "department": member.department_id,
        "email": member.email,
        "phone": member.phone,
        "language": member.language,
        "on_duty": member.on_duty,
    }
    form = StaffUpdateForm(
        request.POST or None,
        actor=request.user,
        member=member,
        departments=departments,
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        try:
            staff_update(actor=request.user, member=member, request=request, **form.cleaned_data)
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Staff member “%(name)s” saved.") % {"name": member})
            return redirect("core:staff_list")
    return render(request, "core/org/staff_form.html", {"form": form, "member": member})


@staff_view(Perm.MANAGE_STAFF)
@require_POST
def staff_toggle(request: HttpRequest, user_id: int) -> HttpResponse:
    member = get_staff_for_user(request.user, user_id)
    try:
        if member.is_active:
            staff_deactivate(actor=request.user, member=member, request=request)
            messages.success(request, _("“%(name)s” can no longer log in.") % {"name": member})
        else:
            staff_reactivate(actor=request.user, member=member, request=request)
            messages.success(request, _("“%(name)s” can log in again.") % {"name": member})
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("core:staff_edit", user_id=member.pk)


@staff_view(Perm.MANAGE_STAFF)
def staff_password(request: HttpRequest, user_id: int) -> HttpResponse:
    member = get_staff_for_user(request.user, user_id)
    form = PasswordResetForm(request.POST or None)
    new_password = None
    if request.method == "POST" and form.is_valid():
        try:
            new_password = staff_reset_password(
                actor=request.user,
                member=member,
                password=form.cleaned_data["password"] or None,
                request=request,
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
    response = render(
        request,
        "core/org/staff_password.html",
        {"form": form, "member": member, "new_password": new_password},
    )
    response["Cache-Control"] = "no-store"
    return response
