"""Survey invitations and responses on the customer 360 timeline (one query)."""

from __future__ import annotations

import datetime

from django.db.models import Case, F, Q, QuerySet, When
from django.db.models.functions import Coalesce, Greatest
from django.urls import reverse
from django.utils.translation import gettext as _

from dealercrm.customers.timeline import ProviderQuery, TimelineEntry, TimelineQueries

from .models import SurveyChannel, SurveyInvitation, SurveyKind, SurveyResponse


def _scores(nps: int | None, csi: float | None) -> str:
    parts = []
    if nps is not None:
        parts.append(_("recommendation %(nps)s/10") % {"nps": nps})
    if csi is not None:
        parts.append(_("satisfaction %(csi)s/100") % {"csi": round(csi)})
    return ", ".join(parts)


def _invitations(dealer_id: int, customer_id: int, before: datetime.datetime | None) -> QuerySet:
    qs = SurveyInvitation.objects.filter(dealer_id=dealer_id, customer_id=customer_id).filter(
        Q(sent_at__isnull=False) | Q(response__isnull=False)
    )
    sent, answered = F("sent_at"), F("response__answered_at")
    if before is not None:
        qs = qs.filter(Q(sent_at__lt=before) | Q(response__answered_at__lt=before))
        sent = Case(When(sent_at__lt=before, then=sent))
        answered = Case(When(response__answered_at__lt=before, then=answered))
    # By each invitation's newest entry still shown: the `limit` newest entries are among the
    # `limit` invitations whose newest is newest (Greatest of both, whichever is missing).
    newest = Greatest(Coalesce(answered, sent), Coalesce(sent, answered))
    return qs.order_by(newest.desc(), "-id").values(
        "kind",
        "channel",
        "sent_at",
        "version__questionnaire__title",
        "response__id",
        "response__answered_at",
        "response__channel",
        "response__nps",
        "response__csi",
        "response__is_low",
        "response__entered_by__display_name",
        "response__entered_by__username",
    )


_INVITATIONS = ProviderQuery(_invitations)


def survey_timeline(
    customer,  # noqa: ANN001 — a customers.Customer
    *,
    limit: int,
    before: datetime.datetime | None,
) -> list[TimelineEntry]:
    """Each invitation gives "survey sent" (when a message went out) and, once answered,
    "survey answered" with its NPS and CSI; a low score is marked. One query: the invitations
    with their response joined."""
    entries: list[TimelineEntry] = []
    for row in _INVITATIONS(customer, limit=limit, before=before):
        kind = SurveyKind(row["kind"]).label
        title = row["version__questionnaire__title"] or ""
        if row["response__id"] is not None and (
            before is None or row["response__answered_at"] < before
        ):
            low = bool(row["response__is_low"])
            scores = _scores(row["response__nps"], row["response__csi"])
            headline = (
                _("Survey answered — low score: %(kind)s")
                if low
                else _("Survey answered: %(kind)s")
            ) % {"kind": kind}
            entries.append(
                TimelineEntry(
                    occurred_at=row["response__answered_at"],
                    kind="survey_low" if low else "survey_answered",
                    icon="mood-sad" if low else "mood-happy",
                    title=headline,
                    body=" · ".join(p for p in (title, scores) if p),
                    actor=row["response__entered_by__display_name"]
                    or row["response__entered_by__username"]
                    or "",
                    url=reverse("surveys:response", kwargs={"response_id": row["response__id"]}),
                    source="feedback",
                )
            )
        if row["sent_at"] is not None and (before is None or row["sent_at"] < before):
            entries.append(
                TimelineEntry(
                    occurred_at=row["sent_at"],
                    kind="survey_sent",
                    icon="clipboard-list",
                    title=_("Survey sent by %(channel)s: %(kind)s")
                    % {"channel": SurveyChannel(row["channel"]).label, "kind": kind},
                    body=title,
                    source="feedback",
                )
            )
    entries.sort(key=lambda e: e.occurred_at, reverse=True)
    return entries[:limit]


def _survey_times(dealer_id: int, customer_id: int) -> list[QuerySet]:
    """The times of survey_timeline's entries: sent, and answered (TimelineQueries)."""
    return [
        SurveyInvitation.objects.filter(
            dealer_id=dealer_id, customer_id=customer_id, sent_at__isnull=False
        ).annotate(timeline_at=F("sent_at")),
        SurveyResponse.objects.filter(
            dealer_id=dealer_id,
            invitation__dealer_id=dealer_id,
            invitation__customer_id=customer_id,
        ).annotate(timeline_at=F("answered_at")),
    ]


survey_times = TimelineQueries(_survey_times)
