"""Care pages: the dealer's rule settings (the catalogue, each rule's switch and settings) and
the OEM's seasonal checks per region."""

from __future__ import annotations

import copy
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _

from dealercrm.core.access import staff_view
from dealercrm.core.forms import apply_service_errors
from dealercrm.core.models import User
from dealercrm.core.permissions import Perm, Role
from dealercrm.core.scoping import acting_dealer

from ..forms import RuleSettingForm, SeasonalCheckForm
from ..models import CareRuleCode, CareRuleSetting, SeasonalCheck
from ..services.settings import (
    care_rule_setting_update,
    catalogue,
    rule_defaults,
    rule_fields,
    seasonal_check_save,
)


def _rule_or_404(rule: str) -> str:
    if rule not in CareRuleCode.values:
        raise Http404
    return rule


def _rows(dealer_id: int) -> list[dict[str, Any]]:
    """Every rule of the catalogue with the dealer's switch (one query)."""
    stored = {s.rule: s for s in CareRuleSetting.objects.filter(dealer_id=dealer_id)}
    found = catalogue()
    rows = []
    for code, label in CareRuleCode.choices:
        rule = found.get(code)
        setting = stored.get(code)
        default_on = bool((getattr(rule, "defaults", {}) or {}).get("enabled", True))
        rows.append(
            {
                "code": code,
                "label": getattr(rule, "label", None) or label,
                "description": getattr(rule, "description", ""),
                "enabled": setting.enabled if setting else default_on,
                "changed": sorted((setting.config or {}).keys()) if setting else [],
                "updated_at": setting.updated_at if setting else None,
            }
        )
    return rows


@staff_view(Perm.MANAGE_CARE)
def settings_list(request: HttpRequest) -> HttpResponse:
    dealer = acting_dealer(request)
    return render(
        request,
        "care/settings.html",
        {"dealer": dealer, "rows": _rows(dealer.pk) if dealer else []},
    )


@staff_view(Perm.MANAGE_CARE)
def setting_edit(request: HttpRequest, rule: str) -> HttpResponse:
    """GET: the rule's settings form. POST: save it (or, with `toggle`, only switch it)."""
    rule = _rule_or_404(rule)
    dealer = acting_dealer(request)
    if dealer is None:
        raise Http404
    setting = CareRuleSetting.objects.filter(dealer_id=dealer.pk, rule=rule).first()
    defaults = rule_defaults(rule)
    config = {**defaults, **(setting.config if setting else {})}
    enabled = setting.enabled if setting else bool(defaults.get("enabled", True))
    fields = [spec for spec in rule_fields(rule) if spec.name != "enabled"]
    if request.method == "POST" and request.POST.get("toggle"):
        try:
            care_rule_setting_update(
                actor=request.user,
                dealer_id=dealer.pk,
                rule=rule,
                enabled=request.POST.get("enabled") == "on",
                config=dict(setting.config) if setting else {},
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        if request.htmx:
            row = next(r for r in _rows(dealer.pk) if r["code"] == rule)
            return render(request, "care/settings.html#rule_row", {"row": row, "dealer": dealer})
        return redirect("care:settings")
    form = RuleSettingForm(
        request.POST if request.method == "POST" else None,
        fields=fields,
        config=config,
        initial={"enabled": enabled},
    )
    if request.method == "POST" and form.is_valid():
        try:
            care_rule_setting_update(
                actor=request.user,
                dealer_id=dealer.pk,
                rule=rule,
                enabled=form.cleaned_data["enabled"],
                config=form.config(),
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Saved: %(rule)s") % {"rule": CareRuleCode(rule).label})
            return redirect("care:settings")
    found = catalogue().get(rule)
    return render(
        request,
        "care/setting_edit.html",
        {
            "dealer": dealer,
            "rule": rule,
            "label": getattr(found, "label", None) or CareRuleCode(rule).label,
            "description": getattr(found, "description", ""),
            "form": form,
        },
        status=400 if request.method == "POST" else 200,
    )


# --- seasonal checks (OEM) ----------------------------------------------------------------------


def _checks_for(user: User):  # noqa: ANN202
    qs = SeasonalCheck.objects.select_related("region", "brand")
    if user.role == Role.SYSTEM_ADMIN and not user.brand_id:
        return qs
    return qs.filter(brand_id=user.brand_id) if user.brand_id else qs.none()


def _brand_id(request: HttpRequest) -> int | None:
    user = request.user
    if user.brand_id:
        return user.brand_id
    dealer = acting_dealer(request)
    return dealer.brand_id if dealer else None


@staff_view(Perm.MANAGE_CARE_CATALOGUE)
def seasonal_checks(request: HttpRequest) -> HttpResponse:
    checks = list(_checks_for(request.user).order_by("code", "region__name", "id"))
    return render(request, "care/seasonal_checks.html", {"checks": checks})


def _seasonal_form(request: HttpRequest, check: SeasonalCheck | None) -> HttpResponse:
    brand_id = check.brand_id if check else _brand_id(request)
    if brand_id is None:
        raise Http404
    form = SeasonalCheckForm(
        request.POST if request.method == "POST" else None,
        # A copy: the model form writes its input onto its instance, the service compares.
        instance=copy.copy(check) if check else None,
        brand_id=brand_id,
    )
    if request.method == "POST":
        # The model form reads the input; the service decides (and validates month and day).
        form.is_valid()
        data = form.cleaned_data
        if not form.errors or set(form.errors) <= {"season_starts_day", "season_starts_month"}:
            try:
                seasonal_check_save(
                    actor=request.user,
                    brand_id=brand_id,
                    check=check,
                    region=data.get("region"),
                    code=data.get("code") or "",
                    title=data.get("title") or "",
                    season_starts_month=data.get("season_starts_month"),
                    season_starts_day=data.get("season_starts_day"),
                    remind_days_before=data.get("remind_days_before")
                    if data.get("remind_days_before") is not None
                    else 14,
                    is_active=bool(data.get("is_active")),
                )
            except ValidationError as exc:
                form.errors.clear()
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("Seasonal check saved."))
                return redirect("care:seasonal_checks")
    return render(
        request,
        "care/seasonal_check_form.html",
        {"form": form, "check": check},
        status=400 if request.method == "POST" else 200,
    )


@staff_view(Perm.MANAGE_CARE_CATALOGUE)
def seasonal_check_create(request: HttpRequest) -> HttpResponse:
    return _seasonal_form(request, None)


@staff_view(Perm.MANAGE_CARE_CATALOGUE)
def seasonal_check_edit(request: HttpRequest, seasonal_check_id: int) -> HttpResponse:
    try:
        check = _checks_for(request.user).get(pk=seasonal_check_id)
    except SeasonalCheck.DoesNotExist as exc:
        raise Http404 from exc
    return _seasonal_form(request, check)


urlpatterns = [
    path("settings/", settings_list, name="settings"),
    path("settings/<str:rule>/", setting_edit, name="setting_edit"),
    path("seasonal-checks/", seasonal_checks, name="seasonal_checks"),
    path("seasonal-checks/new/", seasonal_check_create, name="seasonal_check_create"),
    path(
        "seasonal-checks/<int:seasonal_check_id>/", seasonal_check_edit, name="seasonal_check_edit"
    ),
]
