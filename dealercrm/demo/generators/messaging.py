"""Messaging of the demo network: every dealer's templates and policy (org step), campaigns, and
three years of messages to and from the demo customers (history stage).

The org step writes, per dealer, a template for every purpose the source documents name (the
test-drive reminder, the 3-day follow-up after delivery and the one after service, maintenance
reminders — first, next, overdue —, insurance renewal, annual inspection, warranty end,
birthday, Spring Festival, Mid-Autumn and other festival greetings, survey invitation, the
delivery delay notice — only 47.1% of late-delivery customers were told in one survey —,
recall, appointment confirmation, win-back and campaigns): SMS mostly, some e-mail and WeChat,
a few in English; and the dealer's policy with its SMS signature (its short name).

The chunk generator writes what those templates would have sent over the last three years,
rendered for each customer as the services render it (【signature】, 回T退订 on marketing SMS,
segments), following the customers' and vehicles' plans: marketing only on a channel the
customer consented to, at most 4 marketing messages in 30 days, no message in the quiet hours.
Most are delivered; some failed or were undeliverable, with the gateway's reason. A few
customers replied: a reply of T withdraws their SMS consent (the consent row of the customers
generator is rewritten before the chunk is written, and no marketing SMS follows), other
replies became a task for their consultant. A campaign at every third dealer, its audience by
lifecycle stage, leaves "blocked" rows for customers without consent and "held" ones for the
cap; its report is counted from the messages once the load is done.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Count

from dealercrm.core.models import Dealer, User
from dealercrm.messaging.models import (
    Campaign,
    Message,
    MessageStatus,
    MessageTemplate,
    MessagingPolicy,
    Purpose,
    is_marketing_purpose,
)
from dealercrm.messaging.rendering import surname_of
from dealercrm.messaging.sms_length import UNSUBSCRIBE_SUFFIX as UNSUBSCRIBE
from dealercrm.messaging.sms_length import segments_for
from dealercrm.worklist.models import Task

from .base import Chunk, ChunkGenerator, CustomerFacts, DealerFacts, DemoContext, Rows, int_draw

YEAR = 365
HISTORY_DAYS = 3 * YEAR
CAP_COUNT, CAP_DAYS = 4, 30  # MessagingPolicy's defaults: the demo keeps to them
SURVEY_BASE = "https://crm.example.com/s/"


@dataclass(frozen=True)
class TemplateSpec:
    key: str
    name: str
    purpose: str
    channel: str
    body: str
    subject: str = ""
    language: str = "zh-hans"


P = Purpose
# fmt: off
TEMPLATES: tuple[TemplateSpec, ...] = (
    # Service messages: sent without marketing consent, outside the cap.
    TemplateSpec("test_drive", "试驾提醒", P.TEST_DRIVE_REMINDER, "sms",
                 "{{ salutation }}您好，我是{{ dealer_name }}的{{ consultant_name }}，提醒您"
                 "{{ test_drive_time }}来店试驾，车已为您备好。如有变化请致电{{ dealer_phone }}。"),
    TemplateSpec("appointment", "预约确认", P.APPOINTMENT_CONFIRMATION, "sms",
                 "{{ salutation }}您好，您已预约{{ appointment_time }}到店保养（{{ plate }}），"
                 "服务顾问{{ advisor_name }}将为您接待。改期请致电{{ dealer_phone }}。"),
    TemplateSpec("appointment_wechat", "预约确认（微信）", P.APPOINTMENT_CONFIRMATION, "wechat",
                 "{{ salutation }}您好，您的保养预约已确认：{{ appointment_time }}，车辆{{ plate }}，"
                 "服务顾问{{ advisor_name }}。地址：{{ dealer_address }}。",
                 subject="预约成功通知"),
    TemplateSpec("appointment_en", "Appointment confirmation (English)",
                 P.APPOINTMENT_CONFIRMATION, "sms",
                 "Dear {{ salutation }}, your service appointment at {{ dealer_name }} is confirmed "
                 "for {{ appointment_time }} ({{ plate }}). To change it, call {{ dealer_phone }}.",
                 language="en"),
    # 47.1%: the share of late-delivery customers who were told in advance, in one survey.
    TemplateSpec("new_arrival", "到店通知（顾问个人）", P.PERSONAL, "sms",
                 "{{ salutation }}您好，我是{{ consultant_name }}。您上次看的车型新到了几台现车，"
                 "这周方便的话来看看实车？来之前给我打个电话就行。"),
    TemplateSpec("delivery_delay", "交车延迟通知", P.DELIVERY_DELAY, "sms",
                 "{{ salutation }}您好，非常抱歉：您订购的新车因物流调整，交车日期预计推迟至"
                 "{{ delivery_date }}。有新进展我会第一时间告诉您。销售顾问{{ consultant_name }}"),
    TemplateSpec("recall", "召回通知", P.RECALL, "sms",
                 "{{ salutation }}您好，您的爱车{{ plate }}在{{ recall_title }}召回范围内，本店免费检修，"
                 "约需1小时。请致电{{ dealer_phone }}预约，感谢配合。"),
    TemplateSpec("follow_up_delivery", "交车后三日回访", P.FOLLOW_UP, "sms",
                 "{{ salutation }}您好，我是{{ dealer_name }}的{{ consultant_name }}。新车开了几天感觉如何？"
                 "用车上有任何疑问随时找我，祝您用车愉快！"),
    TemplateSpec("follow_up_delivery_wechat", "交车后三日回访（微信）", P.FOLLOW_UP, "wechat",
                 "{{ salutation }}您好，新车到家三天了，开得还顺手吗？车机互联、保养政策有任何问题，"
                 "随时在这里问我。{{ consultant_name }}",
                 subject="用车关怀"),
    TemplateSpec("follow_up_service", "保养后回访", P.FOLLOW_UP, "sms",
                 "{{ salutation }}您好，您的爱车{{ plate }}已于{{ date }}完成保养。用车中有任何问题，"
                 "欢迎随时联系服务顾问{{ advisor_name }}。"),
    TemplateSpec("survey", "满意度调查邀请", P.SURVEY_INVITATION, "sms",
                 "{{ salutation }}您好，感谢您选择{{ dealer_name }}。耽误您1分钟，为这次服务打个分："
                 "{{ link }}"),
    TemplateSpec("survey_wechat", "满意度调查邀请（微信）", P.SURVEY_INVITATION, "wechat",
                 "{{ salutation }}您好，您的意见对我们很重要，请为{{ dealer_name }}本次服务评价：{{ link }}",
                 subject="服务评价邀请"),
    TemplateSpec("survey_email", "满意度调查邀请（邮件）", P.SURVEY_INVITATION, "email",
                 "{{ salutation }}您好：\n\n感谢您选择{{ dealer_name }}。为了把服务做得更好，"
                 "想请您花1分钟回答几个问题：\n{{ link }}\n\n您的每一条意见都会有人认真阅读。\n\n"
                 "{{ dealer_name }} 客户服务部\n{{ dealer_phone }}",
                 subject="邀请您评价{{ dealer_name }}的服务"),
    # Marketing: consent for the channel, the frequency cap, 回T退订 on SMS.
    TemplateSpec("maintenance_first", "首保提醒", P.MAINTENANCE_REMINDER, "sms",
                 "{{ salutation }}您好，您的爱车{{ plate }}快到首保时间了（{{ due_date }}前），"
                 "首保工时免费。回复或致电{{ dealer_phone }}即可预约。"),
    TemplateSpec("maintenance_next", "定期保养提醒", P.MAINTENANCE_REMINDER, "sms",
                 "{{ salutation }}您好，您的爱车{{ plate }}已行驶约{{ mileage }}公里，建议{{ due_date }}前"
                 "回店保养。预约电话{{ dealer_phone }}。"),
    TemplateSpec("maintenance_next_wechat", "定期保养提醒（微信）", P.MAINTENANCE_REMINDER, "wechat",
                 "{{ salutation }}您好，您的爱车{{ plate }}已行驶约{{ mileage }}公里，建议{{ due_date }}前"
                 "回店保养。点击菜单“预约保养”即可选时间。",
                 subject="保养到期提醒"),
    TemplateSpec("maintenance_next_email", "定期保养提醒（邮件）", P.MAINTENANCE_REMINDER, "email",
                 "{{ salutation }}您好：\n\n您的爱车{{ plate }}已行驶约{{ mileage }}公里，按保养手册"
                 "建议在{{ due_date }}前回店保养。\n\n预约电话：{{ dealer_phone }}\n"
                 "地址：{{ dealer_address }}\n\n保养约需1小时，休息区备有茶点和Wi-Fi。\n\n{{ dealer_name }}",
                 subject="{{ salutation }}，您的爱车该保养了"),
    TemplateSpec("maintenance_next_en", "Maintenance reminder (English)",
                 P.MAINTENANCE_REMINDER, "sms",
                 "Dear {{ salutation }}, your car {{ plate }} has done about {{ mileage }} km and is "
                 "due for service by {{ due_date }}. Book on {{ dealer_phone }}.",
                 language="en"),
    TemplateSpec("maintenance_overdue", "保养逾期提醒", P.MAINTENANCE_REMINDER, "sms",
                 "{{ salutation }}您好，您的爱车{{ plate }}已超过建议保养时间，为了行车安全请尽快回店保养，"
                 "本月回店工时8折。{{ dealer_name }}"),
    TemplateSpec("insurance", "续保提醒", P.INSURANCE_RENEWAL, "sms",
                 "{{ salutation }}您好，您的爱车{{ plate }}车险将于{{ due_date }}到期，本店可为您比价续保，"
                 "续保还送保养券，详询{{ dealer_phone }}。"),
    TemplateSpec("insurance_email", "续保提醒（邮件）", P.INSURANCE_RENEWAL, "email",
                 "{{ salutation }}您好：\n\n您的爱车{{ plate }}的车险将于{{ due_date }}到期。"
                 "{{ dealer_name }}可为您对比多家保险公司的方案，在店续保还赠送保养券一张。\n\n"
                 "续保专线：{{ dealer_phone }}\n\n{{ dealer_name }}",
                 subject="您的车险即将到期"),
    TemplateSpec("inspection", "年检提醒", P.INSPECTION_REMINDER, "sms",
                 "{{ salutation }}您好，您的爱车{{ plate }}将于{{ due_date }}到年检时间，本店可代办年检，"
                 "省时省心。预约电话{{ dealer_phone }}。"),
    TemplateSpec("warranty", "质保到期提醒", P.WARRANTY_EXPIRY, "sms",
                 "{{ salutation }}您好，您的爱车{{ plate }}整车质保将于{{ warranty_end }}到期。到期前"
                 "可来店免费全面检测一次，有问题质保内处理。"),
    TemplateSpec("birthday", "生日祝福", P.BIRTHDAY_GREETING, "sms",
                 "{{ salutation }}，今天是您的生日，{{ dealer_name }}全体同事祝您生日快乐、一路平安！"
                 "生日当月回店保养送精美礼品一份。"),
    TemplateSpec("birthday_wechat", "生日祝福（微信）", P.BIRTHDAY_GREETING, "wechat",
                 "{{ salutation }}，生日快乐！{{ consultant_name }}和{{ dealer_name }}的同事们祝您"
                 "新的一岁平安顺遂。",
                 subject="生日祝福"),
    TemplateSpec("birthday_en", "Birthday greeting (English)", P.BIRTHDAY_GREETING, "sms",
                 "Happy birthday, {{ salutation }}! Everyone at {{ dealer_name }} wishes you a "
                 "wonderful year and safe travels.",
                 language="en"),
    TemplateSpec("spring_festival", "春节祝福", P.HOLIDAY_GREETING, "sms",
                 "{{ salutation }}，{{ consultant_name }}和{{ dealer_name }}全体同事给您拜年了！"
                 "感谢您一直以来的信任，祝您和家人新春快乐、阖家幸福、出行平安！"),
    TemplateSpec("spring_festival_en", "Spring Festival greeting (English)",
                 P.HOLIDAY_GREETING, "sms",
                 "Happy Spring Festival, {{ salutation }}! Thank you for your trust this year. "
                 "All of us at {{ dealer_name }} wish you and your family health and joy.",
                 language="en"),
    TemplateSpec("mid_autumn", "中秋祝福", P.HOLIDAY_GREETING, "sms",
                 "{{ salutation }}，月圆人团圆。{{ dealer_name }}祝您中秋快乐！长途出行前欢迎回店免费检查"
                 "胎压和灯光，一路平安。"),
    TemplateSpec("mid_autumn_wechat", "中秋祝福（微信）", P.HOLIDAY_GREETING, "wechat",
                 "{{ salutation }}，中秋快乐！回家的路上平平安安。{{ consultant_name }}",
                 subject="中秋祝福"),
    TemplateSpec("holiday", "节日祝福", P.HOLIDAY_GREETING, "sms",
                 "{{ salutation }}，{{ festival }}快乐！假期出行前别忘了检查轮胎和油液，"
                 "{{ dealer_name }}祝您一路平安。"),
    TemplateSpec("win_back", "老客户回店礼", P.WIN_BACK, "sms",
                 "{{ salutation }}，好久不见！{{ dealer_name }}为老朋友准备了回店礼：免费检测+保养8折，"
                 "{{ date }}前有效，期待再次为您服务。"),
    TemplateSpec("campaign_rainy", "雨季免费检测", P.CAMPAIGN, "sms",
                 "{{ salutation }}，雨季将至，{{ event_name }}：雨刮、灯光、底盘排水免费检测，"
                 "{{ date }}前到店即享。{{ dealer_name }}"),
    TemplateSpec("campaign_winter", "冬季免费检测", P.CAMPAIGN, "sms",
                 "{{ salutation }}，入冬前给爱车做个体检吧！{{ event_name }}：电瓶、防冻液、轮胎免费检测，"
                 "到店还送玻璃水。"),
    TemplateSpec("campaign_club", "车友会活动邀请", P.CAMPAIGN, "sms",
                 "{{ salutation }}，{{ event_name }}开始报名啦！{{ date }}车友会自驾游，名额有限，"
                 "报名请致电{{ dealer_phone }}。"),
    TemplateSpec("campaign_newsletter", "车主月刊（邮件）", P.CAMPAIGN, "email",
                 "{{ salutation }}您好：\n\n本月{{ dealer_name }}为车主准备了{{ event_name }}，"
                 "详情见{{ link }}。\n\n车主讲堂：如何更换备胎、遇到紧急情况怎么办，每周六下午在店内举行，"
                 "欢迎携家人参加。\n\n{{ dealer_name }}\n{{ dealer_address }}",
                 subject="{{ dealer_name }}车主月刊：{{ event_name }}"),
    TemplateSpec("campaign_trade_in", "置换补贴活动", P.CAMPAIGN, "sms",
                 "{{ salutation }}，{{ event_name }}：老车置换新款最高补贴1万元，还可免费评估您的爱车"
                 "{{ plate }}。详询{{ dealer_phone }}"),
)
# fmt: on
TEMPLATE_BY_KEY = {spec.key: spec for spec in TEMPLATES}

# Other festivals (solar dates) greeted with the "holiday" template.
OTHER_FESTIVALS = (("元旦", 1, 1), ("国庆节", 10, 1))

SMS_UNDELIVERABLE = (
    "空号（UNDELIV: MK:0001）",
    "停机（UNDELIV: MK:0005）",
    "用户拒收（黑名单）",
    "关机超过72小时未送达",
)
SMS_FAILED = "网关超时，重试5次后放弃"
EMAIL_BOUNCES = ("550 5.1.1 收件人邮箱不存在", "552 5.2.2 收件人邮箱已满")
WECHAT_REFUSED = "43101 用户拒绝接收消息"
REPLIES = (
    "好的，谢谢",
    "收到",
    "周六上午可以吗？",
    "能改到下周吗？",
    "已经保养过了",
    "多少钱？",
    "好的，到时候见",
    "请问需要带什么资料？",
)
UNSUBSCRIBE_REPLIES = ("T", "TD", "退订")
REPLY_OUTCOMES = (
    "reached: 已电话回复客户",
    "reached: 已约好到店时间",
    "reached: 已解答，客户满意",
)
NO_CONSENT = {
    "sms": "没有短信营销许可。",
    "wechat": "没有微信营销许可。",
    "email": "没有邮件营销许可。",
}
HELD = f"频次上限：{CAP_DAYS}天内已有{CAP_COUNT}条营销消息。"

MESSAGE_FIELDS = (
    "id", "dealer_id", "customer_id", "direction", "channel", "purpose", "is_marketing",
    "template_id", "campaign_id", "language", "to_address", "from_address", "subject", "body",
    "segments", "source_kind", "source_id", "idempotency_key", "status", "status_reason",
    "not_before", "attempts", "provider", "provider_message_id", "in_reply_to_id",
    "created_by_id", "created_at", "sent_at", "delivered_at", "status_changed_at",
)  # fmt: skip
TASK_FIELDS = (
    "id", "dealer_id", "customer_id", "assignee_id", "kind", "title", "body", "due_at", "status",
    "outcome", "source_kind", "source_id", "created_at", "completed_at", "completed_by_id",
)  # fmt: skip
CAMPAIGN_FIELDS = (
    "id", "dealer_id", "name", "template_id", "audience", "status", "created_by_id",
    "created_at", "queued_at",
)  # fmt: skip
PROVIDER = {"sms": "sms_gateway", "email": "smtp", "wechat": "wechat"}


# --- the org step: templates, policy, what texts say of the dealer ------------------------------


@dataclass
class DealerMessaging:
    """What the messages of one dealer say of it, and its templates' ids by key."""

    name: str
    phone: str
    address: str
    signature: str
    templates: dict[str, int] = field(default_factory=dict)
    staff_names: dict[int, str] = field(default_factory=dict)


def short_name(dealer_name: str, city: str) -> str:
    """上海浦东极光4S店 → 极光浦东店: the brand and the place, as an SMS signature."""
    place = dealer_name.removeprefix(city.removesuffix("市")).replace("极光4S店", "")
    return f"极光{place}店"[:20]


def messaging_setup(dealer_facts: list[DealerFacts], dealers: Iterable[Dealer]) -> None:
    """Templates and a policy for every dealer (bulk, a few hundred rows), and on each
    DealerFacts what the chunk generator needs to render messages (`facts.messaging`)."""
    by_id = {d.pk: d for d in dealers}
    policies = []
    templates = []
    for facts in dealer_facts:
        dealer = by_id[facts.id]
        info = DealerMessaging(
            name=dealer.name,
            phone=dealer.phone,
            address=dealer.address,
            signature=short_name(dealer.name, dealer.city),
        )
        facts.messaging = info
        policies.append(MessagingPolicy(dealer_id=dealer.pk, sms_signature=info.signature))
        templates.extend(
            MessageTemplate(
                dealer_id=dealer.pk,
                name=spec.name,
                purpose=spec.purpose,
                channel=spec.channel,
                language=spec.language,
                subject=spec.subject,
                body=spec.body,
            )
            for spec in TEMPLATES
        )
    MessagingPolicy.objects.unscoped().bulk_create(policies)
    MessageTemplate.objects.unscoped().bulk_create(templates)
    key_of = {(spec.name, spec.language): spec.key for spec in TEMPLATES}
    by_dealer = {f.id: f for f in dealer_facts}
    for row in (
        MessageTemplate.objects.unscoped()
        .filter(dealer_id__in=list(by_dealer))
        .values("id", "dealer_id", "name", "language")
    ):
        key = key_of.get((row["name"], row["language"]))
        if key is not None:
            by_dealer[row["dealer_id"]].messaging.templates[key] = row["id"]
    for user_id, dealer_id, name in User.objects.filter(dealer_id__in=list(by_dealer)).values_list(
        "id", "dealer_id", "display_name"
    ):
        by_dealer[dealer_id].messaging.staff_names[user_id] = name


# --- rendering, as the services render (without their queries) ---------------------------------

_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


@dataclass(frozen=True)
class Compiled:
    """A template turned into str.format strings, with what a message of it carries."""

    key: str
    purpose: str
    channel: str
    language: str
    marketing: bool
    body: str
    subject: str
    names: tuple[str, ...]  # the variables it needs a value for
    needs_staff: bool  # names a consultant or advisor, whom a customer may lack


def _compile(spec: TemplateSpec) -> Compiled:
    def fmt(text: str) -> str:
        return _VARIABLE.sub(lambda m: "{" + m.group(1) + "}", text)

    return Compiled(
        spec.key,
        str(spec.purpose),
        spec.channel,
        spec.language,
        is_marketing_purpose(spec.purpose),
        fmt(spec.body),
        fmt(spec.subject),
        tuple(dict.fromkeys(_VARIABLE.findall(spec.body + spec.subject))),
        bool({"consultant_name", "advisor_name"} & set(_VARIABLE.findall(spec.body))),
    )


COMPILED = {spec.key: _compile(spec) for spec in TEMPLATES}


def salutation(kind: str, name: str, gender: str, contact: str, latin: str, english: bool) -> str:
    """As dealercrm.messaging.rendering.salutation, from the generator's plain values."""
    if kind == "company":
        return contact or name
    if gender in ("male", "female"):
        if english:
            # The pinyin of the Chinese surname (欧阳 → Ouyang), as the renderer spells it.
            from pypinyin import lazy_pinyin

            surname = "".join(lazy_pinyin(surname_of(name))).capitalize()
            return f"{'Mr' if gender == 'male' else 'Ms'} {surname}"
        return surname_of(name) + ("先生" if gender == "male" else "女士")
    return latin if english and latin else name


def _zh_date(iso: str) -> str:
    return f"{iso[:4]}年{int(iso[5:7])}月{int(iso[8:10])}日"


_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip


# --- festivals ----------------------------------------------------------------------------------

_festivals: dict[int, list[tuple[int, str, str]]] = {}


def festivals_of(year: int) -> list[tuple[int, str, str]]:
    """(day ordinal, template key, festival name) of a year's greeted festivals."""
    found = _festivals.get(year)
    if found is None:
        from lunar_python import Lunar

        def solar(month: int, day: int) -> int:
            s = Lunar.fromYmd(year, month, day).getSolar()
            return dt.date(s.getYear(), s.getMonth(), s.getDay()).toordinal()

        found = _festivals[year] = [
            (solar(1, 1), "spring_festival", "春节"),
            (solar(8, 15), "mid_autumn", "中秋节"),
            *((dt.date(year, m, d).toordinal(), "holiday", name) for name, m, d in OTHER_FESTIVALS),
        ]
    return found


# --- campaigns ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignSpec:
    key: str  # template key
    name: str
    event_name: str
    days_ago: int
    stages: tuple[str, ...]


CAMPAIGNS = (
    CampaignSpec("campaign_rainy", "雨季前免费检测", "雨季关爱检测周", 75, ("loyal",)),
    CampaignSpec("win_back", "老客户回店礼", "回店礼", 40, ("at_risk",)),
)


def _campaigns(ctx: DemoContext) -> tuple[list[tuple], dict[int, list[tuple[int, int, str, int]]]]:
    """The campaign rows (made once, with the first chunk) and, per dealer, (campaign id, day,
    template key, creator) of each."""
    state = ctx.state.setdefault("messaging", {})
    if "campaigns" in state:
        return [], state["campaigns"]
    rows: list[tuple] = []
    by_dealer: dict[int, list[tuple[int, int, str, int]]] = {}
    next_id = ctx.ids.start(Campaign)
    for position, dealer in enumerate(ctx.org.dealers):
        info: DealerMessaging | None = dealer.messaging
        if info is None:
            continue
        creator = dealer.care[0] if dealer.care else dealer.manager
        # A campaign at every third dealer, the two kinds in turn: enough to show both and
        # their reports, without a campaign's worth of rows at every dealer.
        if position % 3:
            continue
        for spec in (CAMPAIGNS[position // 3 % len(CAMPAIGNS)],):
            day = ctx.today_ord - spec.days_ago
            at = ctx.moment(day, 90)
            audience = '{"lifecycle_stages": [' + ", ".join(f'"{s}"' for s in spec.stages) + "]}"
            rows.append(
                (
                    next_id, dealer.id, spec.name, info.templates[spec.key], audience, "queued",
                    creator, at, ctx.moment(day, 95),
                )
            )  # fmt: skip
            by_dealer.setdefault(dealer.id, []).append((next_id, day, spec.key, creator))
            next_id += 1
    ctx.ids.finish(Campaign, next_id)
    state["campaigns"] = by_dealer
    return rows, by_dealer


def finish_campaigns(ctx: DemoContext) -> None:
    """After the load: each demo campaign's report and progress, counted from its messages
    (one grouped query, one bulk update)."""
    dealer_ids = [d.id for d in ctx.org.dealers]
    campaigns = list(Campaign.objects.unscoped().filter(dealer_id__in=dealer_ids))
    if not campaigns:
        return
    counts: dict[int, dict[str, int]] = {}
    for row in (
        Message.objects.unscoped()
        .filter(dealer_id__in=dealer_ids, campaign__isnull=False)
        .values("campaign_id", "status")
        .annotate(n=Count("id"))
        .order_by()
    ):
        counts.setdefault(row["campaign_id"], {})[row["status"]] = row["n"]
    for campaign in campaigns:
        by_status = counts.get(campaign.pk, {})
        held = by_status.get(MessageStatus.HELD, 0)
        blocked = by_status.get(MessageStatus.BLOCKED, 0)
        queued = sum(by_status.values()) - held - blocked
        campaign.report = {
            "queued": queued,
            "held_by_cap": held,
            "no_consent": blocked,
            "no_address": 0,
            "undeliverable": 0,
            "missing_variable": 0,
            "already_queued": 0,
            "deferred_by_quiet_hours": 0,
            "missing_variable_examples": [],
            "no_address_examples": [],
        }
        campaign.total = campaign.progress = queued + held + blocked
    Campaign.objects.unscoped().bulk_update(campaigns, ["report", "total", "progress"])


# --- the history --------------------------------------------------------------------------------

# Channels tried in order, by template key: for marketing the first the customer has an address
# and consent for, for a service message the first with an address. Variants of a template for
# another channel are keyed "<key>_wechat" / "<key>_email", the English one "<key>_en".
_CHANNELS: dict[str, tuple[str, ...]] = {
    "maintenance_next": ("sms", "wechat", "email"),
    "insurance": ("email", "sms"),
    "birthday": ("sms", "wechat"),
    "mid_autumn": ("sms", "wechat"),
    "follow_up_delivery": ("sms", "wechat"),
    "appointment": ("sms", "wechat"),
    "survey": ("wechat", "sms", "email"),
}
_SMS_ONLY = ("sms",)
_VARIANT = {"sms": "", "wechat": "_wechat", "email": "_email"}
_ENGLISH = frozenset({"appointment", "maintenance_next", "birthday", "spring_festival"})
_CAMPAIGN_SPECS = {spec.key: spec for spec in CAMPAIGNS}
_MARKETING_STATUSES_SENT = ("sent", "delivered")


class _History:
    """The message, task and consent rows of one chunk, and the run's caches."""

    def __init__(self, ctx: DemoContext, rng: random.Random, consent_rows: list[tuple]) -> None:
        self.ctx = ctx
        self.rand = rng.random
        self.randrange = int_draw(rng)
        self.messages: list[tuple] = []
        self.tasks: list[tuple] = []
        self.consent_rows = consent_rows
        self.next_message = ctx.ids.start(Message)
        self.next_task = ctx.ids.start(Task)
        self.stopped_in_chunk = False
        state = ctx.state.setdefault("messaging", {})
        self.zh_dates: dict[int, str] = state.setdefault("zh_dates", {})
        # ctx.moment's text, from two tables: a day's ISO date and a minute's " HH:MM:00".
        self.day = ctx.day
        self.clock = state.setdefault(
            "clock", [f" {m // 60:02d}:{m % 60:02d}:00" for m in range(24 * 60)]
        )

    def zh_date(self, ordinal: int) -> str:
        text = self.zh_dates.get(ordinal)
        if text is None:
            text = self.zh_dates[ordinal] = _zh_date(self.ctx.day(ordinal))
        return text

    def message(
        self,
        customer: CustomerFacts,
        prefix: str,
        template_id: int,
        compiled: Compiled,
        values: dict[str, str],
        to_address: str,
        event: tuple,
        status: str = "",
        reason: str = "",
    ) -> tuple[int, str]:
        """One outbound message of an event; (its id, its status)."""
        day, minute, _key, _extra, _plate, source_kind, author, campaign_id = event
        mid = self.next_message
        self.next_message += 1
        channel = compiled.channel
        body = compiled.body.format_map(values)
        subject = compiled.subject.format_map(values) if compiled.subject else ""
        segments = 0
        if channel == "sms":
            # As sms_length.sms_text: 【signature】 + body (+ " 回T退订" for marketing).
            body = f"{prefix}{body}{UNSUBSCRIBE if compiled.marketing else ''}"
            segments = segments_for(len(body))
        at = self.day(day) + self.clock[minute]
        sent_at = delivered_at = None
        provider = provider_id = ""
        attempts = 0
        if not status:
            attempts = 1
            provider = PROVIDER[channel]
            sent_at = at
            r = self.rand()
            if channel == "sms":
                provider_id = f"{mid * 7919 % 1_000_000_000:09d}^0"
                if r < 0.012:
                    status, reason = "undeliverable", SMS_UNDELIVERABLE[int(r * 1000) % 4]
                elif r < 0.02:
                    status, reason, attempts, provider_id, sent_at = (
                        "failed",
                        SMS_FAILED,
                        5,
                        "",
                        None,
                    )
                elif day >= self.ctx.today_ord - 1 and r < 0.4:
                    status = "sent"  # no receipt yet
                else:
                    # Receipts come within seconds: the same minute.
                    status, delivered_at = "delivered", at
            elif channel == "email":
                provider_id = f"<{mid:x}.demo@dealercrm>"
                if r < 0.03:
                    status, reason = "undeliverable", EMAIL_BOUNCES[int(r * 1000) % 2]
                else:
                    status = "sent"  # SMTP gives no delivery receipt
            else:
                provider_id = str(2_000_000_000 + mid)
                if r < 0.02:
                    status, reason = "undeliverable", WECHAT_REFUSED
                else:
                    status, delivered_at = "delivered", at
        source_id = f"demo-{mid}"
        self.messages.append(
            (
                mid, customer.dealer.id, customer.id, "out", channel, compiled.purpose,
                compiled.marketing, template_id, campaign_id, compiled.language, to_address, "",
                subject, body, segments, source_kind, source_id,
                f"{source_kind}:{source_id}:{customer.id}:{channel}", status, reason, at,
                attempts, provider, provider_id, None, author, at, sent_at, delivered_at,
                at,
            )
        )  # fmt: skip
        return mid, status

    def reply(
        self, customer: CustomerFacts, phone: str, to_id: int, day: int, minute: int, text: str
    ) -> int:
        mid = self.next_message
        self.next_message += 1
        at = self.ctx.moment(day, minute)
        self.messages.append(
            (
                mid, customer.dealer.id, customer.id, "in", "sms", "personal", False, None, None,
                "zh-hans", "", phone, "", text, 0, "reply", "", "", "received", "", at, 0,
                "sms_gateway", f"MO{mid:010d}", to_id, None, at, None, None, at,
            )
        )  # fmt: skip
        return mid

    def reply_task(self, customer: CustomerFacts, reply_id: int, day: int, text: str) -> None:
        ctx = self.ctx
        assignee = customer.consultant_id
        done = day < ctx.today_ord - 7
        self.tasks.append(
            (
                self.next_task, customer.dealer.id, customer.id, assignee, "reply",
                f"回复{customer.name}的短信", text, ctx.moment(day + 1, 600),
                "done" if done else "open",
                REPLY_OUTCOMES[self.randrange(len(REPLY_OUTCOMES))] if done else "",
                "messaging.message", str(reply_id), ctx.moment(day, 600),
                ctx.moment(day + 1, 120) if done else None, assignee if done else None,
            )
        )  # fmt: skip
        self.next_task += 1

    def withdraw_sms(self, index: int, day: int, minute: int, text: str) -> None:
        """The customer replied T: their SMS consent row is rewritten, with its source."""
        row = self.consent_rows[index]
        self.consent_rows[index] = (
            row[0], row[1], row[2], row[3], False, self.ctx.moment(day, minute),
            f"SMS reply {text}",
        )  # fmt: skip


def _events(
    h: _History,
    customer: CustomerFacts,
    vehicles: list,
    birthday: str | None,
    campaigns: list[tuple[int, int, str, int]],
) -> list[tuple]:
    """What the dealer sent this customer in the window, before consent and the cap:
    (day, minute, template key, extra variables, plate, source kind, author, campaign id)."""
    ctx = h.ctx
    rand = h.rand
    randrange = h.randrange
    zh = h.zh_date
    today = ctx.today_ord
    first = customer.first_contact
    # Nothing before the dealer knew the customer, nothing before the window.
    earliest = max(today - HISTORY_DAYS, first)
    dealer = customer.dealer
    sales = customer.consultant_id
    care = dealer.care[randrange(len(dealer.care))] if dealer.care else None
    advisors = dealer.advisors
    stage = customer.stage
    events: list[tuple] = []
    add = events.append

    if first >= earliest and sales is not None:
        if rand() < 0.1:
            day = first + randrange(1, 8)
            if day <= today:
                add((day, randrange(60, 720), "test_drive",
                     {"test_drive_time": f"{zh(day + 1)} 10:00"}, "", "sales", sales, None))  # fmt: skip
        if stage in ("prospect", "in_order") and rand() < 0.03:
            day = first + randrange(10, 40)
            if day <= today:
                add((day, randrange(60, 720), "new_arrival", {}, "", "manual", sales, None))
    for vehicle in vehicles:
        plate = vehicle.plate
        delivery = vehicle.delivery
        readings = vehicle.readings
        if delivery is not None and delivery + 6 * YEAR >= earliest:
            if earliest <= delivery <= today:
                r = rand()
                if r < 0.1:
                    day = delivery - randrange(5, 15)
                    if day >= earliest:
                        add((day, randrange(60, 720), "delivery_delay",
                             {"delivery_date": zh(delivery)}, plate, "sales", sales, None))  # fmt: skip
                if rand() < 0.15 and delivery + 3 <= today:
                    add((delivery + 3, randrange(60, 720), "follow_up_delivery", {}, plate,
                         "care_task", care, None))  # fmt: skip
                elif rand() < 0.06 and delivery + 5 <= today:
                    add((delivery + 5, randrange(60, 720), "survey",
                         {"link": f"{SURVEY_BASE}d{vehicle.id:x}"}, plate, "survey", None, None))  # fmt: skip
            # One draw a car: an insurance renewal reminder, or an annual inspection one (years
            # 2, 4, 6), at one of its anniversaries in the window.
            r = rand()
            if r < 0.12 and stage != "lost":
                years = (today + 30 - delivery) // YEAR - randrange(0, 3)
                anniversary = delivery + years * YEAR
                if years >= 1 and earliest <= anniversary - 30:
                    add((anniversary - 30, randrange(60, 720), "insurance",
                         {"due_date": zh(anniversary)}, plate, "care_task", care, None))  # fmt: skip
            elif r > 0.9:
                years = (today + 20 - delivery) // YEAR // 2 * 2
                anniversary = delivery + years * YEAR
                if 2 <= years <= 6 and earliest <= anniversary - 20:
                    add((anniversary - 20, randrange(60, 720), "inspection",
                         {"due_date": zh(anniversary)}, plate, "care_task", care, None))  # fmt: skip
            # New-energy plates (8 characters) carry the 5-year warranty, others 3 years.
            warranty = delivery + (5 if len(plate) == 8 else 3) * YEAR
            if earliest <= warranty - 30 <= today and rand() < 0.2:
                add((warranty - 30, randrange(60, 720), "warranty",
                     {"warranty_end": zh(warranty)}, plate, "care_task", care, None))  # fmt: skip
            if 500 <= today - delivery < 620 and today - 120 >= earliest and rand() < 0.8:
                # Cars of one production batch: the demo's recall.
                add((today - 120, randrange(60, 720), "recall",
                     {"recall_title": "后悬架下摆臂螺栓紧固"}, plate, "service",
                     advisors[0] if advisors else None, None))  # fmt: skip
        if readings[-1][0] >= earliest:
            for position in range(1, len(readings)):
                day, km, source = readings[position]
                # Reminders go a week before the visit, follow-ups two days after: all of it
                # inside the window.
                if day - 7 < earliest or day + 2 > today or source != "service":
                    continue
                r = rand()
                if r < 0.05:
                    key = (
                        "maintenance_first"
                        if position == 1 and delivery is not None
                        else ("maintenance_next")
                    )
                    add((day - 7, randrange(60, 720), key,
                         {"due_date": zh(day + 7), "mileage": str(km // 100 * 100)}, plate,
                         "care_task", care, None))  # fmt: skip
                elif r < 0.07 and advisors:
                    advisor = advisors[randrange(len(advisors))]
                    at = f"{zh(day)} {9 + randrange(0, 8):02d}:{randrange(0, 2) * 30:02d}"
                    add((day - 1, randrange(60, 720), "appointment", {"appointment_time": at},
                         plate, "service", advisor, None))  # fmt: skip
                elif r < 0.085 and advisors:
                    advisor = advisors[randrange(len(advisors))]
                    add((day + 2, randrange(60, 720), "follow_up_service", {"date": zh(day)},
                         plate, "care_task", advisor, None))  # fmt: skip
                elif r < 0.1:
                    add((day + 1, randrange(60, 720), "survey",
                         {"link": f"{SURVEY_BASE}s{day:x}{vehicle.id:x}"}, plate, "survey", None,
                         None))  # fmt: skip
        if stage == "at_risk" and rand() < 0.3:
            day = customer.last_active + randrange(180, 240)
            if earliest <= day <= today:
                add((day, randrange(60, 720), "maintenance_overdue", {}, plate, "care_task", care,
                     None))  # fmt: skip
    if birthday and stage in ("owner", "loyal", "at_risk", "in_order") and rand() < 0.12:
        # Greeted some years, not every year: personal, not a template machine.
        month, mday = int(birthday[5:7]), int(birthday[8:10])
        year = ctx.today.year - randrange(0, 3)
        if not (month == 2 and mday == 29):
            day = dt.date(year, month, mday).toordinal()
            if earliest <= day <= today:
                add((day, randrange(60, 180), "birthday", {}, "", "care_task", care, None))
    if stage == "loyal" and rand() < 0.25:
        for year in (ctx.today.year - 1, ctx.today.year):
            for day, key, name in festivals_of(year):
                if earliest <= day - 1 <= today and rand() < (0.3 if key != "holiday" else 0.06):
                    add((day - 1, randrange(60, 720), key, {"festival": name}, "", "care_task",
                         care, None))  # fmt: skip
    if stage == "lost" and rand() < 0.2:
        day = customer.last_active + randrange(150, 300)
        if earliest <= day <= today:
            add((day, randrange(60, 720), "win_back",
                 {"date": zh(customer.last_active + 330)}, "", "care_task", care, None))  # fmt: skip
    for campaign_id, day, key, creator in campaigns:
        if stage in _CAMPAIGN_SPECS[key].stages and first <= day:
            extra = {"event_name": _CAMPAIGN_SPECS[key].event_name, "date": zh(day + 30)}
            add((day, 90, key, extra, "", "campaign", creator, campaign_id))
    return events


def generate_messages(ctx: DemoContext, chunk: Chunk, rng: random.Random) -> list[Rows]:
    campaign_rows, campaigns_by_dealer = _campaigns(ctx)
    customer_rows, consent_rows = chunk.extras["customers"]
    h = _History(ctx, rng, consent_rows)
    rand = h.rand
    randrange = h.randrange
    # Granted consents now, and where each SMS consent row is (a T rewrites it).
    granted = {(row[2], row[3]) for row in consent_rows if row[4]}
    sms_consent_at = {row[2]: i for i, row in enumerate(consent_rows) if row[3] == "sms"}
    vehicles_of: dict[int, list] = {}
    for vehicle in chunk.vehicles:
        if vehicle.is_brand:
            vehicles_of.setdefault(vehicle.owner_id, []).append(vehicle)
    from .customers import CUSTOMER_FIELDS

    birthday_at = CUSTOMER_FIELDS.index("birthday")
    email_at = CUSTOMER_FIELDS.index("email")
    wechat_at = CUSTOMER_FIELDS.index("wechat_id")
    contact_at = CUSTOMER_FIELDS.index("contact_person")
    nothing: list = []
    for customer, row in zip(chunk.customers, customer_rows, strict=True):
        dealer = customer.dealer
        info: DealerMessaging | None = dealer.messaging
        if info is None:
            continue
        events = _events(
            h,
            customer,
            vehicles_of.get(customer.id, nothing),
            row[birthday_at],
            campaigns_by_dealer.get(dealer.id, nothing),
        )
        if not events:
            continue
        if len(events) > 1:
            events.sort(key=_when)
        cid = customer.id
        phone = customer.phones[0]
        addresses = {"sms": phone, "email": row[email_at], "wechat": row[wechat_at]}
        prefix = f"【{info.signature}】"
        templates = info.templates
        staff = info.staff_names
        english = bool(customer.latin_name) and customer.gender in ("male", "female")
        base = {
            "salutation": salutation(
                customer.kind, customer.name, customer.gender, row[contact_at],
                customer.latin_name, False,
            ),
            "customer_name": customer.name,
            "dealer_name": info.name,
            "dealer_phone": info.phone,
            "dealer_address": info.address,
            "consultant_name": staff.get(customer.consultant_id or 0, ""),
        }  # fmt: skip
        marketing_days: list[int] = []
        for event in events:
            day, minute, key, extra, plate, _source, author, campaign_id = event
            compiled = COMPILED[key]
            channels = _CHANNELS.get(key, _SMS_ONLY)
            if compiled.marketing:
                channel = None
                for c in channels:
                    if addresses[c] and (cid, c) in granted:
                        channel = c
                        break
            else:
                channel = next((c for c in channels if addresses[c]), "sms")
            if channel is not None and channel != compiled.channel:
                key = key + _VARIANT[channel]
                compiled = COMPILED[key]
            values = base
            if english and channel == "sms" and key in _ENGLISH:
                key = key + "_en"
                compiled = COMPILED[key]
                values = {**base, "salutation": salutation(
                    customer.kind, customer.name, customer.gender, "", customer.latin_name, True
                )}  # fmt: skip
                extra = {k: _en_of(v) for k, v in extra.items()}
            values = {**values, **extra, "plate": plate, "advisor_name": staff.get(author, "")}
            if compiled.needs_staff and not all(values[name] for name in compiled.names):
                continue  # the services would report the missing variable and send nothing
            template_id = templates[key]
            if compiled.marketing:
                if (
                    channel is None
                    or sum(1 for d in marketing_days if day - CAP_DAYS < d <= day) >= CAP_COUNT
                ):
                    # A campaign writes the rows it holds back; a care rule just skips them.
                    if campaign_id is not None:
                        if channel is None:
                            status, reason = "blocked", NO_CONSENT[compiled.channel]
                        else:
                            status, reason = "held", HELD
                        h.message(customer, prefix, template_id, compiled, values,
                                  addresses[compiled.channel], event, status, reason)  # fmt: skip
                    continue
                marketing_days.append(day)
            mid, status = h.message(
                customer, prefix, template_id, compiled, values, addresses[channel], event
            )
            if channel != "sms" or status not in _MARKETING_STATUSES_SENT:
                continue
            r = rand()
            if compiled.marketing and (r < 0.003 or not h.stopped_in_chunk):
                # Stop: T (TD, 退订) withdraws SMS consent at once; no marketing SMS follows.
                text = UNSUBSCRIBE_REPLIES[randrange(3)] if h.stopped_in_chunk else "T"
                h.stopped_in_chunk = True
                at = minute + 5 + randrange(0, 60)
                h.reply(customer, phone, mid, day, at, text)
                granted.discard((cid, "sms"))
                index = sms_consent_at.get(cid)
                if index is not None:
                    h.withdraw_sms(index, day, at, text)
            elif r < 0.012:
                text = REPLIES[randrange(len(REPLIES))]
                reply_id = h.reply(customer, phone, mid, day, minute + 5 + randrange(0, 60), text)
                h.reply_task(customer, reply_id, day, text)
    ctx.ids.finish(Message, h.next_message)
    ctx.ids.finish(Task, h.next_task)
    return [
        Rows(Campaign, CAMPAIGN_FIELDS, campaign_rows),
        Rows(Message, MESSAGE_FIELDS, h.messages),
        Rows(Task, TASK_FIELDS, h.tasks),
    ]


def _when(event: tuple) -> tuple[int, int]:
    return event[0], event[1]


def _en_of(value: str) -> str:
    """A Chinese date (2026年6月30日 10:00) as the English templates write it."""
    match = re.fullmatch(r"(\d{4})年(\d{1,2})月(\d{1,2})日(.*)", value)
    if not match:
        return value
    year, month, day, rest = match.groups()
    return f"{int(day)} {_MONTHS[int(month) - 1]} {year}{rest.replace(' ', ', ', 1)}"


MESSAGES = ChunkGenerator(
    "messages",
    "history",
    generate_messages,
    (Campaign, Message, Task),
    finish=finish_campaigns,
    finish_after=("service",),  # counts messages, and the care run writes some
)

__all__ = ["MESSAGES", "TEMPLATES", "messaging_setup", "short_name"]
