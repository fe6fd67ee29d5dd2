"""The sales pipeline's models, one module per topic.

A `Lead` is the whole sales opportunity, from the first contact to delivery or loss: Chinese
dealers speak of 线索 becoming 意向客户, but it is one record moving through stages, so it is one
row here (with each stage's timestamp, which the funnel counts), not a lead copied into an
opportunity.
"""

from .activities import Activity, ActivityKind, ActivityResult
from .dispatch import OemDispatch
from .funnel import FunnelCell, FunnelLossCell, FunnelRefresh
from .leads import (
    Lead,
    LeadChannel,
    LeadEvent,
    LeadStage,
    LossReason,
    PurchaseTimeframe,
    ScenarioTag,
)
from .orders import Order, OrderMilestone, OrderStage
from .policy import AssignmentMode, SalesPolicy
from .quotes import PurchaseTaxRule, Quote, QuoteLine
from .test_drives import TestDrive, TestDriveStatus

__all__ = [
    "Activity",
    "ActivityKind",
    "ActivityResult",
    "AssignmentMode",
    "FunnelCell",
    "FunnelLossCell",
    "FunnelRefresh",
    "Lead",
    "LeadChannel",
    "LeadEvent",
    "LeadStage",
    "LossReason",
    "OemDispatch",
    "Order",
    "OrderMilestone",
    "OrderStage",
    "PurchaseTaxRule",
    "PurchaseTimeframe",
    "Quote",
    "QuoteLine",
    "SalesPolicy",
    "ScenarioTag",
    "TestDrive",
    "TestDriveStatus",
]
