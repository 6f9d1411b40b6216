"""Value normalisation per field, as the suite declares it: never guessed.

Whether "Classical Relaxations" and "classical relaxations." are the same playlist is a
decision about the data, so the suite names the steps for every field (a default plus
per-field overrides) and the scorer applies exactly those, in this order:

- `case`: Unicode case folding.
- `whitespace`: runs of whitespace collapsed to one space, ends stripped.
- `punctuation`: every Unicode punctuation character removed (then whitespace collapsed).
- `numbers`: a value that reads as a number ("2", "2.0", "two", "twenty-one") becomes its
  canonical digits ("2", "21"); other values are left alone.

A JSON value that is not a string is first written as JSON (`true`, `3`, `2.5`), so the
number 3 and the string "3" agree only when `numbers` is declared.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Step = Literal["case", "whitespace", "punctuation", "numbers"]
ORDER: tuple[Step, ...] = ("case", "whitespace", "punctuation", "numbers")

_UNITS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_WORDS = {word: i for i, word in enumerate(_UNITS)} | {w: 20 + 10 * i for i, w in enumerate(_TENS)}
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


class FieldNormalization(BaseModel):
    """`normalize:` in an extraction suite: steps for every field, and per-field overrides
    (an override replaces the default for that field, it does not add to it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: tuple[Step, ...] = Field(("whitespace",), description="steps for every field")
    fields: dict[str, tuple[Step, ...]] = Field(default_factory=dict)

    def steps(self, field: str) -> tuple[Step, ...]:
        chosen = self.fields.get(field, self.default)
        return tuple(step for step in ORDER if step in chosen)

    def apply(self, field: str, value: Any) -> str:
        return normalize_value(value, self.steps(field))


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _number_words(text: str) -> int | None:
    """21 for "twenty-one" or "twenty one", 7 for "seven"; None for anything else."""
    words = text.lower().replace("-", " ").split()
    if len(words) == 1 and words[0] in _WORDS:
        return _WORDS[words[0]]
    if len(words) == 2 and words[0] in _TENS and words[1] in _UNITS[1:10]:
        return _WORDS[words[0]] + _WORDS[words[1]]
    return None


def canonical_number(text: str) -> str | None:
    """Digits for a value that reads as one number, else None."""
    stripped = text.strip()
    if _NUMBER.match(stripped):
        number = float(stripped)
        return str(int(number)) if number.is_integer() else repr(number)
    spoken = _number_words(stripped)
    return None if spoken is None else str(spoken)


def normalize_value(value: Any, steps: Sequence[Step]) -> str:
    text = _as_text(value)
    if "case" in steps:
        text = text.casefold()
    if "punctuation" in steps:
        text = "".join(ch for ch in text if not unicodedata.category(ch).startswith("P"))
    if "whitespace" in steps or "punctuation" in steps:
        text = " ".join(text.split())
    if "numbers" in steps:
        number = canonical_number(text)
        if number is not None:
            text = number
    return text


def normalized_fields(
    items: Sequence[tuple[str, Any]], norm: FieldNormalization
) -> list[tuple[str, str]]:
    return [(field, norm.apply(field, value)) for field, value in items]


def declared_steps(norm: FieldNormalization, fields: Mapping[str, object]) -> dict[str, str]:
    """Field -> its steps as one string, for the report ("case, whitespace")."""
    return {field: ", ".join(norm.steps(field)) or "none" for field in sorted(fields)}
