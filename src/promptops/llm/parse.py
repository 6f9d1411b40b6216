"""Turn a chat-completion choice into a label, label probabilities, or an honest "invalid".

The label comes only from the answer text, matched exactly (after trimming whitespace,
surrounding quotes or backticks, a code fence and a trailing period; case-insensitive): an
answer that is not one of the labels is invalid and kept as text, never mapped to a near label,
because silent repair would hide prompt regressions. Probabilities come, in order of
preference, from a `label_probs` extension field on the choice (the embedded model adds it) or
from the endpoint's token logprobs. A choice is read as the plain JSON the endpoint sent (the
client skips the SDK's response models, which cost more per call than everything else here);
optional parts that are not shaped as the API documents them are ignored, not trusted.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from promptops.llm.retry import MalformedResponseError

_QUOTES = "\"'`"
_JSON_LABEL_VALUE = re.compile(r'"label"\s*:\s*"')
_FENCE = re.compile(r"^```[A-Za-z0-9_-]*\s*\n?(.*?)\n?\s*```$", re.DOTALL)


@dataclass(frozen=True)
class ParsedAnswer:
    text: str | None
    label: str | None = None
    label_probs: dict[str, float] | None = None
    invalid: bool = False


def parse_choice(choice: object, labels: Sequence[str] | None) -> ParsedAnswer:
    """Read one entry of the response JSON's `choices`; without `labels` the call is free text
    and only `text` is set. A choice without a message, or whose content is not text, raises
    `MalformedResponseError` (the endpoint may do better on a retry)."""
    message = choice.get("message") if isinstance(choice, Mapping) else None
    if not isinstance(choice, Mapping) or not isinstance(message, Mapping):
        raise MalformedResponseError("the response has no message")
    text = message.get("content")
    if text is not None and not isinstance(text, str):
        raise MalformedResponseError("the message content is not a string")
    if labels is None:
        return ParsedAnswer(text)
    label = match_label(text, labels) if text is not None else None
    probs = probs_from_extension(choice, labels)
    if probs is None:
        logprobs = choice.get("logprobs")
        if isinstance(logprobs, Mapping):
            probs = probs_from_logprobs(logprobs, labels)
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
    choice: Mapping[str, Any], labels: Sequence[str]
) -> dict[str, float] | None:
    """Use the choice's `label_probs` extension field as given; labels it omits get 0."""
    raw = choice.get("label_probs")
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


def probs_from_logprobs(
    logprobs: Mapping[str, Any], labels: Sequence[str]
) -> dict[str, float] | None:
    """Label probabilities from the top logprobs (the choice's `logprobs` JSON) at the token
    where the label starts.

    Approximation, by design cheap: only the label's first token is scored. Each alternative
    token there (e.g. " Pos", "neg") is credited to every label it begins, or that it
    contains whole followed by a non-alphanumeric character; a token that begins several labels
    splits its mass equally; mass on tokens that begin no label is dropped and the rest is
    renormalised. Labels that share a first token are therefore not told apart. Returns None
    when the label position cannot be found, no alternative begins a label, or the logprobs
    are not shaped as the API documents them.
    """
    tokens = _token_entries(logprobs.get("content"))
    if not tokens:
        return None
    joined = "".join(token for token, _, _ in tokens)
    start = _label_offset(joined)
    if start is None:
        return None
    position = 0
    for entry in tokens:
        end = position + len(entry[0])
        if position <= start < end:
            break
        position = end
    else:
        return None
    token, logprob, top = entry
    prefix = joined[position:start]
    alternatives = top or [(token, logprob)]
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


def _token_entries(content: object) -> list[tuple[str, float, list[tuple[str, float]]]] | None:
    """`(token, logprob, [(alternative, logprob), ...])` per sampled token; None when any
    entry is malformed."""
    if not isinstance(content, list):
        return None
    entries = []
    for item in content:
        if not isinstance(item, Mapping):
            return None
        sampled = _token_logprob(item)
        top = item.get("top_logprobs") or []
        if sampled is None or not isinstance(top, list):
            return None
        alternatives = []
        for alt in top:
            pair = _token_logprob(alt)
            if pair is None:
                return None
            alternatives.append(pair)
        entries.append((sampled[0], sampled[1], alternatives))
    return entries


def _token_logprob(item: object) -> tuple[str, float] | None:
    """`(token, logprob)` of a `{"token": ..., "logprob": ...}` entry, else None."""
    if not isinstance(item, Mapping):
        return None
    token, logprob = item.get("token"), item.get("logprob")
    if not isinstance(token, str) or isinstance(logprob, bool):
        return None
    if not isinstance(logprob, int | float) or math.isnan(logprob) or logprob == math.inf:
        return None
    return token, float(logprob)


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
