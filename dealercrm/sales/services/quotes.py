"""Quotes. CONTRACT:
- `quote_create(*, actor, lead, car_model, vehicle_price, quote_date=None, discount=0, ...,
   lines=(), term_months=0, annual_rate=0, down_payment=0) -> Quote`  a new version; the
  previous current one is superseded; advances the lead to "negotiation".
The arithmetic (tax by the rules in force, annuity) is in ../pricing.py.
"""

from __future__ import annotations
