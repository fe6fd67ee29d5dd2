"""Customers with their phones, consents and tags; and their interactions (the history stage).

Each customer also gets a plan the vehicle generator follows: when they first came, which days
they bought a car of the brand, and when the dealer last heard from them.
"""

from __future__ import annotations

import datetime as dt
import random
from bisect import bisect

from lunar_python import LunarYear

from dealercrm.customers.id_numbers import protect_id_number
from dealercrm.customers.models import (
    Consent,
    Customer,
    CustomerPhone,
    CustomerTag,
    Interaction,
)
from dealercrm.customers.validators import id_number_check_character
from dealercrm.demo import reference as ref

from .base import Chunk, ChunkGenerator, CustomerFacts, DemoContext, Rows, int_draw, pick_from
from .quality import care_rate, data_care

# Lifecycle stages and their share of the customers.
STAGES = ("prospect", "in_order", "owner", "loyal", "at_risk", "lost")
STAGE_WEIGHTS = (30, 4, 38, 14, 9, 5)
SOURCES = (
    "walk_in", "phone", "website", "auto_show", "referral", "social_media", "oem_dispatch",
    "import", "other",
)  # fmt: skip
SOURCE_WEIGHTS = (24, 8, 15, 8, 16, 13, 10, 4, 2)
INCOME_BANDS = ("lt100k", "100k_300k", "300k_600k", "600k_1m", "gt1m")
INCOME_WEIGHTS = (18, 45, 24, 9, 4)
EDUCATION = ("secondary", "college", "bachelor", "postgraduate")
EDUCATION_WEIGHTS = (22, 30, 38, 10)
CONSENT_CHANNELS = ("sms", "phone", "email", "wechat", "mail")
CONSENT_RATES = {"sms": 0.72, "phone": 0.8, "email": 0.5, "wechat": 0.78, "mail": 0.3}
COMPANY_SHARE = 0.05
LUNAR_SHARE = 0.12
# (sloppiest dealer, most careful dealer): what a dealer's staff collect and type in, by its data
# care (quality.data_care); the brand's audit requires these fields, so the dealers' scores differ.
ID_NUMBER_SHARE = (0.08, 0.85)  # of persons
EMAIL_SHARE = (0.05, 0.6)  # of persons
COMPANY_EMAIL_SHARE = (0.15, 0.85)
# Of persons without an ID number (with one, its birthday and gender are known): left blank.
NO_GENDER_SHARE = (0.85, 0.0)
NO_BIRTHDAY_SHARE = (0.95, 0.0)

CUSTOMER_FIELDS = (
    "id", "dealer_id", "kind", "name", "latin_name", "contact_person", "gender", "birthday",
    "lunar_birthday_month", "lunar_birthday_day", "lunar_birthday_leap", "id_number_encrypted",
    "id_number_hash", "id_number_masked", "email", "wechat_id", "province", "city", "district",
    "street", "occupation", "education", "income_band", "marital_status", "children_birth_years",
    "interests", "lifestyle", "source_channel", "assigned_consultant_id", "lifecycle_stage",
    "is_deleted", "version", "created_at", "updated_at", "created_by_id",
)  # fmt: skip
PHONE_FIELDS = ("id", "dealer_id", "customer_id", "number", "label", "is_primary")
CONSENT_FIELDS = ("id", "dealer_id", "customer_id", "channel", "granted", "changed_at", "source")
TAG_FIELDS = ("id", "dealer_id", "customer_id", "tag_id")
INTERACTION_FIELDS = (
    "id", "dealer_id", "customer_id", "kind", "direction", "occurred_at", "author_id", "subject",
    "body", "outcome", "duration_seconds",
)  # fmt: skip

_lunar_months: dict[int, list[tuple[int, int, int]]] = {}


def _months_of_lunar_year(year: int) -> list[tuple[int, int, int]]:
    """(first day ordinal, month (negative when leap), days) of each month of a lunar year.

    lunar_python computes a whole year at once (tens of ms), and a lookup by solar date would
    recompute it for almost every birthday; so each year is computed once and searched here.
    """
    months = _lunar_months.get(year)
    if months is None:
        months = _lunar_months[year] = [
            (int(m.getFirstJulianDay() - 1721424.5), m.getMonth(), m.getDayCount())
            for m in LunarYear.fromYear(year).getMonths()
            if m.getYear() == year
        ]
    return months


def _lunar_of(ordinal: int) -> tuple[int, int, bool]:
    """The lunar (month, day, leap) of a solar day ordinal."""
    year = dt.date.fromordinal(ordinal).year
    for lunar_year in (year, year - 1):
        for first, month, days in _months_of_lunar_year(lunar_year):
            if first <= ordinal < first + days:
                return abs(month), ordinal - first + 1, month < 0
    raise ValueError(f"no lunar month holds day {ordinal}")


def _pinyin(ctx: DemoContext, text: str) -> str:
    from dealercrm.search.keys import pinyin_of

    cache = ctx.state.setdefault("pinyin", {})
    found = cache.get(text)
    if found is None:
        found = cache[text] = pinyin_of(text)[0]
    return found


def _id_number(randrange, district_code: str, birthday: dt.date, male: bool) -> str:  # noqa: ANN001
    sequence = randrange(0, 500) * 2 + (1 if male else 0)
    body = f"{district_code}{birthday:%Y%m%d}{sequence:03d}"
    return body + id_number_check_character(body)


def _plan(  # noqa: ANN001
    rng: random.Random, randrange, stage: str, today: int
) -> tuple[int, int, list[int]]:
    """(first contact, last activity, purchase days) as day ordinals, plausible for the stage."""
    if stage == "prospect":
        # Recent prospects outnumber old ones: a triangular draw leaning to today.
        first = today - int(rng.triangular(0, 3 * 365, 0))
        last = min(today, first + randrange(0, 120))
        return first, last, []
    if stage == "in_order":
        first = today - randrange(20, 120)
        return first, today - randrange(0, 15), []
    if stage == "lost":
        purchase = today - randrange(3 * 365, 5 * 365)
        last = today - randrange(400, 900)
    elif stage == "at_risk":
        purchase = today - randrange(2 * 365, 5 * 365)
        last = today - randrange(270, 420)
    else:
        purchase = today - randrange(30, 5 * 365)
        last = today - randrange(0, 120)
    purchases = [purchase]
    if stage == "loyal" and today - purchase > 2 * 365 and rng.random() < 0.45:
        # A second car of the brand (增购 / 换购) a year or more after the first.
        purchases.append(purchase + randrange(365, today - purchase - 20))
    first = purchase - randrange(3, 60)
    last = max(last, purchases[-1] + 3)
    return first, min(last, today), purchases


def generate_customers(ctx: DemoContext, chunk: Chunk, rng: random.Random) -> list[Rows]:
    pools = ctx.pools
    today = ctx.today_ord
    dealers = ctx.org.dealers
    dealer_weights = list(_cumulative(d.weight for d in dealers))
    stage_weights = list(_cumulative(STAGE_WEIGHTS))
    source_weights = list(_cumulative(SOURCE_WEIGHTS))
    income_weights = list(_cumulative(INCOME_WEIGHTS))
    education_weights = list(_cumulative(EDUCATION_WEIGHTS))
    person_names = pools.person_names
    name_count = len(person_names)
    random_ = rng.random
    randrange = int_draw(rng)
    choice = pick_from(rng)
    seen_ids: set[str] = ctx.state.setdefault("id_hashes", set())
    cares = data_care(ctx)

    customers: list[tuple] = []
    phones: list[tuple] = []
    consents: list[tuple] = []
    tags: list[tuple] = []
    next_customer = ctx.ids.start(Customer)
    next_phone = ctx.ids.start(CustomerPhone)
    next_consent = ctx.ids.start(Consent)
    next_tag = ctx.ids.start(CustomerTag)

    for _ in range(chunk.size):
        cid = next_customer
        next_customer += 1
        dealer = dealers[bisect(dealer_weights, random_() * dealer_weights[-1])]
        stage = STAGES[bisect(stage_weights, random_() * stage_weights[-1])]
        source = SOURCES[bisect(source_weights, random_() * source_weights[-1])]
        first, last, purchases = _plan(rng, randrange, stage, today)
        consultant = choice(dealer.consultants) if dealer.consultants else None
        district, district_code = dealer.districts[
            min(int(random_() ** 1.6 * len(dealer.districts)), len(dealer.districts) - 1)
        ]
        street = f"{choice(pools.streets)}{randrange(1, 1800)}号"
        if random_() < 0.6:
            street += f"{randrange(1, 30)}栋{randrange(1, 33)}{randrange(1, 9):02d}室"
        # Common names first: a skewed draw makes some names frequent, as they are.
        person_name, male = person_names[int(random_() ** 2 * name_count)]
        surname = person_name[0]
        is_company = random_() < COMPANY_SHARE
        care = cares[dealer.id].on(first, today)
        birthday = lunar = None
        encrypted = id_hash = masked = latin = email = wechat = ""
        occupation = education = income = marital = ""
        children: list[int] = []
        interests: list[str] = []
        lifestyle: list[str] = []
        if is_company:
            name = choice(pools.companies)
            contact_person = person_name
            gender = "unknown"
            income = ""
            if random_() < care_rate(care, *COMPANY_EMAIL_SHARE):
                email = f"info@{_pinyin(ctx, surname)}{randrange(10, 999)}.com.cn"
        else:
            name = person_name
            contact_person = ""
            gender = "male" if male else "female"
            age_days = int(rng.triangular(22, 70, 36) * 365.25)
            birth_ord = today - age_days
            birthday = dt.date.fromordinal(birth_ord)
            age = age_days // 365
            if random_() < LUNAR_SHARE:
                lunar = _lunar_of(birth_ord)
            if random_() < care_rate(care, *ID_NUMBER_SHARE):
                raw = _id_number(randrange, district_code, birthday, male)
                stored = protect_id_number(raw)
                if stored.hash not in seen_ids:
                    seen_ids.add(stored.hash)
                    encrypted, id_hash, masked = stored.encrypted, stored.hash, stored.masked
            if not id_hash:
                # The person has a gender and an age all the same (they shape the rest of the
                # record); a sloppy dealer just did not type them in.
                if random_() < care_rate(care, *NO_GENDER_SHARE):
                    gender = "unknown"
                if random_() < care_rate(care, *NO_BIRTHDAY_SHARE):
                    birthday = lunar = None
            if random_() < 0.06:
                given = ref.ENGLISH_NAMES_MALE if male else ref.ENGLISH_NAMES_FEMALE
                latin = f"{choice(given)} {_pinyin(ctx, surname).capitalize()}"
            if random_() < care_rate(care, *EMAIL_SHARE):
                local = _pinyin(ctx, person_name)
                email = f"{local}{randrange(1, 9999)}@{choice(ref.EMAIL_DOMAINS)}"
            if random_() < 0.45:
                wechat = f"wxid_{randrange(36**9):09x}"
            occupation = choice(pools.occupations) if random_() < 0.8 else ""
            education = EDUCATION[bisect(education_weights, random_() * education_weights[-1])]
            income = INCOME_BANDS[bisect(income_weights, random_() * income_weights[-1])]
            married = random_() < min(0.92, max(0.1, (age - 22) / 12))
            marital = "married" if married else ("single" if random_() < 0.9 else "other")
            if married:
                kids = 0 if random_() < 0.15 else (1 if random_() < 0.62 else 2)
                if kids == 2 and random_() < 0.12:
                    kids = 3
                birth_year = dt.date.fromordinal(birth_ord).year  # the true age, typed in or not
                latest = min(ctx.today.year, birth_year + 42)
                earliest = birth_year + 23
                if latest > earliest:
                    children = sorted(randrange(earliest, latest) for _ in range(kids))
            interests = rng.sample(ref.INTERESTS, randrange(0, 4))
            lifestyle = rng.sample(ref.LIFESTYLES, randrange(0, 3))
            if len(children) >= 2 and "家庭出行" not in lifestyle:
                lifestyle.append("家庭出行")
        created = ctx.moment(first, randrange(60, 600))
        updated = ctx.moment(last, randrange(60, 600))
        customers.append(
            (
                cid, dealer.id, "company" if is_company else "person", name, latin,
                contact_person, gender, birthday.isoformat() if birthday else None,
                lunar[0] if lunar else None, lunar[1] if lunar else None,
                lunar[2] if lunar else False, encrypted, id_hash, masked, email, wechat,
                dealer.province, dealer.city, district, street, occupation, education, income,
                marital, _int_list(children), _word_list(interests), _word_list(lifestyle), source, consultant, stage, False, 1,
                created, updated, consultant,
            )
        )  # fmt: skip

        numbers = [f"+86{choice(ref.MOBILE_PREFIXES)}{randrange(10**8):08d}"]
        if random_() < 0.15:
            second = f"+86{choice(ref.MOBILE_PREFIXES)}{randrange(10**8):08d}"
            if second != numbers[0]:
                numbers.append(second)
        for position, number in enumerate(numbers):
            label = "mobile" if position == 0 or random_() < 0.5 else "work"
            phones.append((next_phone, dealer.id, cid, number, label, position == 0))
            next_phone += 1

        source_text = ref.CONSENT_SOURCES[randrange(len(ref.CONSENT_SOURCES))]
        for channel in CONSENT_CHANNELS:
            if channel == "email" and not email:
                continue
            if channel == "wechat" and not wechat:
                continue
            consents.append(
                (
                    next_consent, dealer.id, cid, channel, random_() < CONSENT_RATES[channel],
                    created, source_text,
                )
            )  # fmt: skip
            next_consent += 1

        wanted = _tags_for(rng, stage, source, is_company, children, lifestyle, purchases, income)
        for tag_name in wanted:
            tag_id = dealer.tags.get(tag_name)
            if tag_id is not None:
                tags.append((next_tag, dealer.id, cid, tag_id))
                next_tag += 1

        chunk.customers.append(
            CustomerFacts(
                id=cid,
                dealer=dealer,
                kind="company" if is_company else "person",
                name=name,
                latin_name=latin,
                gender=gender,
                stage=stage,
                source=source,
                consultant_id=consultant,
                first_contact=first,
                last_active=last,
                purchases=purchases,
                has_other_car=random_() < (0.3 if stage in ("prospect", "in_order") else 0.12),
                phones=numbers,
                id_number_hash=id_hash,
                lifestyle=lifestyle,
                children=len(children),
            )
        )

    # For the messaging generator: addresses and birthdays, and consents a reply of T withdraws.
    chunk.extras["customers"] = (customers, consents)
    ctx.ids.finish(Customer, next_customer)
    ctx.ids.finish(CustomerPhone, next_phone)
    ctx.ids.finish(Consent, next_consent)
    ctx.ids.finish(CustomerTag, next_tag)
    return [
        Rows(Customer, CUSTOMER_FIELDS, customers),
        Rows(CustomerPhone, PHONE_FIELDS, phones),
        Rows(Consent, CONSENT_FIELDS, consents),
        Rows(CustomerTag, TAG_FIELDS, tags),
    ]


def _tags_for(
    rng: random.Random,
    stage: str,
    source: str,
    is_company: bool,
    children: list[int],
    lifestyle: list[str],
    purchases: list[int],
    income: str,
) -> list[str]:
    tags = []
    if is_company:
        tags.append("企业客户")
    if len(children) >= 2:
        tags.append("二胎家庭")
    if "网约车兼职" in lifestyle:
        tags.append("网约车")
    if stage == "loyal" and (income in ("600k_1m", "gt1m") or rng.random() < 0.3):
        tags.append("VIP")
    if purchases:
        tags.append("增购" if len(purchases) > 1 else "首购")
        if rng.random() < 0.12:
            tags.append("车友会")
    if stage == "prospect" and rng.random() < 0.2:
        tags.append("高意向")
    if stage in ("at_risk", "loyal") and rng.random() < 0.15:
        tags.append("换购意向")
    if source == "referral" and rng.random() < 0.3:
        tags.append("转介绍达人")
    if "环保出行" in lifestyle:
        tags.append("新能源意向")
    if income == "lt100k" and rng.random() < 0.4:
        tags.append("价格敏感")
    return tags


def _int_list(values: list[int]) -> str:
    return "[" + ", ".join(map(str, values)) + "]"


def _word_list(words: list[str]) -> str:
    # JSON by hand: the words come from reference lists without quotes or backslashes.
    return '["' + '", "'.join(words) + '"]' if words else "[]"


def _cumulative(values):  # noqa: ANN001, ANN202
    total = 0
    for value in values:
        total += value
        yield total


# --- interactions (history) -------------------------------------------------------------------

_FOLLOW_UPS = (
    ("call", "out", "邀约到店试驾", "客户对{series}感兴趣，约周末到店试驾。"),
    ("call", "out", "试驾后回访", "客户对动力和空间满意，关注价格和置换补贴。"),
    ("visit", "in", "到店看车", "客户携家人到店看车，重点了解{series}的安全配置。"),
    (
        "wechat",
        "out",
        "发送报价单",
        "已通过微信发送{series}报价明细（裸车价、购置税、保险、上牌费、精品）。",
    ),
    ("note", "internal", "客户需求记录", "家庭用车为主，预算二十万左右，关注油耗/续航。"),
    ("call", "in", "客户来电咨询", "咨询{series}现车颜色和交车时间。"),
    ("sms", "out", "活动通知", "周末店内团购会邀请短信已发送。"),
)
_OWNER_CONTACTS = (
    ("call", "out", "保养提醒", "提醒客户车辆即将到达保养里程，已预约到店时间。"),
    ("visit", "in", "到店保养", "常规保养完成，更换机油机滤，客户在休息区等候。"),
    ("call", "out", "保养后回访", "客户对本次保养服务满意，无其他问题。"),
    ("call", "out", "续保提醒", "车险即将到期，已发送续保方案。"),
    ("wechat", "out", "车主活动邀请", "邀请参加车友会周末自驾活动。"),
    ("call", "out", "满意度回访", "客户对服务顾问的接待表示满意。"),
    ("note", "internal", "客户反馈", "客户反映车机偶尔卡顿，已登记，下次保养时升级系统。"),
    ("sms", "out", "节日问候", "春节问候短信已发送。"),
)
_CALL_OUTCOMES = ("reached", "reached", "reached", "reached", "no_answer", "busy", "call_back")


def generate_interactions(ctx: DemoContext, chunk: Chunk, rng: random.Random) -> list[Rows]:
    rows: list[tuple] = []
    next_id = ctx.ids.start(Interaction)
    randrange = int_draw(rng)
    vehicles_of: dict[int, list] = {}
    for vehicle in chunk.vehicles:
        if vehicle.is_brand and vehicle.delivery is not None:
            vehicles_of.setdefault(vehicle.owner_id, []).append(vehicle)
    series_names = [m.series for m in ctx.org.brand_models]

    def add(customer, day, kind, direction, subject, body, author):  # noqa: ANN001, ANN202
        nonlocal next_id
        outcome = ""
        duration = None
        if kind == "call":
            outcome = _CALL_OUTCOMES[randrange(len(_CALL_OUTCOMES))]
            duration = randrange(40, 600) if outcome in ("reached", "call_back") else 0
        rows.append(
            (
                next_id, customer.dealer.id, customer.id, kind, direction,
                ctx.moment(day, randrange(60, 600)), author, subject, body, outcome, duration,
            )
        )  # fmt: skip
        next_id += 1

    for customer in chunk.customers:
        dealer = customer.dealer
        sales = customer.consultant_id
        care = dealer.care[randrange(len(dealer.care))] if dealer.care else None
        advisor = dealer.advisors[randrange(len(dealer.advisors))] if dealer.advisors else None
        series = series_names[randrange(len(series_names))]
        first, last = customer.first_contact, customer.last_active
        if customer.source == "walk_in":
            add(
                customer,
                first,
                "visit",
                "in",
                "首次到店",
                f"客户首次到店，意向车型{series}。",
                sales,
            )
        elif customer.source == "phone":
            add(customer, first, "call", "in", "来电咨询", f"客户来电咨询{series}价格。", sales)
        else:
            add(
                customer,
                first,
                "note",
                "internal",
                "新建客户",
                f"线索来源登记，意向车型{series}。",
                sales,
            )
        for _ in range(randrange(0, 3)):
            kind, direction, subject, body = _FOLLOW_UPS[randrange(len(_FOLLOW_UPS))]
            day = first + randrange(0, max(1, min(last, first + 90) - first + 1))
            add(customer, day, kind, direction, subject, body.format(series=series), sales)
        for vehicle in vehicles_of.get(customer.id, ()):
            delivery = vehicle.delivery
            add(
                customer,
                delivery,
                "visit",
                "in",
                "交车",
                "交车仪式完成，讲解车辆功能和保养政策。",
                sales,
            )
            if delivery + 3 <= ctx.today_ord:
                add(
                    customer, delivery + randrange(1, 4), "call", "out", "交车后三日回访",
                    "询问用车情况，客户对交车流程满意。", care,
                )  # fmt: skip
            # Owners hear from the dealer after delivery until the last activity.
            span = last - delivery
            if span > 60:
                for _ in range(min(6, span // 240 + randrange(0, 2))):
                    kind, direction, subject, body = _OWNER_CONTACTS[
                        randrange(len(_OWNER_CONTACTS))
                    ]
                    author = advisor if kind == "visit" or subject.startswith("保养") else care
                    add(
                        customer,
                        delivery + randrange(30, span + 1),
                        kind,
                        direction,
                        subject,
                        body,
                        author,
                    )  # noqa: E501
        if customer.stage == "lost":
            add(
                customer, last, "call", "out", "流失回访",
                "客户表示已在其他店保养，暂无回店计划。", care,
            )  # fmt: skip
    ctx.ids.finish(Interaction, next_id)
    return [Rows(Interaction, INTERACTION_FIELDS, rows)]


CUSTOMERS = ChunkGenerator(
    "customers",
    "customers",
    generate_customers,
    (Customer, CustomerPhone, Consent, CustomerTag),
)
INTERACTIONS = ChunkGenerator("interactions", "history", generate_interactions, (Interaction,))
