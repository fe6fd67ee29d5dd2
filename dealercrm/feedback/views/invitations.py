"""Survey invitations: the list, one invitation, an ad-hoc list, the dealer's survey settings.

One template per page with named partials; an HTMX request for the list's results gets the
partial."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from dealercrm.core.access import staff_view
from dealercrm.core.forms import apply_service_errors
from dealercrm.core.permissions import Perm
from dealercrm.core.scoping import acting_dealer, visible_dealers
from dealercrm.customers.selectors import tag_names

from ..forms.invitations import SurveySendForm, SurveySettingsForm
from ..models import (
    InvitationStatus,
    Questionnaire,
    SurveyChannel,
    SurveyKind,
    VersionStatus,
)
from ..selectors import invitations as selectors
from ..services.invitations import survey_list_send
from ..services.survey_settings import settings_for_dealer, survey_settings_update

LIST = "feedback/invitation_list.html"
DETAIL = "feedback/invitation_detail.html"
SEND = "feedback/survey_send.html"
SETTINGS = "feedback/survey_settings.html"


@staff_view(Perm.SEND_SURVEYS)
def invitation_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    filters = selectors.InvitationFilters.from_params(request.GET)
    page = selectors.invitation_page(user, filters, page=request.GET.get("page") or 1)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "invitations": page.object_list,
        "filters": filters,
        "query": query.urlencode(),
        "kinds": SurveyKind.choices,
        "statuses": InvitationStatus.choices,
        "channels": SurveyChannel.choices,
        "network": not user.dealer_id,
        "to_call": selectors.TO_CALL,
    }
    if request.htmx and request.headers.get("HX-Target") == "invitation-results":
        return render(request, f"{LIST}#results", context)
    if not user.dealer_id:
        context["dealers"] = list(visible_dealers(user).order_by("name"))
    return render(request, LIST, context)


@staff_view(Perm.SEND_SURVEYS)
def invitation_detail(request: HttpRequest, invitation_id: int) -> HttpResponse:
    invitation = selectors.get_invitation_for_user(request.user, invitation_id)
    now = timezone.now()
    callable_now = (
        (
            invitation.channel == SurveyChannel.PHONE
            or invitation.status == InvitationStatus.NOT_SENT
        )
        and invitation.status
        in (
            InvitationStatus.SCHEDULED,
            InvitationStatus.SENT,
            InvitationStatus.NOT_SENT,
        )
        and invitation.expires_at > now
    )
    return render(
        request,
        DETAIL,
        {
            "invitation": invitation,
            "message": selectors.invitation_message(invitation),
            "response_id": selectors.invitation_response_id(invitation),
            "can_call": callable_now,
        },
    )


def _versions_for(dealer_id: int, brand_id: int) -> list[tuple[int, str]]:
    """The published questionnaires the dealer may send: its own and its brand's (one query)."""
    rows = (
        Questionnaire.objects.filter(
            Q(dealer_id=dealer_id) | Q(dealer__isnull=True),
            brand_id=brand_id,
            is_active=True,
            current_version__status=VersionStatus.PUBLISHED,
        )
        .order_by("kind", "title", "id")
        .values("current_version_id", "title", "kind", "current_version__number")
    )
    return [
        (
            row["current_version_id"],
            f"{row['title']} · {SurveyKind(row['kind']).label} · v{row['current_version__number']}",
        )
        for row in rows
    ]


@staff_view(Perm.SEND_SURVEYS)
def survey_send(request: HttpRequest) -> HttpResponse:
    """GET: the filters; POST with "preview": how many customers, and the first few; POST:
    invite them now."""
    dealer = acting_dealer(request)
    if dealer is None:
        raise Http404
    versions = _versions_for(dealer.pk, dealer.brand_id)
    survey_settings = settings_for_dealer(dealer.pk)
    form_kwargs = {"versions": versions, "tag_names": tag_names(request.user)}
    preview = None
    if request.method == "POST":
        form = SurveySendForm(request.POST, **form_kwargs)
        if form.is_valid():
            data = form.cleaned_data
            ids = selectors.survey_audience_ids(
                dealer.pk,
                tags=data["tags"],
                lifecycle_stages=data["lifecycle_stages"],
                serviced_from=data["serviced_from"],
                serviced_to=data["serviced_to"],
            )
            if request.POST.get("preview"):
                preview = {
                    "count": len(ids),
                    "customers": selectors.customers_named(dealer.pk, ids),
                }
            elif not ids:
                form.add_error(None, _("No customer matches these filters."))
            else:
                try:
                    report = survey_list_send(
                        actor=request.user,
                        dealer_id=dealer.pk,
                        customer_ids=ids,
                        channel=data["channel"],
                        questionnaire_version_id=data["version"],
                    )
                except ValidationError as exc:
                    apply_service_errors(
                        form,
                        ValidationError(
                            {
                                ("version" if k == "questionnaire_version_id" else k): v
                                for k, v in exc.message_dict.items()
                            }
                        ),
                    )
                else:
                    messages.success(
                        request,
                        ngettext(
                            "%(count)d customer invited (%(sent)d by message, %(phone)d to "
                            "call); %(skipped)d left out, asked recently.",
                            "%(count)d customers invited (%(sent)d by message, %(phone)d to "
                            "call); %(skipped)d left out, asked recently.",
                            report.created,
                        )
                        % {
                            "count": report.created,
                            "sent": report.sent,
                            "phone": report.phone,
                            "skipped": report.fatigue_skipped,
                        },
                    )
                    url = reverse("surveys:invitation_list")
                    if report.phone and not report.sent:
                        url += f"?show={selectors.TO_CALL}"
                    if not request.user.dealer_id:
                        url += ("&" if "?" in url else "?") + f"dealer={dealer.pk}"
                    return redirect(url)
    else:
        form = SurveySendForm(initial={"channel": survey_settings.channel}, **form_kwargs)
    return render(
        request,
        SEND,
        {"form": form, "dealer": dealer, "preview": preview, "has_versions": bool(versions)},
    )


@staff_view(Perm.MANAGE_SURVEYS)
def survey_settings(request: HttpRequest) -> HttpResponse:
    dealer = acting_dealer(request)
    if dealer is None:
        raise Http404
    row = settings_for_dealer(dealer.pk)
    if request.method == "POST":
        form = SurveySettingsForm(request.POST)
        if form.is_valid():
            try:
                survey_settings_update(
                    actor=request.user, dealer_id=dealer.pk, data=form.data_for_service()
                )
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("Survey settings saved."))
                url = reverse("surveys:settings")
                if not request.user.dealer_id:
                    url += f"?dealer={dealer.pk}"
                return redirect(url)
    else:
        form = SurveySettingsForm(initial=SurveySettingsForm.initial_from(row))
    return render(request, SETTINGS, {"form": form, "dealer": dealer, "row": row})
