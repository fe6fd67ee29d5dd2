"""Forms of the worklist pages: closing a task with its result, handing it to someone."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from dealercrm.core.models import User

from .models import TaskKind
from .outcomes import OUTCOME_MAX_LENGTH, TaskResult, join_outcome

# A call ends in one of the call outcomes; any other task is simply done.
CALL_RESULTS = [choice for choice in TaskResult.choices if choice[0] != TaskResult.DONE]


class TaskCompleteForm(forms.Form):
    result = forms.ChoiceField(label=_("Result"), choices=TaskResult.choices)
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=OUTCOME_MAX_LENGTH - 20,
        widget=forms.TextInput(attrs={"placeholder": _("What came of it (optional)")}),
    )

    def __init__(self, *args, kind: str = TaskKind.OTHER, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        if kind == TaskKind.CALL:
            self.fields["result"].choices = CALL_RESULTS
            self.fields["result"].initial = TaskResult.REACHED
        else:
            self.fields["result"].initial = TaskResult.DONE
        self.fields["result"].widget.attrs["class"] = "form-select form-select-sm"
        self.fields["note"].widget.attrs["class"] = "form-control form-control-sm"

    def outcome(self) -> str:
        return join_outcome(self.cleaned_data["result"], self.cleaned_data["note"])


class TaskAssignForm(forms.Form):
    assignee = forms.ModelChoiceField(
        label=_("Assigned to"),
        queryset=User.objects.none(),
        required=False,
        empty_label=_("Nobody (managers)"),
    )

    def __init__(self, *args, assignees: list[User], **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        field = self.fields["assignee"]
        field.queryset = User.objects.filter(pk__in=[user.pk for user in assignees])
        # The choices come from the list already read, not from a second query.
        field.choices = [("", field.empty_label)] + [(user.pk, str(user)) for user in assignees]
        field.widget.attrs["class"] = "form-select form-select-sm"
