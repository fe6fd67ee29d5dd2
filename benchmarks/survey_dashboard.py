"""The satisfaction dashboard over 1,000,000 answers: the rollup's rebuild time, then p50/p95/max
of the dashboard selector and of the page.

Run on demand, never in the test suite. Use a database of its own:

    # PostgreSQL
    createdb -h 127.0.0.1 -U postgres bench_h3
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_h3 uv run python benchmarks/survey_dashboard.py load
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_h3 uv run python benchmarks/survey_dashboard.py rebuild
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_h3 uv run python benchmarks/survey_dashboard.py run
    # SQLite
    DEALERCRM_VAR_DIR=/tmp/survey-sqlite uv run python benchmarks/survey_dashboard.py load   (rebuild, run)

`load` writes a brand with `--dealers` dealers (a manager, 6 consultants and 6 advisors each),
8 models, two questionnaires (after delivery, after service: an NPS question, expectation and
experience ratings on 1–5 and 1–10 over the dimensions, a free text), and invitations over the
last 24 months, of which about 45 % answered, until `--answers` answers are written; set-based
(COPY on PostgreSQL, executemany on SQLite, through dealercrm.demo.bulk). `rebuild` times
`rollup_rebuild()` over everything, then one response's incremental update. `run` times the
dashboard selector (`dashboard_figures`) in-process and the page through the Django test client
(the Server-Timing header) for a dealer manager and an OEM analyst with several filters,
`--repeat` times each, and prints p50/p95/max with the query count.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.core.management.color import no_style  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Max  # noqa: E402
from django.test import Client, RequestFactory  # noqa: E402
from django.utils import timezone  # noqa: E402

from dealercrm.core.models import Brand, Dealer, Region, User  # noqa: E402
from dealercrm.core.permissions import Role  # noqa: E402
from dealercrm.core.scoping import scope_for_user  # noqa: E402
from dealercrm.core.tenancy import DealerScope, dealer_scope  # noqa: E402
from dealercrm.customers.models import Customer, CustomerKind  # noqa: E402
from dealercrm.demo.bulk import BulkWriter, to_db  # noqa: E402
from dealercrm.feedback.models import (  # noqa: E402
    Question,
    Questionnaire,
    QuestionnaireVersion,
    SurveyAnswer,
    SurveyInvitation,
    SurveyResponse,
    SurveyScoreRollup,
    VersionStatus,
)
from dealercrm.feedback.selectors import survey_scores  # noqa: E402
from dealercrm.feedback.services.scores import (  # noqa: E402
    on_response_recorded,
    rollup_rebuild,
)
from dealercrm.vehicles.models import CarModel  # noqa: E402

CITIES = (
    "上海浦东", "上海闵行", "北京朝阳", "北京海淀", "广州天河", "深圳南山", "南京江宁", "苏州园区",
    "杭州西湖", "成都武侯", "武汉汉阳", "青岛市南",
)  # fmt: skip
SERIES = ("星辰", "极光", "银河", "远航")
STAFF_PER_ROLE = 6
CUSTOMERS_PER_DEALER = 5_000
BATCH = 20_000
# (kind, dimension, aspect)
QUESTIONS = {
    "delivery": [
        ("nps", "overall", "experience"),
        ("rating5", "staff", "expectation"),
        ("rating5", "staff", "experience"),
        ("rating5", "product", "expectation"),
        ("rating5", "product", "experience"),
        ("rating10", "price", "experience"),
        ("rating5", "facilities", "experience"),
        ("rating10", "overall", "experience"),
        ("rating5", "waiting_time", "experience"),
        ("text", "", "experience"),
    ],
    "service": [
        ("nps", "overall", "experience"),
        ("rating5", "service_quality", "expectation"),
        ("rating5", "service_quality", "experience"),
        ("rating5", "waiting_time", "expectation"),
        ("rating5", "waiting_time", "experience"),
        ("rating10", "price", "experience"),
        ("rating5", "staff", "experience"),
        ("rating5", "facilities", "experience"),
        ("rating10", "overall", "experience"),
        ("text", "", "experience"),
    ],
}


# ---------------------------------------------------------------------------------------- load


def make_org(dealer_count: int):  # noqa: ANN201
    brand, _ = Brand.objects.get_or_create(code="aurora", defaults={"name": "极光汽车"})
    region, _ = Region.objects.get_or_create(brand=brand, code="east", defaults={"name": "华东"})
    dealers, consultants, advisors = [], {}, {}
    for i in range(dealer_count):
        city = CITIES[i % len(CITIES)] + ("" if i < len(CITIES) else str(i // len(CITIES)))
        dealer, _ = Dealer.objects.get_or_create(
            code=f"S{i:03d}",
            defaults={
                "brand": brand,
                "region": region,
                "name": f"{city}极光4S店",
                "province": city[:2],
                "city": city[:2],
            },
        )
        dealers.append(dealer)
        User.objects.get_or_create(
            username=f"survey-manager-{i}",
            defaults={"role": Role.DEALER_MANAGER, "dealer": dealer, "brand": brand},
        )
        for role, names, store in (
            (Role.SALES_CONSULTANT, "顾问", consultants),
            (Role.SERVICE_ADVISOR, "服务顾问", advisors),
        ):
            store[dealer.pk] = [
                User.objects.get_or_create(
                    username=f"survey-{role}-{i}-{n}",
                    defaults={
                        "role": role,
                        "dealer": dealer,
                        "brand": brand,
                        "display_name": f"{names}{i}-{n}",
                    },
                )[0].pk
                for n in range(STAFF_PER_ROLE)
            ]
    User.objects.get_or_create(
        username="survey-oem", defaults={"role": Role.OEM_ANALYST, "brand": brand}
    )
    models = []
    for s, series in enumerate(SERIES):
        for name in ("标准版", "豪华版"):
            models.append(
                CarModel.objects.get_or_create(
                    make="极光",
                    series=series,
                    name=name,
                    model_year=2025,
                    defaults={
                        "brand": brand,
                        "body_type": "suv" if s % 2 else "sedan",
                        "powertrain": "bev" if s == 2 else "ice",
                        "seats": 5,
                        "list_price": 150000 + 30000 * s,
                    },
                )[0].pk
            )
    versions = {}
    for kind, questions in QUESTIONS.items():
        questionnaire, created = Questionnaire.objects.get_or_create(
            brand=brand, dealer=None, kind=kind, defaults={"title": f"{kind} 满意度"}
        )
        if created or not questionnaire.current_version_id:
            version = QuestionnaireVersion.objects.create(
                questionnaire=questionnaire,
                number=1,
                status=VersionStatus.PUBLISHED,
                published_at=timezone.now(),
            )
            for position, (qkind, dimension, aspect) in enumerate(questions, start=1):
                Question.objects.create(
                    version=version,
                    position=position,
                    kind=qkind,
                    dimension=dimension,
                    aspect=aspect,
                    text=f"{dimension} {aspect}",
                )
            questionnaire.current_version = version
            questionnaire.save(update_fields=["current_version"])
        versions[kind] = (
            questionnaire.current_version_id,
            list(
                Question.objects.filter(version_id=questionnaire.current_version_id)
                .order_by("position")
                .values_list("id", "kind", "dimension", "aspect")
            ),
        )
    return dealers, consultants, advisors, models, versions


INVITATION_FIELDS = (
    "id", "dealer_id", "version_id", "kind", "customer_id", "car_model_id", "consultant_id",
    "advisor_id", "source_kind", "source_id", "channel", "token_hash", "status", "send_at",
    "sent_at", "expires_at", "answered_at", "created_at",
)  # fmt: skip
RESPONSE_FIELDS = (
    "id", "dealer_id", "invitation_id", "version_id", "kind", "customer_id", "car_model_id",
    "consultant_id", "advisor_id", "channel", "answered_at", "nps", "csi", "is_low",
)  # fmt: skip
ANSWER_FIELDS = (
    "id", "dealer_id", "response_id", "question_id", "kind", "dimension", "aspect", "value",
    "choices", "text",
)  # fmt: skip


def rating(rng: random.Random, kind: str, mood: float) -> int:
    """A rating that follows the customer's mood (0 unhappy … 1 delighted)."""
    low, high = {"rating5": (1, 5), "rating10": (1, 10), "nps": (0, 10)}[kind]
    value = low + (high - low) * min(1.0, max(0.0, rng.gauss(mood, 0.15)))
    return int(round(value))


def load(answers: int, dealer_count: int, seed: int) -> None:
    call_command("migrate", verbosity=0)
    rng = random.Random(seed)
    now = timezone.now()
    with dealer_scope(DealerScope.everything()):
        dealers, consultants, advisors, models, versions = make_org(dealer_count)
        writer = BulkWriter(now=now)
        next_id = {
            model: (model.objects.unscoped().aggregate(m=Max("id"))["m"] or 0) + 1
            for model in (Customer, SurveyInvitation, SurveyResponse, SurveyAnswer)
        }
        customers_of: dict[int, list[int]] = {}
        rows = []
        for dealer in dealers:
            ids = list(range(next_id[Customer], next_id[Customer] + CUSTOMERS_PER_DEALER))
            next_id[Customer] += CUSTOMERS_PER_DEALER
            customers_of[dealer.pk] = ids
            rows += [(cid, dealer.pk, CustomerKind.PERSON.value, f"客户{cid}") for cid in ids]
        with transaction.atomic():
            writer.write(Customer, ("id", "dealer_id", "kind", "name"), rows)
        started = time.perf_counter()
        written = 0
        span = 24 * 30 * 86400
        while written < answers:
            invitations, responses, answer_rows = [], [], []
            while len(answer_rows) < BATCH and written + len(answer_rows) < answers:
                dealer = dealers[rng.randrange(len(dealers))]
                kind = "delivery" if rng.random() < 0.35 else "service"
                version_id, questions = versions[kind]
                sent = now - dt.timedelta(seconds=rng.randrange(3600, span))
                invitation_id = next_id[SurveyInvitation]
                next_id[SurveyInvitation] += 1
                answered = rng.random() < 0.45
                at = sent + dt.timedelta(minutes=rng.randrange(5, 3 * 24 * 60))
                if at > now:
                    answered = False
                consultant = rng.choice(consultants[dealer.pk]) if kind == "delivery" else None
                advisor = rng.choice(advisors[dealer.pk]) if kind == "service" else None
                model = rng.choice(models) if rng.random() < 0.95 else None
                customer = rng.choice(customers_of[dealer.pk])
                expires = sent + dt.timedelta(days=7)
                status = "answered" if answered else ("expired" if expires < now else "sent")
                invitations.append(
                    (
                        invitation_id, dealer.pk, version_id, kind, customer, model, consultant,
                        advisor, "bench", str(invitation_id), "sms", f"{invitation_id:064x}",
                        status, to_db(sent), to_db(sent), to_db(expires),
                        to_db(at) if answered else None, to_db(sent),
                    )
                )  # fmt: skip
                if not answered:
                    continue
                response_id = next_id[SurveyResponse]
                next_id[SurveyResponse] += 1
                # A dealer's level plus the customer's day: most are content, some are not.
                mood = min(1.0, max(0.0, rng.gauss(0.72 + 0.02 * (dealer.pk % 5), 0.2)))
                nps = None
                for question_id, qkind, dimension, aspect in questions:
                    value = None
                    text = ""
                    if qkind == "text":
                        text = "很好" if mood > 0.6 else "等待时间太长"
                    else:
                        value = rating(rng, qkind, mood if aspect == "experience" else 0.8)
                        if qkind == "nps":
                            nps = value
                    answer_rows.append(
                        (
                            next_id[SurveyAnswer], dealer.pk, response_id, question_id, qkind,
                            dimension, aspect, value, "[]", text,
                        )
                    )  # fmt: skip
                    next_id[SurveyAnswer] += 1
                responses.append(
                    (
                        response_id, dealer.pk, invitation_id, version_id, kind, customer, model,
                        consultant, advisor, "web", to_db(at), nps, round(100 * mood, 1),
                        mood < 0.3,
                    )
                )  # fmt: skip
            with transaction.atomic():
                writer.write(SurveyInvitation, INVITATION_FIELDS, invitations)
                writer.write(SurveyResponse, RESPONSE_FIELDS, responses)
                writer.write(SurveyAnswer, ANSWER_FIELDS, answer_rows)
            written += len(answer_rows)
            rate = written / (time.perf_counter() - started)
            print(f"\r{written:>10,} answers, {rate:,.0f}/s", end="", flush=True)
        print()
        with connection.cursor() as cursor:
            models_ = [Customer, SurveyInvitation, SurveyResponse, SurveyAnswer]
            for sql in connection.ops.sequence_reset_sql(no_style(), models_):
                cursor.execute(sql)
        vacuum()
        print(f"loaded in {time.perf_counter() - started:.0f}s")


def vacuum() -> None:
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")


# ------------------------------------------------------------------------------------- rebuild


def rebuild() -> None:
    with dealer_scope(DealerScope.everything()):
        answers = SurveyAnswer.objects.unscoped().count()
        responses = SurveyResponse.objects.unscoped().count()
        invitations = SurveyInvitation.objects.unscoped().count()
        t = time.perf_counter()
        rows = rollup_rebuild()
        seconds = time.perf_counter() - t
        print(
            f"rollup_rebuild: {answers:,} answers, {responses:,} responses, {invitations:,} "
            f"invitations → {rows:,} rollup rows in {seconds:.1f}s"
        )
        vacuum()
        last = SurveyResponse.objects.unscoped().order_by("-id").values("id", "dealer_id")[0]
        samples = []
        for _ in range(20):
            t = time.perf_counter()
            on_response_recorded(last["id"], last["dealer_id"])
            samples.append((time.perf_counter() - t) * 1000)
        print(
            f"one response's incremental update (and its month's invitations recounted): "
            f"p50 {statistics.median(samples):.1f} ms, max {max(samples):.1f} ms"
        )
        rollup_rebuild(dealer_ids=[last["dealer_id"]])  # undo the 20 repeated additions


# ----------------------------------------------------------------------------------------- run


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return statistics.median(ordered), p95, ordered[-1]


SLICE_INDEX = "survey_rollup_slice"


def slice_index(present: bool) -> None:
    """The index this benchmark argued for (migration feedback 0004 makes it; `--no-index` drops it
    for the comparison run, and the next run puts it back): the rollup by dealer and
    slice before month, so the coarse grains are read without the full-slice rows, and every
    column the dashboard reads after them, so both engines answer from the index alone."""
    table = connection.ops.quote_name(SurveyScoreRollup._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX IF EXISTS {SLICE_INDEX}")
        if present:
            cursor.execute(
                f"CREATE INDEX {SLICE_INDEX} ON {table} "
                "(dealer_id, car_model_id, advisor_id, consultant_id, month, kind, question_kind, "
                "aspect, dimension, answers, points, points_sq, promoters, detractors)"
            )
    vacuum()


def run(repeat: int, index: bool) -> None:
    slice_index(index)
    with dealer_scope(DealerScope.everything()):
        answers = SurveyAnswer.objects.unscoped().count()
        rows = SurveyScoreRollup.objects.unscoped().count()
        manager = User.objects.filter(username="survey-manager-0").select_related("dealer").get()
        oem = User.objects.get(username="survey-oem")
        consultant = User.objects.filter(
            dealer_id=manager.dealer_id, role=Role.SALES_CONSULTANT
        ).order_by("id")[0]
        advisor = User.objects.filter(
            dealer_id=manager.dealer_id, role=Role.SERVICE_ADVISOR
        ).order_by("id")[0]
        model_id = CarModel.objects.filter(brand_id=oem.brand_id).order_by("id")[0].pk
        dealer_id = Dealer.objects.filter(brand_id=oem.brand_id).order_by("id")[3].pk
    print(
        f"\n### {connection.vendor}, {answers:,} answers, {rows:,} rollup rows, "
        f"{'with' if index else 'without'} the slice index, load average {os.getloadavg()}"
    )
    scenarios = [
        ("dealer manager", manager, "default (12 months)", {}),
        ("dealer manager", manager, "24 months", {"months": 24}),
        ("dealer manager", manager, "service surveys, one advisor", {"kind": "service", "advisor": advisor.pk}),
        ("dealer manager", manager, "one consultant and one model, 24 months", {"consultant": consultant.pk, "car_model": model_id, "months": 24}),
        ("OEM analyst", oem, "default (12 months, all dealers)", {}),
        ("OEM analyst", oem, "24 months, all dealers", {"months": 24}),
        ("OEM analyst", oem, "one model, 24 months", {"car_model": model_id, "months": 24}),
        ("OEM analyst", oem, "one dealer, 24 months", {"dealer": dealer_id, "months": 24}),
    ]  # fmt: skip
    everything_page, everything_selector = [], []
    factory = RequestFactory()
    for label, user, name, params in scenarios:
        # The selector alone, in the user's scope, as the page calls it.
        request = factory.get("/surveys/dashboard/", params)
        selector_times = []
        with dealer_scope(scope_for_user(user)):
            for _ in range(repeat + 1):
                t = time.perf_counter()
                options = survey_scores.score_options(
                    user, dealer_id=int(params["dealer"]) if "dealer" in params else None
                )
                filters, errors = survey_scores.parse_filters(request.GET, options)
                assert not errors, errors
                survey_scores.dashboard_figures(user, filters, options)
                selector_times.append((time.perf_counter() - t) * 1000)
        selector_times = selector_times[1:]
        everything_selector += selector_times
        client = Client()
        client.force_login(user)
        client.get("/surveys/dashboard/", params)  # warm up
        queries: list[str] = []

        def count(execute, sql, params_, many, context):  # noqa: ANN001, ANN202
            queries.append(sql)  # noqa: B023
            return execute(sql, params_, many, context)

        with connection.execute_wrapper(count):
            client.get("/surveys/dashboard/", params)
        server = []
        for _ in range(repeat):
            response = client.get("/surveys/dashboard/", params)
            assert response.status_code == 200, response.status_code
            server.append(float(response["Server-Timing"].split("dur=")[1]))
        everything_page += server
        s50, s95, smax = percentiles(selector_times)
        p50, p95, worst = percentiles(server)
        print(
            f"| {label} | {name} | {len(queries)} | {s50:.1f} / {s95:.1f} / {smax:.1f} | "
            f"{p50:.1f} / {p95:.1f} / {worst:.1f} |",
            flush=True,
        )
    s50, s95, smax = percentiles(everything_selector)
    p50, p95, worst = percentiles(everything_page)
    print(
        f"| all | {len(everything_page)} requests | | {s50:.1f} / {s95:.1f} / {smax:.1f} | "
        f"{p50:.1f} / {p95:.1f} / {worst:.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["load", "rebuild", "run"])
    parser.add_argument("--answers", type=int, default=1_000_000)
    parser.add_argument("--dealers", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument(
        "--slice-index",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run: with (default) or without the index survey_rollup_slice",
    )
    args = parser.parse_args()
    if args.action == "load":
        load(args.answers, args.dealers, args.seed)
    elif args.action == "rebuild":
        rebuild()
    else:
        run(args.repeat, args.slice_index)


if __name__ == "__main__":
    main()
