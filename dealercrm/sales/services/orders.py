"""Orders and delivery. CONTRACT:
- `order_create(*, actor, lead, car_model, price, promised_delivery_on, deposit=0, quote=None,
   vehicle=None, colour="", ordered_on=None) -> Order`  refuses a vehicle already sold or on a
  live order; advances the lead to "order"; customer lifecycle → in order.
- `order_milestone_set(*, actor, order, stage, expected_on=None, reached_on=None) -> Order`
- `order_delays_detect(*, today=None) -> int`  (also run on every milestone change)
- `order_customer_told(*, actor, order, at=None) -> Order`
- `order_deliver(*, actor, order, vin, plate="", delivered_on=None) -> Order`  the customer
  becomes an owner, the vehicle is registered to them, a follow-up call is due within 3 days.
- `register_task_hooks()`  called from hooks.register().
"""

from __future__ import annotations


def register_task_hooks() -> None:
    """Registers this topic's worklist completion hooks (none yet)."""
