"""What passes between the review page and the review services, and the checks on every value.

Split from :mod:`reviewer.review` (which re-exports the public names) so that the rules for a form
value live in one short module the page and the services share: the page takes vocabularies and
limits from here, the service refuses anything else with a message the page can show as it is. The
item view types carry only opaque tokens, never a CAM type, a prediction or another expert's answer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from db.models import CLASS_GUESSES, Answer, CamAsset
from reviewer.vocab import LUNG_PATTERNS, SCORE_MAX, SCORE_MIN, UNSURE, LusClass, Pattern, Preference, values

MAX_COMMENT = 2000
MAX_SECONDS_PER_SAVE = 3600.0  # autosave runs on every change; the page must not count idle hours
VISIBLE = tuple(p.value for p in LUNG_PATTERNS)
HIGHLIGHTED = tuple(values(Pattern))  # lung patterns plus the off-target tags
PREFERENCES = tuple(values(Preference))
GUESSES = tuple(CLASS_GUESSES)
GUESS_CHOICES = (
    LusClass.COVID.value,
    LusClass.PNEUMONIA.value,
    LusClass.VIRAL.value,
    LusClass.HEALTHY.value,
    UNSURE,
)
"""The class guesses the form offers; 'uninformative' videos are not put into studies."""
FIELDS = (
    "score_a",
    "score_b",
    "preferred",
    "class_guess",
    "patterns_visible",
    "patterns_a",
    "patterns_b",
    "comment",
)
REQUIRED = {
    "score_a": "score A",
    "score_b": "score B",
    "preferred": "preferred heatmap",
    "class_guess": "class guess",
}


class ReviewError(ValueError):
    """An expert request that cannot be honoured; the message is safe to show."""


class FormError(ReviewError):
    """Form values that cannot be stored; ``problems`` lists each one for the page."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(" ".join(problems))
        self.problems = tuple(problems)


class StaleAnswerError(ReviewError):
    """The answer changed (another tab or window) since the page loaded it."""


@dataclass(frozen=True, slots=True)
class AnswerForm:
    """What the form sends; ``seconds_spent`` is the time since the previous save, not a total."""

    score_a: int | None = None
    score_b: int | None = None
    preferred: str | None = None
    class_guess: str | None = None
    patterns_visible: tuple[str, ...] = ()
    patterns_a: tuple[str, ...] = ()
    patterns_b: tuple[str, ...] = ()
    comment: str | None = None
    seconds_spent: float = 0.0


@dataclass(frozen=True, slots=True)
class Panel:
    """One heatmap panel, named only by its opaque asset token; paths are relative to the home."""

    token: str
    overlay_path: str
    raw_path: str

    @classmethod
    def of(cls, asset: CamAsset) -> Panel:
        """The panel of a stored asset; its kind stays behind."""
        return cls(token=asset.token, overlay_path=asset.overlay_path, raw_path=asset.raw_path)


@dataclass(frozen=True, slots=True)
class SavedAnswer:
    """The expert's own stored answer; send ``revision`` back as ``expected_revision``."""

    form: AnswerForm
    complete: bool
    revision: int
    seconds_spent: float

    @classmethod
    def of(cls, answer: Answer) -> SavedAnswer:
        """The stored row as the page edits it (lists become tuples, time is the running total)."""
        form = AnswerForm(
            score_a=answer.score_a,
            score_b=answer.score_b,
            preferred=answer.preferred,
            class_guess=answer.class_guess,
            patterns_visible=tuple(answer.patterns_visible),
            patterns_a=tuple(answer.patterns_a),
            patterns_b=tuple(answer.patterns_b),
            comment=answer.comment,
        )
        return cls(
            form=form, complete=answer.complete, revision=answer.revision, seconds_spent=answer.seconds_spent
        )


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """Everything the page may show for one position: blinded by construction."""

    study_id: int
    position: int
    total: int
    item_token: str
    video_id: int
    video_path: str
    panel_a: Panel
    panel_b: Panel
    answer: SavedAnswer | None


@dataclass(frozen=True, slots=True)
class StudyProgress:
    """An open study of the expert and how many of their items are complete."""

    study_id: int
    name: str
    done: int
    total: int

    @property
    def label(self) -> str:
        """Progress as the page shows it, e.g. "12 / 50"."""
        return f"{self.done} / {self.total}"


def missing_fields(form: AnswerForm) -> list[str]:
    """Names of the required values the form still lacks, so the page can say what is left to do."""
    return [label for name, label in REQUIRED.items() if getattr(form, name) is None]


def checked_values(form: AnswerForm, *, complete: bool) -> dict[str, Any]:
    """Every form value validated and normalised; all problems are reported at once.

    Raises:
        FormError: listing every problem, so the expert fixes them in one go.
    """
    problems: list[str] = []
    for name, label in (("score_a", "Score A"), ("score_b", "Score B")):
        score = getattr(form, name)
        if score is not None and not (_is_int(score) and SCORE_MIN <= score <= SCORE_MAX):
            problems.append(f"{label} must be a whole number from {SCORE_MIN} to {SCORE_MAX}.")
    if form.preferred is not None and form.preferred not in PREFERENCES:
        problems.append("The preferred heatmap must be A, B or equal.")
    if form.class_guess is not None and form.class_guess not in GUESSES:
        problems.append(f"The class guess must be one of: {', '.join(GUESSES)}.")
    new = {
        "score_a": form.score_a,
        "score_b": form.score_b,
        "preferred": form.preferred,
        "class_guess": form.class_guess,
        "patterns_visible": _patterns(form.patterns_visible, VISIBLE, "Patterns visible", problems),
        "patterns_a": _patterns(form.patterns_a, HIGHLIGHTED, "Patterns highlighted by A", problems),
        "patterns_b": _patterns(form.patterns_b, HIGHLIGHTED, "Patterns highlighted by B", problems),
        "comment": _comment(form.comment, problems),
    }
    seconds = form.seconds_spent
    if not (_is_number(seconds) and 0 <= seconds <= MAX_SECONDS_PER_SAVE):
        problems.append(f"The time spent must be between 0 and {MAX_SECONDS_PER_SAVE:.0f} seconds.")
    missing = missing_fields(form)
    if complete and missing:
        problems.append(f"To finish this video, please give the {', '.join(missing)}.")
    if problems:
        raise FormError(problems)
    return new


def _patterns(given: object, allowed: tuple[str, ...], label: str, problems: list[str]) -> list[str]:
    """Known patterns in vocabulary order, each once; anything else is a problem."""
    if not isinstance(given, tuple | list):
        problems.append(f"{label} must be a list of patterns.")
        return []
    unknown = [p for p in given if p not in allowed]
    if unknown:
        problems.append(f"{label}: unknown pattern(s) {', '.join(map(repr, unknown))}.")
    return [p for p in allowed if p in given]


def _comment(comment: object, problems: list[str]) -> str | None:
    if comment is None:
        return None
    if not isinstance(comment, str) or "\x00" in comment or len(comment) > MAX_COMMENT:
        problems.append(f"The comment must be text of at most {MAX_COMMENT} characters.")
        return None
    return comment.strip() or None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
