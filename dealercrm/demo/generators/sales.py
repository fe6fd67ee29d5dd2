"""The sales pipeline of the demo: three years of leads ending today, with what came of them.

Every owner who bought a car of the brand within the window has the lead that sold it: ordered on
the purchase day, delivered on the vehicle's delivery day, with the order pointing at that
vehicle. Prospects have the leads still being worked (next actions due or overdue, test drives
booked) and the ones written off; owners also have earlier enquiries that came to nothing.
Customers "in order" have a lead at the order stage and an order on its way, some late.

What the documents say, the data shows:
- channel mix of walk-in, phone, brand website, auto show, referral, Douyin, WeChat, OEM
  dispatch and imported lists; referral leads convert at ~30%, advertising ones at ~5%
  (channels are drawn given the outcome, so the rates hold whatever the customer mix);
- a decision cycle of ~45 days (created → ordered) for the leads that buy;
- first response mostly within the 30 minutes, some late;
- test drives on the dealer's demo cars, never two at once on one car;
- quotes priced as the quote service prices them (dealercrm.sales.pricing: purchase tax 10% of
  the price before VAT, the new-energy exemption by date; the annuity for finance);
- orders with their milestones, about a third delivered late, of which about half the
  customers were told before the promised date (the documents found 47.1%);
- the OEM's dispatches (released) behind the OEM-dispatch leads.

Plain tuples, drawn from `rng` only; the organisation step (`sales_setup`) makes the few rows
that need the ORM: each dealer's sales policy and demo cars.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal

from dealercrm.bookings.models import Booking, Resource, ResourceKind
from dealercrm.demo import reference as ref
from dealercrm.sales.models import (
    Activity,
    Lead,
    LeadEvent,
    OemDispatch,
    Order,
    OrderMilestone,
    PurchaseTaxRule,
    Quote,
    QuoteLine,
    SalesPolicy,
    TestDrive,
)
from dealercrm.sales.pricing import QuoteInput, TaxRuleTerms, quote_figures, select_tax_rule
from dealercrm.worklist.models import Task

from .base import (
    Chunk,
    ChunkGenerator,
    CustomerFacts,
    DealerFacts,
    DemoContext,
    ModelFacts,
    Rows,
    int_draw,
    pick_from,
)
from .quality import DEMO_TIMELINESS_DAYS, care_rate, data_care

WINDOW_DAYS = 3 * 365
DAY = 1440  # minutes
# Opening hours 9:00–18:00 in China are 01:00–10:00 UTC.
OPEN_UTC, CLOSE_UTC = 60, 600
# The runner writes "now" as today 02:00 UTC (10:00 in China); nothing happens after it.
NOW_MINUTE = 120

CHANNELS = (
    "walk_in", "phone", "website", "auto_show", "referral", "douyin", "wechat", "oem_dispatch",
    "import",
)  # fmt: skip
# Share of all leads by channel (%).
CHANNEL_MIX = {
    "walk_in": 28, "phone": 12, "website": 13, "auto_show": 6, "referral": 8, "douyin": 10,
    "wechat": 6, "oem_dispatch": 12, "import": 5,
}  # fmt: skip
# Conversion (lead → order) of the channels the documents give a figure for, and of lists.
FIXED_RATES = {
    "referral": 0.30,
    "website": 0.05,
    "auto_show": 0.05,
    "douyin": 0.05,
    "wechat": 0.05,
    "import": 0.03,
}
# The other channels share the remaining sales by these propensities.
OTHER_PROPENSITY = {"walk_in": 1.0, "phone": 0.7, "oem_dispatch": 0.85}
CAMPAIGNS = {
    "website": "官网预约试驾",
    "auto_show": "{year}车展",
    "douyin": "抖音直播团购",
    "wechat": "微信朋友圈广告",
    "import": "{year}年潜客名单",
    "oem_dispatch": "厂家试驾招募",
}
LOSS_REASONS = ("price", "competitor", "financing", "timing", "no_response", "product", "service",
                "other")  # fmt: skip
LOSS_WEIGHTS = (24, 30, 6, 16, 14, 5, 2, 3)
LOSS_NOTES = {
    "price": "客户认为落地价偏高，竞品优惠更多。",
    "competitor": "客户已在其他品牌订车。",
    "financing": "贷款审批未通过。",
    "timing": "客户表示暂缓购车，明年再看。",
    "no_response": "多次联系未接通，微信无回复。",
    "product": "空间/续航不满足需求。",
    "service": "客户对接待体验不满意。",
    "other": "客户家庭原因放弃购车。",
}
TIMEFRAMES = ("1m", "3m", "6m", "later", "undecided")
ACCESSORIES = (("全车脚垫", 800), ("行车记录仪", 1200), ("隐形车衣", 6800), ("太阳膜", 3000),
               ("后备箱垫", 400), ("原厂充电桩", 3500))  # fmt: skip
FEEDBACK = (
    "动力响应快，底盘扎实，客户很满意。",
    "空间宽敞，家人坐着舒服，关注价格。",
    "智能座舱好用，语音识别准确。",
    "续航表现符合预期，关心充电桩安装。",
    "隔音一般，但整体驾驶感受不错。",
    "客户觉得转向偏轻，还想对比竞品。",
)
NEXT_ACTIONS = {
    "new": "首次电话联系，了解需求",
    "contacted": "邀约到店试驾",
    "test_drive": "试驾后回访，发送报价",
    "negotiation": "跟进报价，邀约签约",
}
ORDER_WAY = ("ordered", "in_production", "in_transit", "arrived", "pdi", "ready", "delivered")
# Where on the way (share of the time from order to delivery) each milestone is reached.
ORDER_WAY_SHARE = (0.0, 0.15, 0.45, 0.75, 0.85, 0.93, 1.0)
TOLD_IN_TIME_SHARE = 0.47
TOLD_LATE_SHARE = 0.33  # of the delayed: told, but after the promised date; the rest never
# Delivered sales keyed in late, (sloppiest dealer, most careful dealer) by data care
# (quality.data_care): LATE_ENTRY_DAYS or more after the handover, past the brand's limit.
LATE_ENTRY_SHARE = (0.85, 0.02)
LATE_ENTRY_DAYS = DEMO_TIMELINESS_DAYS + 1
LATE_ENTRY_SPREAD = 30
# OEM leads released in the last RECENT_RELEASE_DAYS still carry the release's three tasks
# (services.dispatch); each chunk with OEM leads has at least RECENT_OEM_LEADS of them, since a
# small demo draws only one or two on average and the worklist would often show none.
RECENT_RELEASE_DAYS = 10
RECENT_OEM_LEADS = 3


@dataclass
class DealerSales:
    """A dealer's sales facts for the generator: policy figures, demo cars, tax rules."""

    release_days: int
    first_response_minutes: int
    demo_cars: tuple[int, ...]
    tax_rules: tuple[TaxRuleTerms, ...]


def sales_setup(dealer_facts: list[DealerFacts], brand_models: list[ModelFacts]) -> None:
    """Each dealer's sales policy and four demo cars (latest model year of popular series);
    on each DealerFacts the `sales` facts the chunk generator needs."""
    rules = tuple(
        TaxRuleTerms(
            name=r.name,
            rate=r.rate,
            vat_rate=r.vat_rate,
            exemption_share=r.exemption_share,
            exemption_cap=r.exemption_cap,
            powertrains=tuple(r.powertrains or ()),
            valid_from=r.valid_from,
            valid_until=r.valid_until,
            pk=r.pk,
        )
        for r in PurchaseTaxRule.objects.order_by("valid_from", "id")
    )
    latest = max(m.model_year for m in brand_models)
    wanted_series = ("极光X5", "极光S7", "极光E3", "极光X7")
    demo_models: list[ModelFacts] = []
    for series in wanted_series:
        found = [m for m in brand_models if m.series == series and m.model_year == latest]
        if found:
            demo_models.append(found[0])
    policies = []
    cars = []
    for index, facts in enumerate(dealer_facts):
        # Most dealers keep the default three days; some take dispatched leads two days ahead.
        policies.append(
            SalesPolicy(dealer_id=facts.id, dispatch_release_days=2 if index % 4 == 3 else 3)
        )
        for number, model in enumerate(demo_models, start=1):
            cars.append(
                Resource(
                    dealer_id=facts.id,
                    kind=ResourceKind.DEMO_CAR,
                    name=f"试驾车{number} {model.series}",
                    car_model_id=model.id,
                    plate=f"{facts.plate_prefix}S{index:02d}{number}",
                )
            )
    SalesPolicy.objects.unscoped().bulk_create(policies)
    Resource.objects.unscoped().bulk_create(cars)
    by_dealer: dict[int, list[int]] = {}
    for car_id, dealer_id in (
        Resource.objects.unscoped()
        .filter(dealer_id__in=[f.id for f in dealer_facts], kind=ResourceKind.DEMO_CAR)
        .order_by("id")
        .values_list("id", "dealer_id")
    ):
        by_dealer.setdefault(dealer_id, []).append(car_id)
    release = {p.dealer_id: p.dispatch_release_days for p in policies}
    for facts in dealer_facts:
        facts.sales = DealerSales(
            release_days=release[facts.id],
            first_response_minutes=30,
            demo_cars=tuple(by_dealer.get(facts.id, ())),
            tax_rules=rules,
        )


# --- generation ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Plan:
    """One lead before its channel is drawn."""

    customer: CustomerFacts
    created: int  # minute (absolute: day ordinal × 1440 + minute of the UTC day)
    outcome: str  # "delivered", "order", "lost", "open"
    purchase: int = 0  # day ordinal of the order (delivered / order)
    vehicles: tuple = ()  # VehicleFacts delivered from this order
    channel: str = ""


def _prices(ctx: DemoContext) -> dict[int, int]:
    """List price of each brand model, as the org step priced the catalogue."""
    cached = ctx.state.get("sales_prices")
    if cached is None:
        prices = [
            price + (year - ref.BRAND_MODEL_YEARS[0]) * 2000
            for series in ref.BRAND_SERIES
            for _name, _powertrain, price in series.variants
            for year in ref.BRAND_MODEL_YEARS
        ]
        cached = ctx.state["sales_prices"] = {
            m.id: p for m, p in zip(ctx.org.brand_models, prices, strict=True)
        }
    return cached


def _channel_odds(buying: int, other: int) -> tuple[list[float], list[float]]:
    """Cumulative weights of the channels for a lead that buys and one that does not, such that
    each channel keeps its share of the leads and the fixed channels their conversion rate."""
    total = buying + other
    leads = {c: total * CHANNEL_MIX[c] / 100 for c in CHANNELS}
    sales = {c: leads[c] * FIXED_RATES[c] for c in FIXED_RATES}
    fixed = sum(sales.values())
    if fixed > buying:  # few buyers: scale the fixed channels down rather than overshoot
        sales = {c: v * buying / fixed for c, v in sales.items()}
        fixed = buying
    weight = sum(leads[c] * OTHER_PROPENSITY[c] for c in OTHER_PROPENSITY)
    for c, propensity in OTHER_PROPENSITY.items():
        sales[c] = min(leads[c], (buying - fixed) * leads[c] * propensity / weight) if weight else 0
    buy, not_buy = [], []
    cum_b = cum_n = 0.0
    for c in CHANNELS:
        cum_b += max(sales[c], 0.0)
        cum_n += max(leads[c] - sales[c], 0.0)
        buy.append(cum_b)
        not_buy.append(cum_n)
    return buy, not_buy


def _draw(cumulative: list[float], value: float) -> str:
    target = value * cumulative[-1]
    for channel, edge in zip(CHANNELS, cumulative, strict=True):
        if target < edge:
            return channel
    return CHANNELS[-1]


def generate_sales(ctx: DemoContext, chunk: Chunk, rng: random.Random) -> list[Rows]:  # noqa: C901, PLR0915
    state = ctx.state.setdefault("sales", {"slots": set(), "order_serial": 0, "oem_serial": 0})
    slots: set[tuple[int, int, int]] = state["slots"]
    today = ctx.today_ord
    now = today * DAY + NOW_MINUTE
    start = today - WINDOW_DAYS
    rand = rng.random
    randrange = int_draw(rng)
    choice = pick_from(rng)
    prices = _prices(ctx)
    models_by_year: dict[int, list[ModelFacts]] = {}
    for m in ctx.org.brand_models:
        models_by_year.setdefault(m.model_year, []).append(m)
    model_by_id = {m.id: m for m in ctx.org.brand_models}
    years = sorted(models_by_year)
    competitors = [f"{o.make} {o.series}" for o in ref.OTHER_MAKES]
    oem_admin = ctx.org.network_users.get("oem_admin")
    cares = data_care(ctx)
    late_debt: dict[int, float] = state.setdefault("late_debt", {})

    def moment(minute: int) -> str:
        return ctx.moment(minute // DAY, minute % DAY)

    def at_open(day: int) -> int:
        return day * DAY + OPEN_UTC + randrange(CLOSE_UTC - OPEN_UTC - 60)

    def after(previous: int, day: int) -> int:
        """A moment in opening hours of `day`, and after `previous`."""
        return max(previous + 20 + randrange(60), at_open(day))

    # 1. What each customer's leads are, before their channels are drawn.
    vehicles_of: dict[int, list] = {}
    for vehicle in chunk.vehicles:
        if vehicle.is_brand and vehicle.delivery is not None:
            vehicles_of.setdefault(vehicle.owner_id, []).append(vehicle)
    plans: list[_Plan] = []
    for customer in chunk.customers:
        own = vehicles_of.get(customer.id, [])
        for index, purchase in enumerate(customer.purchases):
            if purchase < start + 7:
                continue
            until = customer.purchases[index + 1] if index + 1 < len(customer.purchases) else None
            delivered = tuple(
                v for v in own if purchase <= v.delivery and (until is None or v.delivery < until)
            )
            if not delivered:
                continue  # bought second-hand from another customer: no lead of ours
            cycle = max(1, min(int(rng.gammavariate(2.2, 20.5)), 200))
            created_day = max(start, purchase - cycle)
            plans.append(_Plan(customer, at_open(created_day), "delivered", purchase, delivered))
        stage = customer.stage
        if stage == "in_order":
            created_day = max(start, customer.first_contact)
            ordered = min(today - 1, created_day + 1 + int(rng.gammavariate(2.2, 12)))
            ordered = max(ordered, created_day + 1)
            plans.append(_Plan(customer, at_open(created_day), "order", ordered))
        elif stage == "prospect":
            first = max(start, customer.first_contact)
            roll = rand()
            earlier_count = 0 if roll < 0.55 else (1 if roll < 0.88 else 2)
            for _ in range(earlier_count if first - start > 200 else 0):
                # An earlier enquiry that came to nothing.
                earlier = start + randrange(first - start - 120)
                plans.append(_Plan(customer, at_open(earlier), "lost"))
            outcome = "open" if today - first <= 60 else "lost"
            plans.append(_Plan(customer, at_open(min(first, today - 1)), outcome))
        else:
            # Owners: enquiries before or after their purchase that came to nothing.
            roll = rand()
            extra = 0 if roll < 0.3 else (1 if roll < 0.7 else 2)
            for _ in range(extra):
                day = start + randrange(WINDOW_DAYS - 30)
                plans.append(_Plan(customer, at_open(day), "lost"))
    buying = sum(1 for p in plans if p.outcome in ("delivered", "order"))
    odds_buy, odds_not = _channel_odds(buying, len(plans) - buying)
    referrers: dict[int, list[int]] = {}
    for customer in chunk.customers:
        if customer.purchases:
            referrers.setdefault(customer.dealer.id, []).append(customer.id)
    for plan in plans:
        odds = odds_buy if plan.outcome in ("delivered", "order") else odds_not
        plan.channel = _draw(odds, rand())
        if plan.channel == "referral" and not referrers.get(plan.customer.dealer.id):
            plan.channel = "walk_in"
    _recent_oem_leads_ensure(plans, now - RECENT_RELEASE_DAYS * DAY, rng)
    plans.sort(key=lambda p: p.created)

    # 2. The rows.
    leads: list[tuple] = []
    events: list[tuple] = []
    activities: list[tuple] = []
    bookings: list[tuple] = []
    drives: list[tuple] = []
    quotes: list[tuple] = []
    quote_lines: list[tuple] = []
    orders: list[tuple] = []
    milestones: list[tuple] = []
    dispatches: list[tuple] = []
    next_lead = ctx.ids.start(Lead)
    next_event = ctx.ids.start(LeadEvent)
    next_activity = ctx.ids.start(Activity)
    next_booking = ctx.ids.start(Booking)
    next_drive = ctx.ids.start(TestDrive)
    next_quote = ctx.ids.start(Quote)
    next_line = ctx.ids.start(QuoteLine)
    next_order = ctx.ids.start(Order)
    next_milestone = ctx.ids.start(OrderMilestone)
    next_dispatch = ctx.ids.start(OemDispatch)
    next_task = ctx.ids.start(Task)
    tasks: list[tuple] = []

    def event(lead_id, dealer_id, kind, at, actor, from_value="", to_value="", note=""):  # noqa: ANN001, ANN202
        nonlocal next_event
        events.append(
            (next_event, dealer_id, lead_id, kind, from_value, to_value, note, actor, moment(at))
        )
        next_event += 1

    def activity(lead_id, customer_id, dealer_id, kind, result, at, author, note="",  # noqa: ANN001, ANN202
                 next_action="", next_due=None):  # fmt: skip
        nonlocal next_activity
        activities.append(
            (
                next_activity, dealer_id, lead_id, customer_id, kind, result, note, next_action,
                ctx.day(next_due) if next_due is not None else None, moment(at), author,
            )
        )  # fmt: skip
        next_activity += 1

    def test_drive(lead_id, plan, dealer, consultant, day, status, earliest, latest):  # noqa: ANN001, ANN202, PLR0913
        """Book a free hour of a demo car on `day` (or one of the days after) between `earliest`
        and `latest`; the booking and the test drive rows; the start minute, or None."""
        nonlocal next_booking, next_drive
        cars = dealer.sales.demo_cars if dealer.sales else ()
        found = None
        for offset in range(6):
            d = day + offset
            for _ in range(6):
                car = cars[randrange(len(cars))] if cars else None
                hour = randrange(8)  # 9:00 … 16:00 local
                begins = d * DAY + OPEN_UTC + hour * 60
                if car is None or not (earliest < begins and begins + 60 <= latest):
                    continue
                if (car, d, hour) not in slots:
                    slots.add((car, d, hour))
                    found = (car, begins)
                    break
            if found:
                break
        if found is None:
            return None
        car, begins = found
        ends = begins + 60
        completed = status == "completed"
        booked_at = moment(max(earliest, begins - DAY) if completed else min(now, begins - DAY))
        bookings.append(
            (
                next_booking, dealer.id, car, moment(begins), moment(ends), "active",
                plan.customer.id, f"试驾 {plan.customer.name}", "sales.test_drive",
                str(next_drive), consultant, booked_at,
            )
        )  # fmt: skip
        drives.append(
            (
                next_drive, dealer.id, lead_id, plan.customer.id, car, next_booking,
                moment(begins), moment(ends), consultant, False, "", status,
                moment(begins - 5) if completed else None, consultant if completed else None,
                ctx.day(begins // DAY + 365 * (2 + randrange(6))) if completed else None,
                choice(FEEDBACK) if completed else "",
                (3 + randrange(3)) if completed else None,
                moment(ends) if completed else None,
                booked_at,
            )
        )  # fmt: skip
        next_booking += 1
        next_drive += 1
        return begins

    for plan in plans:
        customer = plan.customer
        dealer = customer.dealer
        consultant = customer.consultant_id or (
            choice(dealer.consultants) if dealer.consultants else None
        )
        names = dealer.messaging.staff_names if dealer.messaging is not None else {}
        manager = dealer.manager
        lead_id = next_lead
        next_lead += 1
        created = plan.created
        outcome = plan.outcome
        year = dt.date.fromordinal(created // DAY).year
        model = model_by_id.get(plan.vehicles[0].model_id) if plan.vehicles else None
        if model is None:
            fitting = [y for y in years if y <= year] or years
            model = choice(models_by_year[fitting[-1]])
        price = prices.get(model.id, 150000)
        # --- stage times
        due = created + 30
        contacted = tested = negotiated = ordered = delivered = lost = None
        loss_requested = None
        stage = "new"
        late = rand() < 0.18
        if outcome == "open" and created // DAY >= today - 1 and rand() < 0.5:
            contacted = None  # just came in, nobody has called yet
        else:
            contacted = created + (31 + randrange(330) if late else 2 + randrange(27))
            contacted = min(contacted, now)
        if outcome in ("delivered", "order"):
            ordered = after(contacted, plan.purchase)
            span = max(0, plan.purchase - contacted // DAY)
            drive_day = contacted // DAY + (randrange(span // 2 + 1) if span else 0)
            if plan.channel == "oem_dispatch":
                # On the day the prospect chose with the OEM, when that is before the order.
                drive_day = min(plan.purchase - 1, created // DAY + dealer.sales.release_days)
            if span and rand() < 0.78:
                tested = -1  # booked below, on drive_day
            negotiated_day = max(drive_day, plan.purchase - randrange(max(1, span // 3 + 1)))
            negotiated = negotiated_day
            if outcome == "delivered":
                delivered = plan.vehicles[0].delivery * DAY + OPEN_UTC + randrange(480)
                delivered = max(delivered, ordered + 60)
                stage = "delivered"
            else:
                stage = "order"
        elif outcome == "lost" or outcome == "open":
            reached = 1 if contacted is not None else 0
            if reached and rand() < 0.36:
                reached = 2
                if rand() < 0.45:
                    reached = 3
            base_day = contacted // DAY if contacted is not None else created // DAY
            drive_day = base_day + randrange(1, 8)
            negotiated_day = drive_day + randrange(0, 10)
            if reached >= 2:
                tested = -1
            if reached >= 3:
                negotiated = negotiated_day
            if outcome == "lost":
                last_day = (
                    negotiated_day if reached >= 3 else (drive_day if reached >= 2 else base_day)
                )
                lost_day = last_day + 5 + randrange(40)
                if lost_day * DAY + CLOSE_UTC >= now:
                    outcome = plan.outcome = "open"
                else:
                    lost = at_open(lost_day)
                    loss_requested = lost - (randrange(3) * DAY + 60 + randrange(300))
                    stage = "lost"
            if outcome == "open":
                stage = ("new", "contacted", "test_drive", "negotiation")[reached]
                if tested == -1 and drive_day * DAY + CLOSE_UTC >= now:
                    tested = -2  # booked for the coming days, not driven yet
                    stage = "contacted"
                    negotiated = None
                if negotiated is not None and negotiated * DAY + CLOSE_UTC >= now:
                    negotiated = None
                    stage = "test_drive" if tested == -1 else "contacted"
        # --- the test drive and its booking
        drive_at = None
        if tested == -1 and contacted is not None:
            latest = ordered if ordered is not None else now
            drive_at = test_drive(
                lead_id, plan, dealer, consultant, drive_day, "completed", contacted, latest
            )
        elif tested == -2:
            test_drive(
                lead_id, plan, dealer, consultant, max(drive_day, today + 1), "scheduled", now,
                now + 10 * DAY,
            )  # fmt: skip
        elif outcome == "open" and stage == "contacted" and contacted is not None and rand() < 0.6:
            # Contacted prospects have their test drive booked in the coming week: the
            # calendar has something to show.
            test_drive(
                lead_id, plan, dealer, consultant, today + 1 + randrange(6), "scheduled", now,
                now + 10 * DAY,
            )  # fmt: skip
        if negotiated is not None:
            floor = drive_at or contacted or created
            negotiated = after(floor, negotiated)
            if ordered is not None:
                negotiated = max(floor, min(negotiated, ordered - 1))
            if negotiated > now:
                negotiated = None
        if outcome == "open" and stage == "negotiation" and negotiated is None:
            stage = "test_drive" if drive_at else "contacted"
        if outcome == "open" and stage == "test_drive" and drive_at is None:
            stage = "contacted"
        if contacted is None:
            stage = "new"
        # Lost after the last thing that happened.
        if lost is not None:
            last = max(x for x in (created, contacted, drive_at, negotiated) if x is not None)
            if lost <= last:
                lost = last + DAY * (5 + randrange(20))
                loss_requested = lost - 60 * (1 + randrange(24))
            if lost > now:
                lost = now - 60
                loss_requested = lost - 60
        # --- next action, loss pending
        next_action, next_due = "", None
        pending = False
        if outcome == "open":
            next_action = NEXT_ACTIONS[stage]
            next_due = today + 1 + randrange(10) if rand() < 0.7 else today - 1 - randrange(14)
            next_due = max(next_due, created // DAY)
            if contacted is not None and rand() < 0.06:
                pending = True
                loss_requested = max(contacted, now - DAY * (1 + randrange(5)))
        elif outcome == "order":
            next_action, next_due = "跟进交车进度", today + 1 + randrange(7)
        loss_reason = loss_competitor = loss_note = ""
        if stage == "lost" or pending:
            loss_reason = rng.choices(LOSS_REASONS, weights=LOSS_WEIGHTS)[0]
            loss_note = LOSS_NOTES[loss_reason]
            if loss_reason == "competitor" or (loss_reason == "price" and rand() < 0.4):
                loss_competitor = choice(competitors)
        last_touch = max(
            x for x in (created, contacted, drive_at, negotiated, ordered, delivered, lost,
                        loss_requested) if x is not None
        )  # fmt: skip
        last_touch = min(last_touch, now)
        channel = plan.channel
        campaign = CAMPAIGNS.get(channel, "").format(year=year)
        referrer = None
        if channel == "referral":
            pool = referrers[dealer.id]
            referrer = choice(pool)
            if referrer == customer.id:
                referrer = next((c for c in pool if c != customer.id), None)
            if referrer is None:
                channel = "walk_in"
        tags = []
        if customer.children >= 2:
            tags.append("family_children")
        if "商务出行频繁" in customer.lifestyle:
            tags.append("business_travel")
        if "长途自驾" in customer.lifestyle or "周末郊游" in customer.lifestyle:
            tags.append("outdoor_trips")
        if "环保出行" in customer.lifestyle or model.powertrain in ("bev", "phev"):
            tags.append("new_energy")
        tags.append("replacement" if customer.has_other_car else "daily_commute")
        budget = price // 10000 * 10000
        trade_in = ""
        if customer.has_other_car:
            trade_in = choice(competitors)
        leads.append(
            (
                lead_id, dealer.id, customer.id, channel, campaign, referrer, model.id,
                str(budget - 20000), str(budget + 30000),
                TIMEFRAMES[min(4, int(rand() ** 1.5 * 5))], trade_in,
                f"{model.series}，{'家庭' if customer.children else '个人'}用车",
                "现有车辆空间/油耗不满意" if customer.has_other_car else "上下班通勤不便",
                "周末出行和接送孩子受影响" if customer.children else "通勤时间长",
                "需要省心、空间大、用车成本低的车",
                "[" + ", ".join(f'"{t}"' for t in tags) + "]",
                consultant, moment(created + 1), stage, moment(due),
                moment(contacted) if contacted is not None else None,
                moment(drive_at) if drive_at is not None else None,
                moment(negotiated) if negotiated is not None else None,
                moment(ordered) if ordered is not None else None,
                moment(delivered) if delivered is not None else None,
                moment(lost) if lost is not None else None,
                next_action, ctx.day(next_due) if next_due is not None else None,
                loss_reason, loss_competitor, loss_note,
                moment(loss_requested) if loss_requested is not None else None,
                consultant if loss_requested is not None else None,
                manager if lost is not None else None,
                consultant, moment(created), moment(last_touch),
            )
        )  # fmt: skip
        # --- events
        event(lead_id, dealer.id, "created", created, consultant, to_value=channel)
        if consultant:
            event(lead_id, dealer.id, "assigned", created + 1, None,
                  to_value=names.get(consultant, ""))  # fmt: skip
        previous = "new"
        for name, at in (("contacted", contacted), ("test_drive", drive_at),
                         ("negotiation", negotiated), ("order", ordered),
                         ("delivered", delivered)):  # fmt: skip
            if at is not None:
                event(lead_id, dealer.id, "stage", at, consultant, previous, name)
                previous = name
        if loss_requested is not None:
            event(lead_id, dealer.id, "loss_requested", loss_requested, consultant,
                  to_value=loss_reason, note=loss_note)  # fmt: skip
        if lost is not None:
            event(lead_id, dealer.id, "loss_approved", lost, manager)
            event(lead_id, dealer.id, "stage", lost, manager, previous, "lost")
        # --- follow-ups
        cid = customer.id
        if contacted is not None:
            kind = "visit" if channel == "walk_in" else "call"
            activity(lead_id, cid, dealer.id, kind, "reached", contacted, consultant,
                     "了解购车需求和预算。", "邀约到店试驾")  # fmt: skip
            if rand() < 0.3:
                activity(lead_id, cid, dealer.id, "call", "no_answer",
                         min(contacted + DAY + randrange(300), now), consultant)  # fmt: skip
        if drive_at is not None:
            activity(lead_id, cid, dealer.id, "call", "test_drive_booked", max(contacted or created, drive_at - DAY), consultant, "确认试驾时间。")  # fmt: skip
        if negotiated is not None:
            activity(lead_id, cid, dealer.id, "wechat", "quote_given", negotiated, consultant,
                     "已发送报价明细。")  # fmt: skip
        if loss_requested is not None:
            activity(lead_id, cid, dealer.id, "call", "not_interested", loss_requested, consultant, loss_note)  # fmt: skip
        if outcome == "open" and next_action:
            activity(lead_id, cid, dealer.id, "call", "thinking", last_touch, consultant,
                     "客户还在考虑。", next_action, next_due)  # fmt: skip
        # --- quotes
        accepted_quote = None
        if negotiated is not None:
            versions = 2 if rand() < 0.4 else 1
            quote_day = negotiated
            for version in range(1, versions + 1):
                qid = next_quote
                next_quote += 1
                day = quote_day // DAY
                discount = int(price * rand() * (0.04 + 0.03 * version)) // 100 * 100
                lines = [choice(ACCESSORIES) for _ in range(randrange(3))]
                financed = rand() < 0.4
                trade_credit = (
                    (20000 + randrange(40) * 1000) if customer.has_other_car and rand() < 0.5 else 0
                )
                vehicle_net = price - discount
                values = QuoteInput(
                    vehicle_price=Decimal(price),
                    discount=Decimal(discount),
                    lines=[Decimal(a) for _d, a in lines],
                    compulsory_insurance=Decimal(1100 if model.seats > 6 else 950),
                    commercial_insurance=Decimal(int(vehicle_net * 0.035)),
                    registration_fee=Decimal(500),
                    extended_warranty=Decimal(3000 if rand() < 0.3 else 0),
                    trade_in_credit=Decimal(trade_credit),
                    down_payment=Decimal(vehicle_net * 3 // 10 // 100 * 100)
                    if financed
                    else Decimal(0),
                    term_months=36 if financed else 0,
                    annual_rate=Decimal("0.0399") if financed else Decimal(0),
                )
                rule = select_tax_rule(
                    dealer.sales.tax_rules, on=dt.date.fromordinal(day), powertrain=model.powertrain
                )
                figures = quote_figures(values, rule)
                final = version == versions
                status = (
                    "superseded"
                    if not final
                    else ("accepted" if ordered is not None else "current")
                )
                quotes.append(
                    (
                        qid, dealer.id, lead_id, cid, version, status, model.id,
                        ref.COLOURS[randrange(len(ref.COLOURS))], ctx.day(day), ctx.day(day + 7),
                        str(values.vehicle_price), str(values.discount),
                        getattr(rule, "pk", None), str(figures.purchase_tax),
                        str(values.compulsory_insurance), str(values.commercial_insurance),
                        str(values.registration_fee), str(figures.accessories_total),
                        str(values.extended_warranty), str(values.trade_in_credit),
                        str(values.down_payment), values.term_months, str(values.annual_rate),
                        str(figures.loan_amount), str(figures.monthly_payment), str(figures.total),
                        f"{rng.getrandbits(192):048x}", consultant, moment(quote_day),
                    )
                )  # fmt: skip
                for description, amount in lines:
                    quote_lines.append(
                        (next_line, dealer.id, qid, "accessory", description, str(amount))
                    )
                    next_line += 1
                if final and ordered is not None:
                    accepted_quote = (qid, vehicle_net)
                quote_day = min(quote_day + DAY * (1 + randrange(5)), (ordered or now) - 60)
        # --- orders
        if ordered is not None:
            order_day = ordered // DAY
            targets = plan.vehicles or (None,)
            for vehicle in targets:
                state["order_serial"] += 1
                serial = state["order_serial"]
                oid = next_order
                next_order += 1
                net = accepted_quote[1] if accepted_quote else price
                promised = order_day + 7 + randrange(29)
                delay_detected = None
                if vehicle is not None:
                    done = expected = vehicle.delivery
                    order_stage = "delivered"
                    if done > promised:
                        delay_detected = min(
                            done - 1, max(order_day + 1, promised - 2 - randrange(12))
                        )
                else:
                    done = None
                    expected = promised
                    if rand() < 0.3:
                        expected = promised + 5 + randrange(25)
                        detected = max(order_day + 1, promised - 2 - randrange(12))
                        delay_detected = detected if detected <= today - 1 else None
                        if delay_detected is None:
                            expected = promised
                    if expected <= today:
                        # Not delivered yet, so the car is still to come: a forecast from today
                        # (a promise already broken makes a delay the dealer knows of).
                        expected = today + 1 + randrange(14)
                        if expected > promised and delay_detected is None:
                            delay_detected = max(
                                order_day + 1, min(today - 1, promised - 2 - randrange(12))
                            )
                    share = (today - order_day) / max(1, expected - order_day)
                    reached = sum(1 for s_ in ORDER_WAY_SHARE[:-1] if share >= s_) - 1
                    order_stage = ORDER_WAY[max(1, min(5, reached))]
                told, told_in_time = _told(rand, randrange, delay_detected, promised, done, today)
                deposit = (5000, 10000, 20000)[randrange(3)]
                entered = ordered
                # A sale delivered within the brand's days is in the system: it was on time.
                if (
                    done is not None
                    and done + LATE_ENTRY_DAYS <= today
                    and _late_entry(
                        late_debt,
                        dealer.id,
                        care_rate(cares[dealer.id].on(done, today), *LATE_ENTRY_SHARE),
                        rand,
                    )
                ):
                    # Keyed in after the handover (some dealers type a month's sales in at once):
                    # what the audit's timeliness finds. Not after now: it is in the system.
                    late_day = done + LATE_ENTRY_DAYS + randrange(LATE_ENTRY_SPREAD)
                    entered = min(now, late_day * DAY + OPEN_UTC + randrange(CLOSE_UTC - OPEN_UTC))
                touched = max(entered, min(now, (done or today) * DAY + 30))
                orders.append(
                    (
                        oid, dealer.id, f"SO{year}{serial:07d}", lead_id, cid,
                        accepted_quote[0] if accepted_quote else None, model.id,
                        ref.COLOURS[randrange(len(ref.COLOURS))],
                        vehicle.id if vehicle is not None else None, ctx.day(order_day),
                        str(net), str(deposit), ctx.day(order_day), ctx.day(promised),
                        ctx.day(expected), order_stage,
                        ctx.day(done) if done is not None else None,
                        moment(delay_detected * DAY + 30) if delay_detected is not None else None,
                        moment(told * DAY + OPEN_UTC + randrange(400)) if told is not None else None,
                        told_in_time, f"{rng.getrandbits(192):048x}", consultant,
                        moment(entered), moment(touched),
                    )
                )  # fmt: skip
                end = done if done is not None else expected
                reached_index = ORDER_WAY.index(order_stage)
                for index, (name, share) in enumerate(zip(ORDER_WAY, ORDER_WAY_SHARE, strict=True)):
                    on = order_day + int((end - order_day) * share)
                    if index <= reached_index:
                        on = min(on, today)
                        expected_on, reached_on = on, on
                    else:
                        expected_on, reached_on = max(on, today + 1), None
                    milestones.append(
                        (
                            next_milestone, dealer.id, oid, name, ctx.day(expected_on),
                            ctx.day(reached_on) if reached_on is not None else None,
                            moment(min(now, (reached_on or today) * DAY + 30)),
                        )
                    )  # fmt: skip
                    next_milestone += 1
        # --- the OEM's dispatch behind an OEM lead
        if channel == "oem_dispatch":
            state["oem_serial"] += 1
            release_days = dealer.sales.release_days
            chosen_day = created // DAY + release_days
            pickup = rand() < 0.25
            dispatches.append(
                (
                    next_dispatch, dealer.id, model.id, customer.name,
                    customer.phones[0] if customer.phones else "", "",
                    ctx.day(chosen_day), ("10:00", "14:00", "下午", "")[randrange(4)], pickup,
                    f"{dealer.city}{choice(dealer.districts)[0]}" if pickup else "",
                    "", campaign, ctx.day(created // DAY), moment(created), lead_id,
                    f"OEM{year}{state['oem_serial']:07d}", oem_admin,
                    moment(created - DAY * (1 + randrange(10))),
                )
            )  # fmt: skip
            next_dispatch += 1
            if outcome == "open" and created >= now - RECENT_RELEASE_DAYS * DAY:
                # Released lately: the three tasks of the release (services.dispatch).
                name = customer.name
                drive_due = chosen_day * DAY + OPEN_UTC + 60
                for suffix, kind, title, due, done in (
                    ("contact", "call", f"致电{name}确认试驾时间（厂家下发）", created, contacted),
                    ("remind", "call", f"提醒{name}明天试驾", drive_due - DAY, None),
                    ("drive", "test_drive", f"{name}试驾", drive_due, None),
                ):
                    tasks.append(
                        (
                            next_task, dealer.id, customer.id, consultant, kind, title,
                            f"试驾日期 {ctx.day(chosen_day)}。", moment(due),
                            "done" if done is not None else "open",
                            "reached" if done is not None else "", "sales.dispatch",
                            f"{next_dispatch - 1}:{suffix}", moment(created),
                            moment(done) if done is not None else None,
                            consultant if done is not None else None,
                        )
                    )  # fmt: skip
                    next_task += 1

    # The OEM's dispatches still held for their release day (no lead at the dealer yet).
    dealers = ctx.org.dealers
    for _ in range(chunk.size // 150):
        dealer = dealers[randrange(len(dealers))]
        name, _male = ctx.pools.person_names[randrange(len(ctx.pools.person_names))]
        chosen_day = today + 4 + randrange(17)
        state["oem_serial"] += 1
        model = choice(models_by_year[years[-1]])
        pickup = rand() < 0.25
        dispatches.append(
            (
                next_dispatch, dealer.id, model.id, name,
                f"+86{choice(ref.MOBILE_PREFIXES)}{randrange(10**8):08d}", "",
                ctx.day(chosen_day), ("10:00", "14:30", "上午", "")[randrange(4)], pickup,
                f"{dealer.city}{choice(dealer.districts)[0]}" if pickup else "", "",
                CAMPAIGNS["oem_dispatch"], ctx.day(chosen_day - dealer.sales.release_days),
                None, None, f"OEM{ctx.today.year}{state['oem_serial']:07d}", oem_admin,
                moment(now - DAY * (1 + randrange(10))),
            )
        )  # fmt: skip
        next_dispatch += 1

    for model_, next_id in (
        (Lead, next_lead), (LeadEvent, next_event), (Activity, next_activity),
        (Booking, next_booking), (TestDrive, next_drive), (Quote, next_quote),
        (QuoteLine, next_line), (Order, next_order), (OrderMilestone, next_milestone),
        (OemDispatch, next_dispatch), (Task, next_task),
    ):  # fmt: skip
        ctx.ids.finish(model_, next_id)
    return [
        Rows(Lead, LEAD_FIELDS, leads),
        Rows(LeadEvent, EVENT_FIELDS, events),
        Rows(Activity, ACTIVITY_FIELDS, activities),
        Rows(Booking, BOOKING_FIELDS, bookings),
        Rows(TestDrive, DRIVE_FIELDS, drives),
        Rows(Quote, QUOTE_FIELDS, quotes),
        Rows(QuoteLine, QUOTE_LINE_FIELDS, quote_lines),
        Rows(Order, ORDER_FIELDS, orders),
        Rows(OrderMilestone, MILESTONE_FIELDS, milestones),
        Rows(OemDispatch, DISPATCH_FIELDS, dispatches),
        Rows(Task, TASK_FIELDS, tasks),
    ]


def _recent_oem_leads_ensure(plans: list[_Plan], since: int, rng: random.Random) -> None:
    """Relabel open leads that came in since `since` (a minute) as OEM dispatches until there are
    RECENT_OEM_LEADS of them, when the chunk has OEM leads at all. Open leads only: the
    channels' conversion rates stay as drawn, and a handful of leads leaves the mix as it is."""
    if not any(plan.channel == "oem_dispatch" for plan in plans):
        return
    recent = [plan for plan in plans if plan.outcome == "open" and plan.created >= since]
    missing = RECENT_OEM_LEADS - sum(1 for plan in recent if plan.channel == "oem_dispatch")
    others = [plan for plan in recent if plan.channel != "oem_dispatch"]
    if missing > 0 and others:
        for plan in rng.sample(others, min(missing, len(others))):
            plan.channel = "oem_dispatch"


def _late_entry(debt: dict[int, float], dealer_id: int, rate: float, rand) -> bool:  # noqa: ANN001
    """Whether the dealer keys this delivered sale in late, at `rate`, spread evenly over its
    sales (error diffusion, not a draw per sale): a dealer sells a handful of cars a month in a
    small demo, and independent draws would swing its monthly timeliness between 0 and 100."""
    owed = debt.get(dealer_id)
    if owed is None:
        owed = rand()  # where in its rhythm each dealer starts
    owed += rate
    late = owed >= 1
    debt[dealer_id] = owed - 1 if late else owed
    return late


def _told(rand, randrange, detected, promised, done, today):  # noqa: ANN001, ANN202
    """(day the customer was told of the delay, told before the promised date?) for an order
    whose delay was detected on `detected` (None: not delayed). About half are told in time,
    a third late, the rest never; (None, None) while the promised date is still to come and
    nobody has told them yet."""
    if detected is None:
        return None, None
    last_day = min(today - 1, done if done is not None else today - 1)
    roll = rand()
    if roll < TOLD_IN_TIME_SHARE:
        latest = min(promised - 1, last_day)
        if latest >= detected:
            return detected + randrange(latest - detected + 1), True
    elif roll < TOLD_IN_TIME_SHARE + TOLD_LATE_SHARE:
        first_late = max(promised, detected)
        if first_late <= last_day:
            return first_late + randrange(min(10, last_day - first_late + 1)), False
    return None, (False if promised <= last_day else None)


LEAD_FIELDS = (
    "id", "dealer_id", "customer_id", "channel", "campaign", "referrer_id", "car_model_id",
    "budget_min", "budget_max", "purchase_timeframe", "trade_in_description", "spin_situation",
    "spin_problem", "spin_implication", "spin_need_payoff", "scenario_tags", "consultant_id",
    "assigned_at", "stage", "first_response_due_at", "first_contacted_at", "test_drive_at",
    "negotiation_at", "ordered_at", "delivered_at", "lost_at", "next_action", "next_action_due",
    "loss_reason", "loss_competitor", "loss_note", "loss_requested_at", "loss_requested_by_id",
    "loss_decided_by_id", "created_by_id", "created_at", "updated_at",
)  # fmt: skip
EVENT_FIELDS = (
    "id", "dealer_id", "lead_id", "kind", "from_value", "to_value", "note", "actor_id", "at",
)  # fmt: skip
ACTIVITY_FIELDS = (
    "id", "dealer_id", "lead_id", "customer_id", "kind", "result", "note", "next_action",
    "next_action_due", "occurred_at", "author_id",
)  # fmt: skip
BOOKING_FIELDS = (
    "id", "dealer_id", "resource_id", "starts_at", "ends_at", "status", "customer_id", "title",
    "source_kind", "source_id", "created_by_id", "created_at",
)  # fmt: skip
DRIVE_FIELDS = (
    "id", "dealer_id", "lead_id", "customer_id", "demo_car_id", "booking_id", "starts_at",
    "ends_at", "consultant_id", "pickup", "pickup_address", "status", "licence_checked_at",
    "licence_checked_by_id", "licence_valid_until", "feedback", "rating", "completed_at",
    "created_at",
)  # fmt: skip
QUOTE_FIELDS = (
    "id", "dealer_id", "lead_id", "customer_id", "version", "status", "car_model_id", "colour",
    "quote_date", "valid_until", "vehicle_price", "discount", "tax_rule_id", "purchase_tax",
    "compulsory_insurance", "commercial_insurance", "registration_fee", "accessories_total",
    "extended_warranty", "trade_in_credit", "down_payment", "term_months", "annual_rate",
    "loan_amount", "monthly_payment", "total", "share_token", "created_by_id", "created_at",
)  # fmt: skip
QUOTE_LINE_FIELDS = ("id", "dealer_id", "quote_id", "kind", "description", "amount")
ORDER_FIELDS = (
    "id", "dealer_id", "number", "lead_id", "customer_id", "quote_id", "car_model_id", "colour",
    "vehicle_id", "ordered_on", "price", "deposit", "deposit_paid_on", "promised_delivery_on",
    "expected_delivery_on", "stage", "delivered_on", "delay_detected_at", "customer_told_at",
    "told_in_time", "tracking_token", "created_by_id", "created_at", "updated_at",
)  # fmt: skip
MILESTONE_FIELDS = (
    "id",
    "dealer_id",
    "order_id",
    "stage",
    "expected_on",
    "reached_on",
    "updated_at",
)
TASK_FIELDS = (
    "id", "dealer_id", "customer_id", "assignee_id", "kind", "title", "body", "due_at", "status",
    "outcome", "source_kind", "source_id", "created_at", "completed_at", "completed_by_id",
)  # fmt: skip
DISPATCH_FIELDS = (
    "id", "dealer_id", "car_model_id", "prospect_name", "phone", "wechat_id", "test_drive_date",
    "preferred_time", "pickup_requested", "pickup_address", "note", "campaign", "release_on",
    "released_at", "lead_id", "external_ref", "created_by_id", "created_at",
)  # fmt: skip


def finish_sales(ctx: DemoContext) -> None:
    """Roll the written leads up into the funnel's cells (its dashboard reads those)."""
    from dealercrm.sales.services.funnel import funnel_refresh

    funnel_refresh(full=True)


SALES = ChunkGenerator(
    "sales",
    "sales",
    generate_sales,
    (
        Lead,
        LeadEvent,
        Activity,
        Booking,
        TestDrive,
        Quote,
        QuoteLine,
        Order,
        OrderMilestone,
        OemDispatch,
        Task,
    ),
    finish=finish_sales,
    finish_after=(),  # rolls up the loaded leads, which no other step writes
)
