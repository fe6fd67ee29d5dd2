"""The answer form of a questionnaire version: one row per question with what the template needs
(the scale's buttons, the options, the value given, the errors). The answering service does the
checking; the form only shapes the questions and keeps what the customer entered."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..models import SCALES, Question, QuestionKind


@dataclass
class AnswerRow:
    question: Question
    key: str
    scale: list[int] = field(default_factory=list)
    options: list[str] = field(default_factory=list)
    value: str = ""
    values: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return self.question.kind

    @property
    def is_scale(self) -> bool:
        return bool(self.scale)

    @property
    def is_wide_scale(self) -> bool:
        """0–10 and 1–10 wrap onto two lines on a phone."""
        return len(self.scale) > 5


class AnswerForm:
    """`AnswerForm(questions, data)`: rows for the template; `answers()` for the service."""

    def __init__(
        self,
        questions: Iterable[Question],
        data: Mapping[str, Any] | None = None,
        errors: Mapping[str, list[str]] | None = None,
    ) -> None:
        self.questions = list(questions)
        self.data = data
        self.errors = dict(errors or {})
        self.rows = [self._row(question) for question in self.questions]

    def _row(self, question: Question) -> AnswerRow:
        key = f"q{question.pk}"
        row = AnswerRow(question=question, key=key, errors=list(self.errors.get(key, [])))
        if question.kind in SCALES:
            low, high = SCALES[question.kind]
            row.scale = list(range(low, high + 1))
        if question.kind in (QuestionKind.SINGLE, QuestionKind.MULTIPLE):
            row.options = [str(option) for option in question.choices or []]
        if self.data is not None:
            if hasattr(self.data, "getlist"):
                row.values = [str(v) for v in self.data.getlist(key)]
            else:
                raw = self.data.get(key)
                if isinstance(raw, (list, tuple)):
                    row.values = [str(v) for v in raw]
                elif raw is not None:
                    row.values = [str(raw)]
            row.value = row.values[0] if row.values else ""
        return row

    def answers(self) -> dict[str, Any]:
        """What was posted, keyed "q<id>": a list for multiple choice, else a string."""
        result: dict[str, Any] = {}
        for row in self.rows:
            if row.kind == QuestionKind.MULTIPLE:
                result[row.key] = row.values
            else:
                result[row.key] = row.value
        return result

    def set_errors(self, message_dict: Mapping[str, list[str]]) -> list[str]:
        """Put the service's errors on their rows; return those that belong to no question."""
        keys = {row.key for row in self.rows}
        for row in self.rows:
            row.errors = list(message_dict.get(row.key, []))
        return [m for key, messages in message_dict.items() if key not in keys for m in messages]

    @property
    def has_errors(self) -> bool:
        return any(row.errors for row in self.rows)
