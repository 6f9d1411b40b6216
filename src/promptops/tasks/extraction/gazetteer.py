"""The extraction baseline: a gazetteer of train-split values found again in the input.

Fit: every (field, value) item of the train split's gold objects; a value seen under several
fields keeps the field it was seen under most often (ties: the field name first in sorted
order). Predict: scan the input text, case-insensitively and on word boundaries, for known
values, longest first, without overlaps; each field takes the first match in the text.

A prompt that cannot beat looking up strings it was shown in training has not learned to
extract anything; on SNIPS the gazetteer catches recurring values (playlists, cities, "my")
and misses every unseen name.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from promptops.tasks.extraction.scoring import flatten

_MIN_CHARS = 2  # single characters match everywhere; no gazetteer entry is that short


@dataclass(frozen=True)
class Gazetteer:
    """Known values (as written, lower-cased key) -> field."""

    entries: dict[str, str]

    @cached_property
    def _longest_first(self) -> list[str]:
        return sorted(self.entries, key=lambda k: (-len(k), k))

    @property
    def size(self) -> int:
        return len(self.entries)

    def extract(self, text: str) -> dict[str, str]:
        """{field: value as written in `text`} for the known values found in it."""
        lowered = text.casefold()
        if len(lowered) != len(text):  # "ß" -> "ss" would shift the offsets
            lowered = text.lower() if len(text.lower()) == len(text) else text
        taken = [False] * len(text)
        found: list[tuple[int, str, str]] = []
        for key in self._longest_first:
            start = lowered.find(key)
            while start >= 0:
                end = start + len(key)
                bounded = _edge(lowered, start - 1) and _edge(lowered, end)
                if bounded and not any(taken[start:end]):
                    taken[start:end] = [True] * (end - start)
                    found.append((start, self.entries[key], text[start:end]))
                start = lowered.find(key, start + 1)
        answer: dict[str, str] = {}
        for _, name, value in sorted(found):
            answer.setdefault(name, value)
        return answer

    def answer(self, text: str) -> str:
        """The extraction as the JSON text a prompt would answer."""
        return json.dumps(self.extract(text), ensure_ascii=False)


def _edge(text: str, at: int) -> bool:
    """True when position `at` is outside `text` or not a word character."""
    return not 0 <= at < len(text) or not (text[at].isalnum() or text[at] == "_")


def fit_gazetteer(golds: Sequence[Mapping[str, Any]]) -> Gazetteer:
    votes: dict[str, Counter[str]] = {}
    for gold in golds:
        for name, value in flatten(gold):
            key = str(value).casefold().strip()
            if len(key) >= _MIN_CHARS:
                votes.setdefault(key, Counter())[name] += 1
    entries = {
        key: min(counter.items(), key=lambda item: (-item[1], item[0]))[0]
        for key, counter in votes.items()
    }
    return Gazetteer(entries)
