"""Turn a chat-completion choice into a label, label probabilities, or an honest "invalid".

The label comes only from the answer text, matched exactly (after trimming whitespace,
surrounding quotes or backticks, a code fence and a trailing period; case-insensitive): an
answer that is not one of the labels is invalid and kept as text, never mapped to a near label,
because silent repair would hide prompt regressions. Probabilities come, in order of
preference, from a `label_probs` extension field on the choice (the embedded model adds it) or
from the endpoint's token logprobs.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from openai.types.chat.chat_completion import Choice, ChoiceLogprobs

_QUOTES = "\"'`"
_JSON_LABEL_VALUE = re.compile(r'"label"\s*:\s*"')
_FENCE = re.compile(r"^```[A-Za-z0-9_-]*\s*\n?(.*?)\n?\s*```$", re.DOTALL)


@dataclass(frozen=True)
class ParsedAnswer:
    text: str | None
    label: str | None = None
    label_probs: dict[str, float] | None = None
    invalid: bool = False


def parse_choice(choice: Choice, labels: Sequence[str] | None) -> ParsedAnswer:
    """Read one choice; without `labels` the call is free text and only `text` is set."""
    text = choice.message.content
    if labels is None:
        return ParsedAnswer(text)
    label = match_label(text, labels) if text is not None else None
    probs = probs_from_extension(choice.model_extra, labels)
    if probs is None and choice.logprobs is not None:
        probs = probs_from_logprobs(choice.logprobs, labels)
    return ParsedAnswer(text, label, probs, invalid=label is None)


def match_label(text: str, labels: Sequence[str]) -> str | None:
    """The label `text` names exactly (JSON `{"label": ...}` or plain), else None."""
    candidate = text.strip()
    fenced = _FENCE.match(candidate)
    if fenced:
        candidate = fenced.group(1).strip()
    if candidate.startswith("{"):
        try:
            data = json.loads(candidate)
        except ValueError:
            return None
        value = data.get("label") if isinstance(data, dict) else None
        if not isinstance(value, str):
            return None
        candidate = value
    exact = {label: label for label in labels}
    folded: dict[str, str | None] = {}
    for label in labels:  # labels equal up to case cannot be told apart by folding
        key = label.casefold()
        folded[key] = None if key in folded and folded[key] != label else label
    for form in _trimmed_forms(candidate):
        if form in exact:
            return form
        match = folded.get(form.casefold())
        if match is not None:
            return match
    return None


def _trimmed_forms(text: str) -> list[str]:
    """`text`, then successively stripped of whitespace, a trailing period and one pair of
    surrounding quotes or backticks, until nothing changes."""
    forms = [text]
    current = text
    while True:
        trimmed = current.strip()
        trimmed = trimmed.removesuffix(".").rstrip()
        if len(trimmed) >= 2 and trimmed[0] == trimmed[-1] and trimmed[0] in _QUOTES:
            trimmed = trimmed[1:-1]
        if trimmed == current:
            return forms
        forms.append(trimmed)
        current = trimmed


def probs_from_extension(
    extra: Mapping[str, Any] | None, labels: Sequence[str]
) -> dict[str, float] | None:
    """Use a `label_probs` extension field as given; labels it omits get 0."""
    raw = (extra or {}).get("label_probs")
    if not isinstance(raw, Mapping):
        return None
    probs: dict[str, float] = {}
    for label in labels:
        value = raw.get(label, 0.0)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        if not math.isfinite(value) or value < 0:
            return None
        probs[label] = float(value)
    return probs if any(probs.values()) else None


def probs_from_logprobs(logprobs: ChoiceLogprobs, labels: Sequence[str]) -> dict[str, float] | None:
    """Label probabilities from the top logprobs at the token where the label starts.

    Approximation, by design cheap: only the label's first token is scored. Each alternative
    token there (e.g. " Pos", "neg") is credited to every label it begins, or that it
    contains whole followed by a non-alphanumeric character; a token that begins several labels
    splits its mass equally; mass on tokens that begin no label is dropped and the rest is
    renormalised. Labels that share a first token are therefore not told apart. Returns None
    when the label position cannot be found or no alternative begins a label.
    """
    tokens = logprobs.content or []
    if not tokens:
        return None
    joined = "".join(t.token for t in tokens)
    start = _label_offset(joined)
    if start is None:
        return None
    position = 0
    for token in tokens:
        end = position + len(token.token)
        if position <= start < end:
            break
        position = end
    else:
        return None
    prefix = joined[position:start]
    alternatives = [(alt.token, alt.logprob) for alt in token.top_logprobs] or [
        (token.token, token.logprob)
    ]
    mass = dict.fromkeys(labels, 0.0)
    seen: set[str] = set()
    for alt_token, logprob in alternatives:
        if alt_token in seen or not alt_token.startswith(prefix):
            continue
        seen.add(alt_token)
        piece = alt_token[len(prefix) :].casefold()
        matches = [label for label in labels if _piece_begins(piece, label.casefold())]
        for label in matches:
            mass[label] += math.exp(logprob) / len(matches)
    total = sum(mass.values())
    if total <= 0:
        return None
    return {label: value / total for label, value in mass.items()}


def _label_offset(text: str) -> int | None:
    """Where the label starts: after `"label": "` in JSON, else at the first character that is
    not whitespace, a quote or a backtick."""
    found = _JSON_LABEL_VALUE.search(text)
    if found:
        return found.end()
    for i, char in enumerate(text):
        if not char.isspace() and char not in _QUOTES:
            return i
    return None


def _piece_begins(piece: str, label: str) -> bool:
    if not piece:
        return False
    if label.startswith(piece):
        return True
    return piece.startswith(label) and not piece[len(label)].isalnum()
