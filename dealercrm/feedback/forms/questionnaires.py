"""Forms of the questionnaire builder. They read and shape input; the services in
services/questionnaires.py decide what is allowed (and say so naming the field)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from dealercrm.core.forms import StyledForm

from ..models import Aspect, Dimension, Question, QuestionKind, SurveyKind


class QuestionnaireCreateForm(StyledForm):
    title = forms.CharField(label=_("Title"), max_length=120)
    kind = forms.ChoiceField(label=_("Sent"), choices=SurveyKind.choices)
    introduction = forms.CharField(
        label=_("Introduction"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Shown at the top of the customer's survey page."),
    )


class QuestionnaireEditForm(StyledForm):
    title = forms.CharField(label=_("Title"), max_length=120)
    introduction = forms.CharField(
        label=_("Introduction"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Shown at the top of the customer's survey page."),
    )
    is_active = forms.BooleanField(label=_("In use"), required=False)


class QuestionForm(StyledForm):
    text = forms.CharField(label=_("Question"), max_length=300)
    kind = forms.ChoiceField(label=_("Answer type"), choices=QuestionKind.choices)
    dimension = forms.ChoiceField(
        label=_("Dimension"),
        required=False,
        choices=[("", _("None"))] + list(Dimension.choices),
    )
    aspect = forms.ChoiceField(
        label=_("Asks about"),
        required=False,
        choices=Aspect.choices,
        initial=Aspect.EXPERIENCE,
        help_text=_(
            "Ratings only: an expectation question needs an experience question of the same "
            "dimension on the same scale; their difference is the gap."
        ),
    )
    choices = forms.CharField(
        label=_("Options"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Choice questions: one option per line, at least two."),
    )
    help_text = forms.CharField(label=_("Hint"), max_length=300, required=False)
    required = forms.BooleanField(label=_("Required"), required=False, initial=True)

    @classmethod
    def for_question(cls, question: Question, data: Any = None) -> QuestionForm:
        return cls(
            data,
            initial={
                "text": question.text,
                "kind": question.kind,
                "dimension": question.dimension,
                "aspect": question.aspect,
                "choices": "\n".join(str(option) for option in question.choices or []),
                "help_text": question.help_text,
                "required": question.required,
            },
        )

    def service_data(self) -> dict[str, Any]:
        """The cleaned input as services.questionnaires' question functions take it."""
        data = dict(self.cleaned_data)
        data["choices"] = (data.get("choices") or "").splitlines()
        return data
