"""Care API: one rule's switch and settings for the dealer (managers)."""

from __future__ import annotations

import datetime
from typing import Any

from django.http import Http404, HttpRequest
from ninja import Router, Schema

from dealercrm.core.access import api_permission
from dealercrm.core.permissions import Perm
from dealercrm.core.scoping import acting_dealer

from ..models import CareRuleCode, CareRuleSetting
from ..services.settings import care_rule_setting_update, catalogue, rule_defaults, rule_fields

router = Router(tags=["care"])


class ConfigFieldOut(Schema):
    name: str
    type: str
    label: str
    help: str
    choices: list[str]
    min_value: int | None
    max_value: int | None


class RuleOut(Schema):
    rule: str
    label: str
    description: str
    dealer_id: int
    enabled: bool
    config: dict[str, Any]
    changed: dict[str, Any]
    fields: list[ConfigFieldOut]
    updated_at: datetime.datetime | None


class RuleIn(Schema):
    enabled: bool
    config: dict[str, Any] = {}


def _answer(dealer_id: int, rule: str) -> dict[str, Any]:
    setting = CareRuleSetting.objects.filter(dealer_id=dealer_id, rule=rule).first()
    defaults = rule_defaults(rule)
    found = catalogue().get(rule)
    changed = dict(setting.config or {}) if setting else {}
    return {
        "rule": rule,
        "label": str(getattr(found, "label", None) or CareRuleCode(rule).label),
        "description": str(getattr(found, "description", "") or ""),
        "dealer_id": dealer_id,
        "enabled": setting.enabled if setting else bool(defaults.get("enabled", True)),
        "config": {k: v for k, v in {**defaults, **changed}.items() if k != "enabled"},
        "changed": changed,
        "fields": [
            {
                "name": spec.name,
                "type": spec.type,
                "label": str(spec.label),
                "help": str(spec.help),
                "choices": [str(code) for code, _label in spec.choices],
                "min_value": spec.min_value,
                "max_value": spec.max_value,
            }
            for spec in rule_fields(rule)
        ],
        "updated_at": setting.updated_at if setting else None,
    }


def _dealer_id(request: HttpRequest, rule: str) -> int:
    if rule not in CareRuleCode.values:
        raise Http404
    dealer = acting_dealer(request)
    if dealer is None:
        raise Http404
    return dealer.pk


@router.get("/rules/{rule}", response=RuleOut)
@api_permission(Perm.MANAGE_CARE)
def care_rule_get(request: HttpRequest, rule: str):  # noqa: ANN201
    return _answer(_dealer_id(request, rule), rule)


@router.put("/rules/{rule}", response=RuleOut)
@api_permission(Perm.MANAGE_CARE)
def care_rule_put(request: HttpRequest, rule: str, payload: RuleIn):  # noqa: ANN201
    dealer_id = _dealer_id(request, rule)
    care_rule_setting_update(
        actor=request.user,
        dealer_id=dealer_id,
        rule=rule,
        enabled=payload.enabled,
        config=payload.config,
    )
    return _answer(dealer_id, rule)
