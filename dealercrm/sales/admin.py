"""Django admin for the sales app: the purchase-tax rules (network-wide configuration).

Quotes keep the rule they used and its name, so editing a rule changes new quotes only.
"""

from django.contrib import admin

from .models import PurchaseTaxRule


@admin.register(PurchaseTaxRule)
class PurchaseTaxRuleAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "valid_from",
        "valid_until",
        "rate",
        "exemption_share",
        "exemption_cap",
        "powertrains",
    )
    ordering = ("valid_from",)
