"""After-sales history of the demo network: every owned car's visits to its dealer since delivery,
the mileage those visits read, complaints, the recall in progress, roadside rescues, and the
appointments of the next two weeks.

Visits follow the car's maintenance schedule (the catalogue model's `MaintenanceSchedule`: first
at ~5,000 km or 6 months, then every ~10,000 km or 12 months, whichever comes first) at the car's
own daily distance (15–120 km a day), with some lateness; between them repairs, warranty jobs,
accident repairs (paid by the insurer), inspections and accessory fittings. Each visit is one
closed repair order (DMS numbering, an advisor of the dealer, 1–6 labour and parts lines priced as
a 4S workshop prices them) and one mileage reading of that day, so the readings are the visits'
readings: this generator writes them, and the vehicles generator's MILEAGE writes only the cars
it did not touch (other makes). A handful of readings are mistyped as a DMS clerk mistypes
(a digit dropped or doubled): they stay unflagged here, and the forecast's `readings_flag` pass
in the finishing step flags them, as it would after an import.

Drift that is caused. Who lapses, and when, is the customers generator's plan (lifecycle stages
at_risk / lost and their last activity). Each owner's propensity to lapse is a causal model:
odds = BASE_ODDS × the odds ratio of each cause present — a complaint after a visit, a repeat
repair of the same fault within 30 days, living in another city than the dealer, an earlier
missed maintenance. Given each owner's outcome, their causes are drawn from their distribution
given that outcome (Bayes: P(causes | lapsed) ∝ P(causes) · P(lapsed | causes)) and placed in
their history *before* the lapse (the complaint on the last visit, the repeat repair just before
it); owners who lapse stop visiting (their last visit 12–30 months ago). The data is then the data
of the forward model; nothing but the events themselves is written. Addresses in another city are
written into the customers generator's rows before the chunk is written (as the messaging
generator rewrites consent rows).

The organisation step (`service_setup`) makes the few ORM rows: each dealer's service policy,
service bays and loan cars (bookings.Resource), maintenance schedules per catalogue model (and the
network default), seasonal checks per region, two dealers' care-rule settings. The recall campaign
is written with the first chunk (it is launched a few weeks before `today`, which the organisation
step does not know).
"""

from __future__ import annotations

import datetime
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import connection, models

from dealercrm.bookings.models import Booking, Resource, ResourceKind
from dealercrm.care.models import CareRuleSetting, SeasonalCheck
from dealercrm.core.models import Region
from dealercrm.demo import reference as ref
from dealercrm.feedback.models import Complaint
from dealercrm.service.models import (
    Appointment,
    MaintenanceSchedule,
    RecallCampaign,
    RecallVehicle,
    RepairOrder,
    RepairOrderLine,
    RescueCall,
    ServicePolicy,
)
from dealercrm.vehicles.models import MileageReading

from .base import (
    Chunk,
    ChunkGenerator,
    CustomerFacts,
    DealerFacts,
    DemoContext,
    ModelFacts,
    Rows,
    VehicleFacts,
    int_draw,
    pick_from,
)

YEAR = 365
MONTH = 30.44
DAY = 1440
# The workshop: 08:30–17:30 in China is 00:30–09:30 UTC; one-hour slots.
SLOT_FIRST_UTC, SLOT_MINUTES, SLOTS = 30, 60, 9
NOW_MINUTE = 120  # the runner's "now": today 02:00 UTC (10:00 in China)
UPCOMING_DAYS = 14
TYPO_SHARE = 0.003  # of service readings
# Visits after a typo that are typed right: the flag pass reads the two readings after one.
TYPO_GAP = 2

# --- the causal model of lapsing -----------------------------------------------------------------
# Causes: share of owners with each, and the odds ratio it puts on lapsing.
CAUSES = ("complaint", "repeat_repair", "other_city", "missed_maintenance")
CAUSE_PRIOR = (0.10, 0.08, 0.12, 0.18)
CAUSE_ODDS_RATIO = (8.0, 5.0, 3.0, 3.0)
BASE_ODDS = 0.2  # an owner with none of the causes


def _cause_weights() -> tuple[list[float], list[float]]:
    """Cumulative weights of the 16 combinations of causes, for owners who lapse and who stay."""
    lapsed: list[float] = []
    stayed: list[float] = []
    total_l = total_s = 0.0
    for combo in range(1 << len(CAUSES)):
        prior = 1.0
        odds = BASE_ODDS
        for bit, (p, ratio) in enumerate(zip(CAUSE_PRIOR, CAUSE_ODDS_RATIO, strict=True)):
            if combo >> bit & 1:
                prior *= p
                odds *= ratio
            else:
                prior *= 1 - p
        p_lapse = odds / (1 + odds)
        total_l += prior * p_lapse
        total_s += prior * (1 - p_lapse)
        lapsed.append(total_l)
        stayed.append(total_s)
    return lapsed, stayed


_LAPSED_WEIGHTS, _STAYED_WEIGHTS = _cause_weights()

# Cities near each dealer's, where some owners live (the "distance" cause).
NEARBY: dict[str, tuple[tuple[str, str, str], ...]] = {
    "上海市": (("江苏省", "苏州市", "昆山市"), ("江苏省", "苏州市", "太仓市"),
              ("浙江省", "嘉兴市", "嘉善县")),
    "杭州市": (("浙江省", "绍兴市", "柯桥区"), ("浙江省", "湖州市", "德清县"),
              ("浙江省", "嘉兴市", "海宁市")),
    "苏州市": (("江苏省", "无锡市", "新吴区"), ("江苏省", "常州市", "武进区"),
              ("上海市", "上海市", "嘉定区")),
    "南京市": (("安徽省", "马鞍山市", "雨山区"), ("江苏省", "镇江市", "句容市"),
              ("安徽省", "滁州市", "南谯区")),
    "北京市": (("河北省", "廊坊市", "三河市"), ("河北省", "保定市", "涿州市"),
              ("天津市", "天津市", "武清区")),
    "天津市": (("河北省", "廊坊市", "广阳区"), ("河北省", "唐山市", "路北区"),
              ("河北省", "沧州市", "黄骅市")),
    "青岛市": (("山东省", "潍坊市", "奎文区"), ("山东省", "烟台市", "莱山区"),
              ("山东省", "日照市", "东港区")),
    "广州市": (("广东省", "佛山市", "南海区"), ("广东省", "东莞市", "南城街道"),
              ("广东省", "清远市", "清城区")),
    "深圳市": (("广东省", "东莞市", "塘厦镇"), ("广东省", "惠州市", "惠阳区"),
              ("广东省", "中山市", "石岐区")),
    "厦门市": (("福建省", "泉州市", "晋江市"), ("福建省", "漳州市", "龙海区"),
              ("福建省", "泉州市", "南安市")),
}  # fmt: skip

# --- what the workshop does ----------------------------------------------------------------------
# A line: (line type, code, description, lowest, highest price in yuan).
Line = tuple[str, str, str, int, int]

MAINTENANCE_LABOUR: Line = ("labour", "MT01", "常规保养工时", 260, 380)
FIRST_LABOUR: Line = ("labour", "MT00", "首次保养工时", 300, 300)
EV_LABOUR: Line = ("labour", "MT02", "纯电车型常规保养工时", 150, 260)
OIL_PARTS: tuple[tuple[Line, float], ...] = (
    (("part", "P1001", "全合成机油 0W-20 4L", 380, 520), 1.0),
    (("part", "P1002", "机油滤清器", 58, 96), 1.0),
    (("part", "P1003", "空气滤清器", 88, 160), 0.5),
    (("part", "P1004", "空调滤清器", 98, 180), 0.5),
    (("part", "P1005", "制动液 DOT4 1L", 120, 180), 0.3),
    (("part", "P1006", "火花塞（4支）", 280, 420), 0.15),
)
EV_PARTS: tuple[tuple[Line, float], ...] = (
    (("part", "P1004", "空调滤清器", 98, 180), 0.8),
    (("labour", "MT03", "动力电池包健康检测", 0, 200), 1.0),
    (("part", "P1007", "电机冷却液", 260, 380), 0.2),
    (("part", "P1008", "玻璃清洗液", 15, 30), 0.6),
)
# (customer's description, findings, lines)
Fault = tuple[str, str, tuple[Line, ...]]
REPAIRS: tuple[Fault, ...] = (
    ("刹车时有异响", "前刹车片磨损到极限", (
        ("labour", "RP101", "更换前刹车片工时", 180, 260),
        ("part", "P2001", "前刹车片（套）", 560, 880))),
    ("车辆打不着火，仪表提示蓄电池电量低", "蓄电池老化，容量不足", (
        ("labour", "RP102", "更换蓄电池工时", 60, 100),
        ("part", "P2002", "蓄电池 12V 60Ah", 680, 920))),
    ("空调不凉", "空调冷媒不足，管路接头轻微渗漏", (
        ("labour", "RP103", "空调系统检漏及加注冷媒", 220, 320),
        ("part", "P2003", "R134a 冷媒", 160, 260),
        ("part", "P2004", "空调管路O型圈", 30, 60))),
    ("左后轮胎压报警", "左后轮胎扎钉", (("labour", "RP104", "补胎及动平衡", 60, 120),)),
    ("雨刮刮不干净，有异响", "雨刮片老化", (
        ("part", "P2005", "前雨刮片（对）", 120, 220),
        ("labour", "RP105", "更换雨刮片", 0, 30))),
    ("过减速带底盘异响", "前稳定杆连杆球头松旷", (
        ("labour", "RP106", "更换稳定杆连杆工时", 200, 300),
        ("part", "P2006", "前稳定杆连杆", 240, 380))),
    ("近光灯不亮", "左前近光灯泡烧坏", (
        ("part", "P2007", "近光灯泡 H7", 60, 140),
        ("labour", "RP107", "更换灯泡工时", 40, 80))),
    ("方向盘跑偏", "四轮定位数据偏差", (("labour", "RP108", "四轮定位", 200, 300),)),
    ("轮胎磨损严重", "前轮花纹深度不足", (
        ("part", "P2008", "轮胎 225/60R18（2条）", 1400, 2200),
        ("labour", "RP109", "拆装轮胎及动平衡", 100, 160))),
)  # fmt: skip
WARRANTY_JOBS: tuple[Fault, ...] = (
    ("中控屏偶尔黑屏", "多媒体主机软件故障", (
        ("labour", "WR101", "多媒体主机软件升级", 150, 250),)),
    ("中控屏黑屏无法启动", "多媒体主机损坏", (
        ("part", "P3001", "多媒体主机总成", 3200, 4800),
        ("labour", "WR102", "更换多媒体主机工时", 240, 360))),
    ("天窗下雨漏水", "天窗排水管堵塞", (("labour", "WR103", "天窗排水管疏通", 120, 200),)),
    ("起步时变速箱顿挫", "变速箱控制程序需升级", (
        ("labour", "WR104", "变速箱控制单元程序升级", 200, 300),)),
    ("左前车窗升降卡顿", "玻璃升降器电机故障", (
        ("part", "P3002", "左前玻璃升降器总成", 680, 980),
        ("labour", "WR105", "更换升降器工时", 180, 260))),
    ("发动机故障灯亮", "前氧传感器信号异常", (
        ("part", "P3003", "前氧传感器", 520, 760),
        ("labour", "WR106", "更换氧传感器工时", 150, 220))),
    ("倒车影像不显示", "后视摄像头线束接触不良", (("labour", "WR107", "线束检修", 180, 260),)),
)  # fmt: skip
EV_WARRANTY_JOBS: tuple[Fault, ...] = (
    ("充电口盖无法打开", "充电口盖执行器故障", (
        ("part", "P3004", "充电口盖执行器", 260, 420),
        ("labour", "WR108", "更换执行器工时", 120, 180))),
    ("慢充充不进电", "车载充电机通信故障", (
        ("labour", "WR109", "车载充电机程序刷新", 200, 300),)),
)  # fmt: skip
ACCIDENTS: tuple[Fault, ...] = (
    ("前保险杠刮擦", "前保险杠漆面损伤", (
        ("labour", "AC101", "前保险杠钣喷工时", 600, 900),
        ("part", "P4001", "油漆辅料", 300, 500))),
    ("倒车撞到柱子，后保险杠开裂", "后保险杠破裂，需更换", (
        ("part", "P4002", "后保险杠总成", 1800, 2800),
        ("labour", "AC102", "拆装及喷漆工时", 900, 1300),
        ("part", "P4001", "油漆辅料", 300, 500))),
    ("右后视镜被剐碎", "右后视镜总成损坏", (
        ("part", "P4003", "右后视镜总成", 900, 1500),
        ("labour", "AC103", "更换后视镜工时", 120, 200))),
    ("追尾事故，车头受损", "前保险杠、左前大灯、散热器框架损坏", (
        ("part", "P4004", "前保险杠总成", 2200, 3200),
        ("part", "P4005", "左前大灯总成", 2800, 4500),
        ("part", "P4006", "散热器框架", 900, 1400),
        ("labour", "AC104", "钣金工时", 1200, 2000),
        ("labour", "AC105", "喷漆工时", 1000, 1600))),
    ("左前门凹陷", "左前门钣金变形", (
        ("labour", "AC106", "左前门钣金修复", 500, 800),
        ("labour", "AC107", "左前门喷漆", 600, 900))),
)  # fmt: skip
INSPECTIONS: tuple[Fault, ...] = (
    ("年检前检测", "灯光、制动、尾气均合格", (
        ("labour", "IN101", "年检前安全检测", 0, 150),
        ("other", "IN102", "代办年检服务费", 200, 300))),
    ("长途出行前检查", "胎压、油液、灯光正常", (("labour", "IN103", "全车免费安全检查", 0, 0),)),
    ("雨季前免费检测", "雨刮、灯光、排水孔正常", (("labour", "IN104", "雨季免费检测", 0, 0),)),
)  # fmt: skip
ACCESSORIES: tuple[Fault, ...] = (
    ("加装行车记录仪", "", (
        ("part", "P5001", "原厂行车记录仪", 900, 1500),
        ("labour", "AS101", "安装工时", 100, 200))),
    ("贴隐形车衣", "", (("part", "P5002", "TPU隐形车衣（全车）", 5800, 8800),)),
    ("贴太阳膜", "", (("part", "P5003", "太阳膜（全车）", 2200, 3800),)),
    ("全车脚垫、后备箱垫", "", (
        ("part", "P5004", "全包围脚垫", 600, 900),
        ("part", "P5005", "后备箱垫", 300, 450))),
    ("加装车顶行李架", "", (
        ("part", "P5006", "车顶行李架", 1800, 2600),
        ("labour", "AS102", "安装工时", 150, 250))),
)  # fmt: skip
CHARGER: Fault = ("安装家用充电桩", "", (
    ("part", "P5007", "原厂7kW充电桩", 2800, 3600),
    ("labour", "AS103", "充电桩上门安装", 400, 800)))  # fmt: skip

RECALL_CODE = "RC-{year}-01"
RECALL_TITLE = "电子驻车制动控制单元软件升级"
RECALL_DESCRIPTION = (
    "部分车辆电子驻车制动控制单元软件存在缺陷，坡道长时间驻车时可能出现驻车力下降，存在溜车风险。"
)
RECALL_REMEDY = "免费升级电子驻车制动控制单元软件并检测驻车制动力，约需1小时。"
RECALL_SERIES = "极光X5"
RECALL_LINES: tuple[Line, ...] = (
    ("labour", "RC101", "召回：电子驻车控制单元软件升级", 200, 200),
    ("labour", "RC102", "驻车制动力检测", 80, 80),
)

COMPLAINTS: dict[str, tuple[str, ...]] = {
    "service_quality": (
        "保养后没几天同样的问题又出现了，觉得上次根本没修好。",
        "取车时发现座椅上有油污，车门边多了一道划痕。",
        "说好的免费检测项目，结算时却收了费。",
    ),
    "waiting_time": (
        "预约了时间到店，还是等了两个多小时才开始保养。",
        "说好下午三点交车，拖到六点多才取到车，也没人提前说。",
        "配件要等一周，期间没有人主动告知进度。",
    ),
    "staff_attitude": (
        "服务顾问态度冷淡，问几个问题就不耐烦。",
        "接车时没有环车检查，出了问题互相推诿。",
        "回访电话里说话生硬，让人很不舒服。",
    ),
}
REPEAT_COMPLAINT = "同一个问题返修了两次，耽误了好几天用车。"
COMPLAINT_CHANNELS = ("phone", "phone", "survey", "walk_in", "oem_hotline", "wechat")

RESCUE_PROBLEMS = (
    ("battery", "车辆无法启动，仪表无显示", 30),
    ("tyre", "高速上爆胎，无备胎工具", 25),
    ("breakdown", "行驶中故障灯亮，车辆失去动力", 20),
    ("accident", "与前车追尾，车辆无法行驶", 10),
    ("lockout", "钥匙锁在车内", 8),
    ("fuel", "电量/油量耗尽，停在路边", 7),
)
ROADS = ("高速", "环路", "大道", "路", "停车场")


@dataclass
class ServiceNetwork:
    """The brand-wide facts of the service demo: schedules per model, the recall's models."""

    schedules: dict[int, tuple[int, int, int, int]]  # model id → first km/months, every km/months
    recall_models: frozenset[int]
    recall_model_ids: tuple[int, ...]
    brand_id: int
    oem_admin: int | None


@dataclass
class ServiceFacts:
    """What the chunk's service history leaves for the feedback generator: the repair order rows
    (RO_FIELDS), the complaint rows (COMPLAINT_FIELDS) and per complaint its facts."""

    ros: list[tuple]
    complaints: list[tuple]
    complaint_facts: list[tuple[int, int | None, int]]


@dataclass
class DealerService:
    """A dealer's workshop for the generator: bays, loan cars, daily capacity."""

    bays: tuple[int, ...]
    loan_cars: tuple[int, ...]
    capacity: int
    network: ServiceNetwork
    advisor_names: dict[int, str] = field(default_factory=dict)


# --- the organisation step -----------------------------------------------------------------------

# (first km, first months, every km, every months) by powertrain.
SCHEDULES = {
    "ice": (5000, 6, 10000, 12),
    "hev": (5000, 6, 10000, 12),
    "phev": (5000, 6, 10000, 12),
    "bev": (10000, 12, 20000, 12),
}
SCHEDULE_BY_SERIES = {"极光P3": (3000, 3, 7500, 6)}  # the diesel pickup works harder


def service_setup(
    dealer_facts: list[DealerFacts],
    brand_id: int,
    brand_models: list[ModelFacts],
    regions: dict[str, Region],
    network_users: dict[str, int],
) -> None:
    """Policies, bays and loan cars per dealer; schedules; seasonal checks; care settings; and
    on each DealerFacts the `service` facts (a DealerService) the chunk generator needs."""
    schedules: dict[int, tuple[int, int, int, int]] = {}
    rows = []
    for model in brand_models:
        values = SCHEDULE_BY_SERIES.get(model.series) or SCHEDULES[model.powertrain]
        schedules[model.id] = values
        rows.append(
            MaintenanceSchedule(
                car_model_id=model.id,
                first_km=values[0],
                first_months=values[1],
                interval_km=values[2],
                interval_months=values[3],
            )
        )
    existing = set(
        MaintenanceSchedule.objects.filter(car_model_id__in=list(schedules)).values_list(
            "car_model_id", flat=True
        )
    )
    MaintenanceSchedule.objects.bulk_create([r for r in rows if r.car_model_id not in existing])
    if not MaintenanceSchedule.objects.filter(car_model=None).exists():
        MaintenanceSchedule.objects.create(car_model=None)  # the network default: 5,000 / 6 …

    # Seasonal checks: the brand default is the winter check; the north checks earlier, the
    # south has no winter but a rainy season (April), the east its plum rains (梅雨, June).
    checks = [
        SeasonalCheck(brand_id=brand_id, region=None, code="winter", title="冬季检查",
                      season_starts_month=12, season_starts_day=1, remind_days_before=14),
        SeasonalCheck(brand_id=brand_id, region=regions["north"], code="winter",
                      title="冬季检查", season_starts_month=11, season_starts_day=1,
                      remind_days_before=21),
        SeasonalCheck(brand_id=brand_id, region=regions["south"], code="winter",
                      title="冬季检查", season_starts_month=12, season_starts_day=1,
                      is_active=False),
        SeasonalCheck(brand_id=brand_id, region=regions["south"], code="rainy_season",
                      title="雨季前检查", season_starts_month=4, season_starts_day=15,
                      remind_days_before=14),
        SeasonalCheck(brand_id=brand_id, region=regions["east"], code="rainy_season",
                      title="雨季前检查", season_starts_month=6, season_starts_day=10,
                      remind_days_before=14),
    ]  # fmt: skip
    SeasonalCheck.objects.bulk_create(checks)

    recall_models = [
        m for m in brand_models if m.series == RECALL_SERIES and m.model_year in _recall_years()
    ]
    network = ServiceNetwork(
        schedules=schedules,
        recall_models=frozenset(m.id for m in recall_models),
        recall_model_ids=tuple(m.id for m in recall_models),
        brand_id=brand_id,
        oem_admin=network_users.get("oem_admin"),
    )
    latest = max(m.model_year for m in brand_models)
    loan_models = [m for m in brand_models if m.model_year == latest and m.series == "极光A3"]
    policies = []
    resources = []
    for index, facts in enumerate(dealer_facts):
        # Bigger dealers (by their share of the customers) have more bays.
        bays = max(6, min(12, facts.weight))
        capacity = 40 if bays >= 9 else 30
        policies.append(ServicePolicy(dealer_id=facts.id, daily_capacity=capacity))
        for number in range(1, bays + 1):
            resources.append(
                Resource(
                    dealer_id=facts.id,
                    kind=ResourceKind.SERVICE_BAY,
                    name=f"{number:02d}号工位" + ("（快修）" if number <= 2 else ""),
                    opens_at="08:30",
                    closes_at="17:30",
                )
            )
        for number in range(1, 3 + (index % 2)):
            resources.append(
                Resource(
                    dealer_id=facts.id,
                    kind=ResourceKind.LOAN_CAR,
                    name=f"代步车{number} 极光A3",
                    car_model_id=loan_models[0].id if loan_models else None,
                    plate=f"{facts.plate_prefix}D{index:02d}{number}",
                    opens_at="08:30",
                    closes_at="17:30",
                )
            )
    ServicePolicy.objects.unscoped().bulk_create(policies)
    Resource.objects.unscoped().bulk_create(resources)
    by_dealer: dict[tuple[int, str], list[int]] = {}
    for rid, dealer_id, kind in (
        Resource.objects.unscoped()
        .filter(
            dealer_id__in=[f.id for f in dealer_facts],
            kind__in=[ResourceKind.SERVICE_BAY, ResourceKind.LOAN_CAR],
        )
        .order_by("id")
        .values_list("id", "dealer_id", "kind")
    ):
        by_dealer.setdefault((dealer_id, kind), []).append(rid)
    for facts, policy in zip(dealer_facts, policies, strict=True):
        names = facts.messaging.staff_names if facts.messaging is not None else {}
        facts.service = DealerService(  # type: ignore[attr-defined]
            bays=tuple(by_dealer.get((facts.id, ResourceKind.SERVICE_BAY), ())),
            loan_cars=tuple(by_dealer.get((facts.id, ResourceKind.LOAN_CAR), ())),
            capacity=policy.daily_capacity,
            network=network,
            advisor_names={a: names.get(a, "") for a in facts.advisors},
        )
    _care_settings(dealer_facts)
    # The brand's standard questionnaires, before any chunk: the feedback generator answers them.
    from .feedback import feedback_setup

    feedback_setup(dealer_facts, brand_id)


def _recall_years() -> tuple[int, ...]:
    return ref.BRAND_MODEL_YEARS[-4:-2]


def _care_settings(dealer_facts: list[DealerFacts]) -> None:
    """Two dealers that run some care rules their own way (the others keep the defaults)."""
    from dealercrm.care.models import CareRuleCode

    by_code = {f.code: f for f in dealer_facts}
    wanted: list[tuple[str, str, bool, dict]] = [
        # Shanghai Pudong calls about insurance earlier, and wins back overdue cars sooner.
        ("SH01", CareRuleCode.INSURANCE_RENEWAL, True, {"offsets": [90, 60, 30, 7]}),
        ("SH01", CareRuleCode.MAINTENANCE_OVERDUE, True, {"days_after": 14}),
        # Guangzhou greets at the two great festivals only, and calls after service on day 2;
        # Beijing Haidian does not greet birthdays.
        ("GZ01", CareRuleCode.FESTIVAL, True, {"festivals": ["spring_festival", "mid_autumn"]}),
        ("BJ02", CareRuleCode.BIRTHDAY, False, {}),
        ("GZ01", CareRuleCode.SERVICE_FOLLOW_UP, True, {"days": 2}),
    ]
    CareRuleSetting.objects.unscoped().bulk_create(
        [
            CareRuleSetting(dealer_id=by_code[code].id, rule=rule, enabled=enabled, config=config)
            for code, rule, enabled, config in wanted
            if code in by_code
        ]
    )


# --- generation ----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Visit:
    """One repair order before its rows are written."""

    day: int
    kind: str
    fault: Fault | None = None
    first: bool = False
    repeat_of: _Visit | None = None
    open_today: bool = False
    rescue: tuple | None = None  # (problem, text) when towed in
    recall: bool = False
    complaint: bool = False
    appointment: int | None = None  # an arrived appointment's id
    km: int = 0
    ro_id: int = 0


def _schedule_for(network: ServiceNetwork, model_id: int) -> tuple[int, int, int, int]:
    return network.schedules.get(model_id, (5000, 6, 10000, 12))


class _Writer:
    """The rows of one chunk, with their next ids."""

    def __init__(self, ctx: DemoContext) -> None:
        self.ctx = ctx
        self.ros: list[tuple] = []
        self.lines: list[tuple] = []
        self.readings: list[tuple] = []
        self.complaints: list[tuple] = []
        # Per complaint row, for the feedback generator: (received minute, the repair order's
        # advisor, the car's catalogue model).
        self.complaint_facts: list[tuple[int, int | None, int]] = []
        self.recalls: list[tuple] = []
        self.rescues: list[tuple] = []
        self.appointments: list[tuple] = []
        self.bookings: list[tuple] = []
        self.next = {
            m: ctx.ids.start(m)
            for m in (
                RepairOrder, RepairOrderLine, MileageReading, Complaint, RecallVehicle,
                RescueCall, Appointment, Booking,
            )
        }  # fmt: skip

    def take(self, model: type) -> int:
        value = self.next[model]
        self.next[model] = value + 1
        return value

    def finish(self) -> None:
        for model, value in self.next.items():
            self.ctx.ids.finish(model, value)


def generate_service(ctx: DemoContext, chunk: Chunk, rng: random.Random) -> list[Rows]:  # noqa: C901, PLR0912, PLR0915
    state = ctx.state.setdefault(
        "service",
        {"numbers": {}, "slots": {}, "per_day": {}, "open_today": {}},
    )
    today = ctx.today_ord
    rand = rng.random
    randrange = int_draw(rng)
    choice = pick_from(rng)
    w = _Writer(ctx)
    network: ServiceNetwork | None = None
    model_by_id = {m.id: m for m in ctx.org.brand_models}
    out: list[Rows] = []

    # The recall campaign, launched a few weeks ago, comes with the first chunk.
    launch = today - 24
    campaign_id = state.get("campaign_id")
    if chunk.index == 0 and ctx.org.dealers:
        network = ctx.org.dealers[0].service.network  # type: ignore[attr-defined]
        campaign_id = ctx.ids.start(RecallCampaign)
        ctx.ids.finish(RecallCampaign, campaign_id + 1)
        state["campaign_id"] = campaign_id
        years = _recall_years()
        out.append(
            Rows(
                RecallCampaign,
                CAMPAIGN_FIELDS,
                [
                    (
                        campaign_id, network.brand_id, RECALL_CODE.format(year=ctx.today.year),
                        RECALL_TITLE, RECALL_DESCRIPTION, RECALL_REMEDY, years[0], years[-1],
                        "", "", "active", ctx.day(launch), ctx.moment(launch, 90),
                        network.oem_admin, ctx.moment(launch - 5, 90),
                    )
                ],
            )
        )  # fmt: skip

    from .customers import CUSTOMER_FIELDS
    from .vehicles import VEHICLE_FIELDS

    customer_rows = chunk.extras["customers"][0]
    vehicle_rows: list[tuple] = chunk.extras["vehicle_rows"]
    vehicle_row_at = {row[0]: i for i, row in enumerate(vehicle_rows)}
    mileage_at = VEHICLE_FIELDS.index("current_mileage_km")
    warranty_at = VEHICLE_FIELDS.index("warranty_end")
    province_at = CUSTOMER_FIELDS.index("province")
    vehicles_of: dict[int, list[VehicleFacts]] = {}
    for vehicle in chunk.vehicles:
        if vehicle.is_brand:
            vehicles_of.setdefault(vehicle.owner_id, []).append(vehicle)
    written: set[int] = chunk.extras.setdefault("readings_written", set())

    for position, customer in enumerate(chunk.customers):
        own = vehicles_of.get(customer.id)
        if not own:
            continue
        dealer = customer.dealer
        service: DealerService = dealer.service  # type: ignore[attr-defined]
        network = service.network
        lapsed = customer.stage in ("at_risk", "lost")
        weights = _LAPSED_WEIGHTS if lapsed else _STAYED_WEIGHTS
        combo = _draw_combo(weights, rand())
        complaint, repeat, other_city, missed = (bool(combo >> bit & 1) for bit in range(4))
        if other_city and dealer.city in NEARBY:
            province, city, district = choice(NEARBY[dealer.city])
            row = list(customer_rows[position])
            row[province_at : province_at + 3] = [province, city, district]
            customer_rows[position] = tuple(row)
        # Lapsed owners' last visit: 12–30 months ago, not after their last contact.
        end = today - 1
        if lapsed:
            end = min(customer.last_active, today - YEAR - 5 - randrange(60))
        for index, vehicle in enumerate(own):
            model = model_by_id.get(vehicle.model_id)
            if model is None or not vehicle.readings:
                continue
            written.add(vehicle.id)
            # The causes are the owner's; their events happen on the first car.
            causes = index == 0
            visits, per_day, start, start_km, next_due = _plan_visits(
                rng, network, model, vehicle, end, missed and causes, today
            )
            warranty_end = _warranty_end(vehicle_rows[vehicle_row_at[vehicle.id]][warranty_at])
            _add_other_visits(rng, visits, model, start, end, warranty_end)
            if repeat and causes:
                _add_repeat(rng, visits, start, end, lapsed)
            recall_status = None
            if (
                campaign_id is not None
                and vehicle.model_id in network.recall_models
                and vehicle.readings[0][0] < launch
            ):
                recall_status = _recall_status(rand, lapsed)
                if recall_status == "completed":
                    visits.append(_Visit(launch + 1 + randrange(max(1, today - launch - 2)),
                                         "recall", recall=True))  # fmt: skip
            rescue = None
            if rand() < 0.03 and start < today - 200:
                problem, text, _w = RESCUE_PROBLEMS[_weighted(rand(), RESCUE_PROBLEMS)]
                rescue_day = today - 1 - randrange(180)
                towed = not lapsed and problem in ("breakdown", "accident") or rand() < 0.15
                if lapsed:
                    towed = False
                rescue = (rescue_day, problem, text, towed)
                if towed:
                    kind = "accident" if problem == "accident" else "repair"
                    fault = choice(ACCIDENTS if kind == "accident" else REPAIRS)
                    visits.append(_Visit(rescue_day, kind, fault=fault, rescue=(problem, text)))
            # Today: an owner due about now came in this morning (one or two per dealer).
            arrived_today = (
                not lapsed
                and next_due is not None
                and today - 20 <= next_due <= today + UPCOMING_DAYS
                and state["open_today"].get(dealer.id, 0) < 2
                and rand() < 0.5
            )
            if arrived_today:
                state["open_today"][dealer.id] = state["open_today"].get(dealer.id, 0) + 1
                visits.append(_Visit(today, "maintenance", open_today=True))
            visits = [v for v in visits if start < v.day <= (today if v.open_today else end)]
            last_day = max((v.day for v in visits), default=start)
            if lapsed and last_day < end - 120 and end - start > 120:
                # The visit they did not come back after.
                fault = REPAIRS[randrange(len(REPAIRS))]
                visits.append(_Visit(end - randrange(30), "repair", fault=fault))
            visits.sort(key=lambda v: (v.day, v.kind))
            # Mileage of each visit: the odometer at the car's pace, never going back.
            km = start_km
            last_day = start
            readings: list[tuple[int, int, str]] = [
                vehicle.readings[0][:2]
                + ("delivery" if vehicle.delivery is not None else "customer",)
            ]
            for visit in visits:
                km = max(km + 1, km + int(per_day * (visit.day - last_day) * (0.85 + rand() * 0.3)))
                last_day = visit.day
                visit.km = km
            for visit in visits:
                visit.ro_id = w.take(RepairOrder)
            if complaint and causes and visits:
                target = _complaint_target(rng, visits, lapsed)
                if target is not None:
                    target.complaint = True
            # Rows of the vehicle: readings, repair orders, lines, complaints.
            reading_ids: list[int] = []
            first_reading = w.take(MileageReading)
            w.readings.append(
                (first_reading, dealer.id, vehicle.id, readings[0][1], ctx.day(readings[0][0]),
                 readings[0][2])
            )  # fmt: skip
            last_typo = -TYPO_GAP
            for number, visit in enumerate(visits):
                typed = visit.km
                # Two true readings after it, and one before: a typo the flag pass can judge.
                if (
                    0 < number < len(visits) - 2
                    and not visit.open_today
                    and visit.km > 2000
                    and rand() < TYPO_SHARE
                ):
                    digit_dropped = rand() < 0.6  # drawn either way: the rest stays as it was
                    # Never within TYPO_GAP visits of the last one: the pass judges a reading by
                    # its neighbours, and a typo beside a typo makes true readings look wrong.
                    if number - last_typo > TYPO_GAP:
                        typed = visit.km // 10 if digit_dropped else visit.km * 10
                        last_typo = number
                rid = w.take(MileageReading)
                reading_ids.append(rid)
                w.readings.append(
                    (rid, dealer.id, vehicle.id, typed, ctx.day(visit.day), "service")
                )
                readings.append((visit.day, typed, "service"))
                _write_visit(ctx, w, rng, state, dealer, service, customer, vehicle, model, visit,
                             typed, rid, campaign_id)  # fmt: skip
            vehicle.readings = readings
            row = list(vehicle_rows[vehicle_row_at[vehicle.id]])
            row[mileage_at] = visits[-1].km if visits else readings[0][1]
            vehicle_rows[vehicle_row_at[vehicle.id]] = tuple(row)
            if recall_status is not None:
                recall_visit = next((v for v in visits if v.recall), None)
                _write_recall(ctx, w, rng, dealer, customer, vehicle, campaign_id, launch,
                              recall_status, recall_visit)  # fmt: skip
                if recall_status == "booked":
                    _book(ctx, w, rng, state, dealer, service, customer, vehicle, "recall",
                          f"召回：{RECALL_TITLE}", "phone")  # fmt: skip
            if rescue is not None:
                towed_visit = next((v for v in visits if v.rescue is not None), None)
                _write_rescue(ctx, w, rng, dealer, customer, vehicle, rescue, towed_visit)
            # The next two weeks: owners due soon book a slot.
            if (
                not lapsed
                and not arrived_today
                and next_due is not None
                and today - 10 <= next_due <= today + UPCOMING_DAYS + 7
                and rand() < 0.6
            ):
                kind = "maintenance"
                concern = (
                    "首次保养" if not any(v.kind == "maintenance" for v in visits) else "常规保养"
                )
                _book(ctx, w, rng, state, dealer, service, customer, vehicle, kind, concern,
                      None, around=next_due)  # fmt: skip
            elif not lapsed and rand() < 0.012:
                fault = choice(REPAIRS)
                _book(ctx, w, rng, state, dealer, service, customer, vehicle, "repair",
                      fault[0], None)  # fmt: skip

    w.finish()
    # For the feedback generator: the repair orders (to survey) and the complaints (to handle),
    # the same lists as the rows below, so what it fills in place is what is written.
    chunk.extras["service"] = ServiceFacts(w.ros, w.complaints, w.complaint_facts)
    out += [
        Rows(Booking, BOOKING_FIELDS, w.bookings),
        Rows(Appointment, APPOINTMENT_FIELDS, w.appointments),
        Rows(MileageReading, READING_FIELDS, w.readings),
        Rows(RepairOrder, RO_FIELDS, w.ros),
        Rows(RepairOrderLine, LINE_FIELDS, w.lines),
        Rows(Complaint, COMPLAINT_FIELDS, w.complaints),
        Rows(RecallVehicle, RECALL_FIELDS, w.recalls),
        Rows(RescueCall, RESCUE_FIELDS, w.rescues),
    ]
    return out


def _draw_combo(cumulative: list[float], value: float) -> int:
    target = value * cumulative[-1]
    for combo, edge in enumerate(cumulative):
        if target < edge:
            return combo
    return len(cumulative) - 1


def _weighted(value: float, items: Sequence[tuple]) -> int:
    total = sum(item[-1] for item in items)
    target = value * total
    for index, item in enumerate(items):
        target -= item[-1]
        if target < 0:
            return index
    return len(items) - 1


def _warranty_end(text: str | None) -> int | None:
    if not text:
        return None
    import datetime as dt

    return dt.date.fromisoformat(text).toordinal()


def _plan_visits(  # noqa: PLR0913
    rng: random.Random,
    network: ServiceNetwork,
    model: ModelFacts,
    vehicle: VehicleFacts,
    end: int,
    missed: bool,
    today: int,
) -> tuple[list[_Visit], float, int, int, int | None]:
    """The maintenance visits of a car from delivery (or purchase, used) until `end`:
    (visits, km a day, start day, km at start, next due day after the last one)."""
    rand = rng.random
    start, start_km = vehicle.readings[0][0], vehicle.readings[0][1]
    # The car's own pace: 15–120 km a day, most around 40.
    per_day = min(120.0, max(15.0, math.exp(rng.gauss(math.log(40), 0.45))))
    first_km, first_months, every_km, every_months = _schedule_for(network, model.id)
    new = vehicle.delivery is not None
    due_km = start_km + (first_km if new else every_km)
    due_time = start + int((first_months if new else every_months) * MONTH)
    visits: list[_Visit] = []
    count = 0
    # Which scheduled maintenance the owner skips (one of the middle ones), when they do.
    skip_at = 1 + int(rand() * 3) if missed else -1
    km = start_km
    last = start
    while True:
        by_km = last + int((due_km - km) / per_day)
        due = min(by_km, due_time)
        if due > end + 400:
            return visits, per_day, start, start_km, None
        if count == skip_at and due <= end:
            # Missed: the next scheduled one comes and goes, they come at the one after.
            due_km += every_km
            due_time += int(every_months * MONTH)
            skip_at = -1
            by_km = last + int((due_km - km) / per_day)
            due = min(by_km, due_time)
        roll = rand()
        late = int(-7 + rand() * 28) if roll < 0.85 else int(30 + rand() * 60)
        day = max(last + 20, due + late)
        if day > end:
            return visits, per_day, start, start_km, due if due <= today + 60 else None
        km += int(per_day * (day - last))
        visits.append(_Visit(day, "maintenance", first=new and count == 0))
        count += 1
        last = day
        due_km = km + every_km
        due_time = day + int(every_months * MONTH)


def _add_other_visits(  # noqa: PLR0913
    rng: random.Random,
    visits: list[_Visit],
    model: ModelFacts,
    start: int,
    end: int,
    warranty_end: int | None,
) -> None:
    """Repairs, warranty jobs, accidents, inspections, accessories: Poisson over the years."""
    rand = rng.random
    randrange = int_draw(rng)
    span = end - start
    if span <= 10:
        return
    years = span / YEAR
    ev = model.powertrain in ("bev", "phev")
    if rand() < 0.3:
        fault = CHARGER if ev and rand() < 0.5 else ACCESSORIES[randrange(len(ACCESSORIES))]
        visits.append(_Visit(start + 2 + randrange(28), "accessory", fault=fault))
    for kind, rate in (("repair", 0.3), ("warranty", 0.2), ("accident", 0.06),
                       ("inspection", 0.08), ("accessory", 0.03)):  # fmt: skip
        count = _poisson(rand, rate * years)
        for _ in range(count):
            day = start + 15 + randrange(max(1, span - 15))
            if kind == "warranty":
                kind_here = "repair" if warranty_end is None or day >= warranty_end else "warranty"
            else:
                kind_here = kind
            if kind_here == "repair":
                fault = REPAIRS[randrange(len(REPAIRS))]
            elif kind_here == "warranty":
                jobs = WARRANTY_JOBS + EV_WARRANTY_JOBS if ev else WARRANTY_JOBS
                fault = jobs[randrange(len(jobs))]
            elif kind_here == "accident":
                fault = ACCIDENTS[randrange(len(ACCIDENTS))]
            elif kind_here == "inspection":
                fault = INSPECTIONS[randrange(len(INSPECTIONS))]
            else:
                fault = ACCESSORIES[randrange(len(ACCESSORIES))]
            visits.append(_Visit(day, kind_here, fault=fault))


def _poisson(rand, mean: float) -> int:  # noqa: ANN001
    limit = math.exp(-mean)
    count = 0
    product = rand()
    while product > limit:
        count += 1
        product *= rand()
    return count


def _add_repeat(
    rng: random.Random, visits: list[_Visit], start: int, end: int, lapsed: bool
) -> None:
    """A repair and its redo of the same fault within 30 days: before the lapse for an owner who
    lapses (it is what drove them away), anywhere for one who stays."""
    randrange = int_draw(rng)
    if end - start < 90:
        return
    first_day = end - 20 - randrange(60) if lapsed else start + 30 + randrange(end - start - 60)
    fault = REPAIRS[randrange(len(REPAIRS))]
    first = _Visit(first_day, "repair", fault=fault)
    redo = _Visit(min(end, first_day + 4 + randrange(24)), "repair", fault=fault, repeat_of=first)
    visits.append(first)
    visits.append(redo)


def _complaint_target(rng: random.Random, visits: list[_Visit], lapsed: bool) -> _Visit | None:
    """The visit a complaint follows: for an owner who lapses, the last one (or the redo of a
    repeat repair); for one who stays, any closed one."""
    closed = [v for v in visits if not v.open_today]
    if not closed:
        return None
    if lapsed:
        return closed[-1]
    return closed[int(rng.random() * len(closed))]


def _recall_status(rand, lapsed: bool) -> str:  # noqa: ANN001
    roll = rand()
    if lapsed:
        return "unreachable" if roll < 0.35 else ("notified" if roll < 0.8 else "open")
    if roll < 0.45:
        return "completed"
    if roll < 0.55:
        return "booked"
    if roll < 0.85:
        return "notified"
    return "open" if roll < 0.95 else "unreachable"


def _amount(value: int) -> str:
    return f"{value}.00"


def _number(state: dict, dealer_id: int, ctx: DemoContext, day: int) -> str:
    """WO + yyyymmdd + the day's sequence at the dealer: unique per dealer, as a DMS numbers."""
    key = (dealer_id, day)
    seq = state["numbers"].get(key, 0) + 1
    state["numbers"][key] = seq
    return f"WO{ctx.day(day).replace('-', '')}{seq:04d}"


def _write_visit(  # noqa: PLR0913, C901
    ctx: DemoContext,
    w: _Writer,
    rng: random.Random,
    state: dict,
    dealer: DealerFacts,
    service: DealerService,
    customer: CustomerFacts,
    vehicle: VehicleFacts,
    model: ModelFacts,
    visit: _Visit,
    typed_km: int,
    reading_id: int,
    campaign_id: int | None,
) -> None:
    rand = rng.random
    randrange = int_draw(rng)
    kind = visit.kind
    ev = model.powertrain == "bev"
    lines: list[tuple[Line, str]] = []
    payer = "customer"
    concern = diagnosis = ""
    if kind == "maintenance":
        if visit.first:
            payer = "warranty"
            concern = "首次保养"
            lines.append((FIRST_LABOUR, "warranty"))
            parts = EV_PARTS if ev else OIL_PARTS
            for line, share in parts:
                if share >= 1.0 or rand() < share:
                    lines.append((line, "warranty"))
        else:
            concern = "常规保养" if rand() < 0.8 else "保养，顺便检查一下空调"
            lines.append((EV_LABOUR if ev else MAINTENANCE_LABOUR, "customer"))
            for line, share in EV_PARTS if ev else OIL_PARTS:
                if share >= 1.0 or rand() < share:
                    lines.append((line, "customer"))
    elif kind == "recall":
        payer = "warranty"
        concern = f"召回：{RECALL_TITLE}"
        diagnosis = "已按召回方案完成升级，驻车制动力检测合格"
        lines.extend((line, "warranty") for line in RECALL_LINES)
    else:
        assert visit.fault is not None
        concern, diagnosis, fault_lines = visit.fault
        payer = {"warranty": "warranty", "accident": "insurer"}.get(kind, "customer")
        if visit.repeat_of is not None:
            concern = f"上次维修后同样问题又出现：{concern}"
            diagnosis = f"返修：{diagnosis}" if diagnosis else "返修"
            payer = "warranty"  # a redo is on the workshop
        if visit.rescue is not None:
            concern = f"道路救援拖车进厂：{visit.rescue[1]}"
        lines.extend((line, payer) for line in fault_lines)
    labour = parts = 0
    ro_id = visit.ro_id
    for (line_type, code, description, low, high), line_payer in lines[:6]:
        price = low if high <= low else low + randrange(high - low + 1)
        if line_type != "labour":
            price = price // 10 * 10 + (8 if price >= 100 else 0)
        if line_type == "labour":
            labour += price
        else:
            parts += price
        w.lines.append(
            (w.take(RepairOrderLine), dealer.id, ro_id, line_type, code, description, "1.00",
             _amount(price), _amount(price), line_payer)
        )  # fmt: skip
    advisor = dealer.advisors[randrange(len(dealer.advisors))] if dealer.advisors else None
    opened_minute = 40 + randrange(360)  # 08:40–14:40 in China
    duration = {"maintenance": 90, "inspection": 60, "recall": 80, "accessory": 180}.get(kind)
    if visit.open_today:
        opened_minute = SLOT_FIRST_UTC + 65 + randrange(20)  # after the 09:30 slot began
        closed = None
    elif duration is not None:
        closed = visit.day * DAY + opened_minute + duration + randrange(120)
    elif kind == "accident":
        closed = (visit.day + 2 + randrange(8)) * DAY + 60 + randrange(480)
    else:
        closed = (
            (visit.day + (0 if rand() < 0.7 else 1 + randrange(3))) * DAY + 240 + randrange(300)
        )
    opened = visit.day * DAY + opened_minute
    now = ctx.today_ord * DAY + NOW_MINUTE
    if closed is not None:
        closed = max(opened + 30, min(closed, now - 30))
    status = "open" if closed is None else "closed"
    appointment_id = None
    if visit.open_today:
        appointment_id = _book(ctx, w, rng, state, dealer, service, customer, vehicle,
                               "maintenance", "常规保养", "phone", arrived=True)  # fmt: skip
    w.ros.append(
        (
            ro_id, dealer.id, _number(state, dealer.id, ctx, visit.day), vehicle.id, customer.id,
            vehicle.vin, vehicle.plate, kind, status, _moment(ctx, opened),
            _moment(ctx, closed) if closed is not None else None, typed_km, advisor,
            service.advisor_names.get(advisor, "") if advisor else "", payer, concern, diagnosis,
            _amount(labour), _amount(parts), _amount(labour + parts), appointment_id,
            campaign_id if kind == "recall" else None, reading_id,
            "manual" if visit.open_today else "import", advisor, _moment(ctx, opened),
            _moment(ctx, closed if closed is not None else opened),
        )
    )  # fmt: skip
    if visit.complaint and closed is not None:
        at = closed + DAY * (1 + randrange(3)) + randrange(300)
        if at < now:
            if visit.repeat_of is not None:
                category, text = "service_quality", REPEAT_COMPLAINT
            else:
                category = ("service_quality", "waiting_time", "staff_attitude")[randrange(3)]
                texts = COMPLAINTS[category]
                text = texts[randrange(len(texts))]
            care = dealer.care[randrange(len(dealer.care))] if dealer.care else None
            # The handling (SLA clocks, solution, escalations, follow-up) and its steps are the
            # feedback generator's: it fills the columns after `created_at` in place.
            w.complaints.append(
                (
                    w.take(Complaint), dealer.id, customer.id, vehicle.id, ro_id,
                    COMPLAINT_CHANNELS[randrange(len(COMPLAINT_CHANNELS))], category,
                    "high" if rand() < 0.2 else "medium", text,
                    "open" if now - at < 10 * DAY else "closed", "", "", care, _moment(ctx, at),
                    *COMPLAINT_HANDLING_BLANK,
                )
            )  # fmt: skip
            w.complaint_facts.append((at, advisor, model.id))


def _moment(ctx: DemoContext, minute: int) -> str:
    return ctx.moment(minute // DAY, minute % DAY)


def _book(  # noqa: PLR0913
    ctx: DemoContext,
    w: _Writer,
    rng: random.Random,
    state: dict,
    dealer: DealerFacts,
    service: DealerService,
    customer: CustomerFacts,
    vehicle: VehicleFacts,
    kind: str,
    concern: str,
    channel: str | None,
    *,
    around: int | None = None,
    arrived: bool = False,
) -> int | None:
    """An appointment on a free bay, slot by slot: the first slot of the wanted day with a bay
    free, else the next days; none when the fortnight is full. Returns its id."""
    randrange = int_draw(rng)
    today = ctx.today_ord
    if not service.bays:
        return None
    if arrived:
        days = [today]
        slots = [0, 1] if rng.random() < 0.5 else [1, 0]
    else:
        wanted = today + 1 + randrange(UPCOMING_DAYS - 1)
        if around is not None:
            wanted = min(today + UPCOMING_DAYS - 1, max(today, around + randrange(7) - 3))
        days = [d for d in range(wanted, today + UPCOMING_DAYS)]
        first_slot = 2 + randrange(SLOTS - 2)
        slots = [*range(first_slot, SLOTS), *range(0, first_slot)]
    taken: dict = state["slots"]
    per_day: dict = state["per_day"]
    for day in days:
        if per_day.get((dealer.id, day), 0) >= service.capacity:
            continue
        for slot in slots:
            if day == today and not arrived and SLOT_FIRST_UTC + slot * SLOT_MINUTES <= NOW_MINUTE:
                continue  # today's slots before now have gone
            used = taken.setdefault((dealer.id, day, slot), set())
            free = [b for b in service.bays if b not in used]
            if not free:
                continue
            bay = free[0]
            used.add(bay)
            per_day[(dealer.id, day)] = per_day.get((dealer.id, day), 0) + 1
            appointment_id = w.take(Appointment)
            booking_id = w.take(Booking)
            starts = day * DAY + SLOT_FIRST_UTC + slot * SLOT_MINUTES
            ends = starts + SLOT_MINUTES
            booked_at = starts - DAY * (1 + randrange(10)) - randrange(300)
            advisor = dealer.advisors[randrange(len(dealer.advisors))] if dealer.advisors else None
            title = f"{vehicle.plate} {concern}"
            w.bookings.append(
                (booking_id, dealer.id, bay, _moment(ctx, starts), _moment(ctx, ends), "active",
                 customer.id, title[:200], "service.appointment", str(appointment_id), advisor,
                 _moment(ctx, booked_at))
            )  # fmt: skip
            if channel is None:
                channel = ("phone", "online", "care_call")[_weighted(rng.random(), CHANNEL_MIX)]
            w.appointments.append(
                (
                    appointment_id, dealer.id, customer.id, vehicle.id, channel, kind, advisor,
                    _moment(ctx, starts), _moment(ctx, ends), booking_id, None,
                    "arrived" if arrived else "booked", concern, "", "", advisor,
                    _moment(ctx, booked_at), None,
                )
            )  # fmt: skip
            return appointment_id
    return None


CHANNEL_MIX = (("phone", 45), ("online", 35), ("care_call", 20))


def _write_recall(  # noqa: PLR0913
    ctx: DemoContext,
    w: _Writer,
    rng: random.Random,
    dealer: DealerFacts,
    customer: CustomerFacts,
    vehicle: VehicleFacts,
    campaign_id: int,
    launch: int,
    status: str,
    visit: _Visit | None,
) -> None:
    randrange = int_draw(rng)
    if status == "completed" and visit is None:
        status = "notified"
    notified = None
    if status != "open":
        notified = _moment(ctx, (launch + 1 + randrange(6)) * DAY + 60 + randrange(480))
    completed = None
    ro_id = None
    if visit is not None and status == "completed":
        ro_id = visit.ro_id
        completed = _moment(ctx, visit.day * DAY + 300 + randrange(200))
    w.recalls.append(
        (w.take(RecallVehicle), dealer.id, campaign_id, vehicle.id, customer.id, vehicle.vin,
         "own_dealer", status, notified, completed, ro_id, _moment(ctx, launch * DAY + 95))
    )  # fmt: skip


def _write_rescue(  # noqa: PLR0913
    ctx: DemoContext,
    w: _Writer,
    rng: random.Random,
    dealer: DealerFacts,
    customer: CustomerFacts,
    vehicle: VehicleFacts,
    rescue: tuple,
    visit: _Visit | None,
) -> None:
    randrange = int_draw(rng)
    day, problem, text, towed = rescue
    called = day * DAY - 120 + randrange(840)  # 06:00–20:00 in China
    dispatched = called + 5 + randrange(15)
    arrived = dispatched + 20 + randrange(50)
    done = arrived + 15 + randrange(60)
    district = dealer.districts[randrange(len(dealer.districts))][0]
    street = ctx.pools.streets[randrange(len(ctx.pools.streets))]
    location = f"{dealer.city}{district}{street}{randrange(1, 900)}号附近"
    if problem == "tyre":
        location = f"{dealer.city}绕城高速K{randrange(5, 120)}+{randrange(1000):03d}处"
    if towed:
        outcome, note = "towed_to_dealer", "已拖回本店维修。"
    elif problem in ("battery", "lockout", "fuel", "tyre"):
        outcome, note = (
            "fixed_on_site",
            {
                "battery": "现场搭电启动，建议回店检测蓄电池。",
                "lockout": "现场开锁，车辆无损。",
                "fuel": "现场补电/送油，客户自行驶离。",
                "tyre": "现场更换备胎。",
            }[problem],
        )
    else:
        outcome, note = "towed_elsewhere", "客户要求拖至就近修理厂。"
    technician = dealer.advisors[randrange(len(dealer.advisors))] if dealer.advisors else None
    phone = customer.phones[0] if customer.phones else "+8613800000000"
    w.rescues.append(
        (
            w.take(RescueCall), dealer.id, customer.id, vehicle.id, customer.name, phone, location,
            problem, text, "done", _moment(ctx, called), _moment(ctx, dispatched),
            _moment(ctx, arrived), _moment(ctx, done), technician,
            "本店救援车" if technician and randrange(3) else "合作拖车公司 王师傅 139****6620",
            outcome, note, visit.ro_id if visit is not None else None, technician,
        )
    )  # fmt: skip


CAMPAIGN_FIELDS = (
    "id", "brand_id", "code", "title", "description", "remedy", "model_year_from",
    "model_year_to", "vin_from", "vin_to", "status", "starts_on", "launched_at", "created_by_id",
    "created_at",
)  # fmt: skip
RO_FIELDS = (
    "id", "dealer_id", "number", "vehicle_id", "customer_id", "vin", "plate", "kind", "status",
    "opened_at", "closed_at", "mileage_km", "advisor_id", "advisor_name", "payer",
    "customer_concern", "diagnosis", "labour_amount", "parts_amount", "total_amount",
    "appointment_id", "recall_campaign_id", "mileage_reading_id", "source", "created_by_id",
    "created_at", "updated_at",
)  # fmt: skip
LINE_FIELDS = (
    "id", "dealer_id", "repair_order_id", "line_type", "code", "description", "quantity",
    "unit_price", "amount", "payer",
)  # fmt: skip
READING_FIELDS = ("id", "dealer_id", "vehicle_id", "km", "read_on", "source")
COMPLAINT_FIELDS = (
    "id", "dealer_id", "customer_id", "vehicle_id", "repair_order_id", "channel", "category",
    "severity", "description", "status", "source_kind", "source_id", "created_by_id",
    "created_at",
    # The handling, filled by the feedback generator (generators/feedback.py).
    "order_id", "car_model_id", "staff_id", "handler_id", "response_due_at", "solution_due_at",
    "first_response_at", "solved_at", "closed_at", "response_warned_at", "solution_warned_at",
    "escalation_level", "escalated_at", "oem_escalated_at", "solution", "solution_accepted",
    "root_cause", "root_cause_detail", "corrective_action", "preventive_action",
    "follow_up_satisfied", "followed_up_at", "reopen_count",
)  # fmt: skip
COMPLAINT_HANDLING_BLANK = (
    None, None, None, None, None, None, None, None, None, None, None, 0, None, None, "", None, "",
    "", "", "", None, None, 0,
)  # fmt: skip
RECALL_FIELDS = (
    "id", "dealer_id", "campaign_id", "vehicle_id", "customer_id", "vin", "assigned_how",
    "status", "notified_at", "completed_at", "repair_order_id", "created_at",
)  # fmt: skip
RESCUE_FIELDS = (
    "id", "dealer_id", "customer_id", "vehicle_id", "caller_name", "caller_phone", "location",
    "problem", "description", "status", "called_at", "dispatched_at", "arrived_at", "done_at",
    "responder_id", "dispatched_to", "outcome", "outcome_note", "repair_order_id",
    "created_by_id",
)  # fmt: skip
APPOINTMENT_FIELDS = (
    "id", "dealer_id", "customer_id", "vehicle_id", "channel", "kind", "advisor_id", "starts_at",
    "ends_at", "bay_booking_id", "loan_car_booking_id", "status", "concern", "source_kind",
    "source_id", "created_by_id", "created_at", "cancelled_at",
)  # fmt: skip
BOOKING_FIELDS = (
    "id", "dealer_id", "resource_id", "starts_at", "ends_at", "status", "customer_id", "title",
    "source_kind", "source_id", "created_by_id", "created_at",
)  # fmt: skip


def finish_service(ctx: DemoContext) -> None:
    """After the load: flag the mistyped readings, forecast every car's next service, and run
    the care engine for today, so the worklists have their tasks when someone logs in."""
    from dealercrm.care.services.engine import care_run
    from dealercrm.service.services.forecast import forecast_refresh, readings_flag

    # The recall's models (the campaign row came with the first chunk; an auto-created
    # through model cannot travel from the generating process, so its few links are made here).
    campaign = RecallCampaign.objects.filter(brand_id=ctx.org.brand_id).first()
    if campaign is not None and ctx.org.dealers:
        network = ctx.org.dealers[0].service.network  # type: ignore[attr-defined]
        campaign.car_models.set(network.recall_model_ids)
    readings_flag()
    forecast_refresh(full=True)
    marks = {model: _max_id(model) for model in _ENGINE_MODELS}
    # As if the engine had run daily until a week ago: today's run catches up that week, and
    # the state rules (dormancy, replacement) take the owners who crossed their line in it,
    # instead of a first run's back-fill of every old car (ten thousand tasks on day one).
    _engine_ran_before(ctx.today - datetime.timedelta(days=7))
    care_run(run_on=ctx.today, triggered_by="demo")
    _as_of_demo_now(ctx, marks)


def _engine_ran_before(day: datetime.date) -> None:
    from dealercrm.care.models import CareRun
    from dealercrm.core.models import Dealer

    CareRun.objects.bulk_create(
        CareRun(dealer_id=dealer_id, run_on=day, triggered_by="schedule")
        for dealer_id in Dealer.objects.filter(is_active=True).values_list("id", flat=True)
    )


def _engine_models() -> tuple[type[models.Model], ...]:
    from dealercrm.care.models import CareOccurrence, CareRun
    from dealercrm.messaging.models import Message
    from dealercrm.worklist.models import Notice, Task

    return (CareRun, CareOccurrence, Task, Notice, Message)


_ENGINE_MODELS = _engine_models()


def _max_id(model: type[models.Model]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MAX(id) FROM {connection.ops.quote_name(model._meta.db_table)}")
        return cursor.fetchone()[0] or 0


_STAMPS = frozenset(
    ("created_at", "updated_at", "queued_at", "not_before", "status_changed_at", "started_at",
     "finished_at", "claimed_at", "sent_at", "delivered_at", "completed_at", "closed_at")
)  # fmt: skip


def _as_of_demo_now(ctx: DemoContext, marks: dict[type[models.Model], int]) -> None:
    """What the engine's run made carries the clock's time; the demo's history ends at its own
    "now" (today 02:00 UTC, 10:00 in China), which with `--today` is another day. Set-based, per
    table: every timestamp of the new rows later than that now is moved to it, so the data reads
    as one story (nothing after "now", no message stamped in the quiet hours)."""
    now = ctx.moment(ctx.today_ord, NOW_MINUTE)
    with connection.cursor() as cursor:
        for model, mark in marks.items():
            table = connection.ops.quote_name(model._meta.db_table)
            for f in model._meta.concrete_fields:
                # Stamps only: a task's due time is a plan, not a stamp.
                if isinstance(f, models.DateTimeField) and f.name in _STAMPS:
                    column = connection.ops.quote_name(f.column)
                    cursor.execute(
                        f"UPDATE {table} SET {column} = %s WHERE id > %s AND {column} > %s",
                        [now, mark, now],
                    )


SERVICE = ChunkGenerator(
    "service",
    "service",
    generate_service,
    (
        RecallCampaign,
        Booking,
        Appointment,
        MileageReading,
        RepairOrder,
        RepairOrderLine,
        Complaint,
        RecallVehicle,
        RescueCall,
    ),
    finish=finish_service,
    # Reads the loaded history only (not the duplicate queue); the others wait for its care run.
    finish_after=(),
)
