"""Leads: intake (with the duplicate check), edits, and the moves through the stages.

CONTRACT (other topics call these; keep the signatures):

- `lead_matches(*, dealer_id, name, phone="", wechat_id="") -> LeadMatches`
  existing customers and open leads of the dealer that look like the same person: same phone;
  or the same name with a similar phone (same last 8 digits / one digit off) or the same WeChat id.
- `lead_create(*, actor, dealer_id, channel, customer=None, name="", phone="", wechat_id="",
   gender="", consultant_id=None, assign=True, referrer_id=None, campaign="",
   idempotency_key="", created_at=None, **interest) -> Lead`
  `customer` attaches the lead to that existing customer; otherwise a prospect customer is made
  from name/phone/wechat_id (customers.services.customer_create). `consultant_id` assigns
  manually; None with assign=True applies the dealer's assignment rule
  (services.assignment.lead_assign_auto). Sets first_response_due_at from the policy. Same
  non-empty idempotency_key at the dealer → the existing lead, nothing new.
  `**interest`: car_model_id, other_model_ids, budget_min, budget_max, purchase_timeframe,
  trade_in_description, trade_in_year, trade_in_mileage_km, spin_situation, spin_problem,
  spin_implication, spin_need_payoff, scenario_tags, notes.
- `lead_update(*, actor, lead, **fields) -> Lead`   (interest, SPIN, tags, notes, campaign)
- `lead_stage_advance(*, actor, lead, stage, at=None) -> Lead`
  moves forward only (a later call with an earlier stage does nothing), stamps every stage
  reached on the way (contacted → first_contacted_at too), writes a LeadEvent; refuses a closed
  lead. Other topics call it: test drive done → "test_drive"; quote → "negotiation";
  order → "order"; delivery → "delivered".
"""

from __future__ import annotations
