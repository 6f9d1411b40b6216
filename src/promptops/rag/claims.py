"""Claim spans: the entities, numbers and key phrases of a sentence, looked up in its evidence.

A hallucinated answer usually reuses the question's words and swaps the one thing that matters:
a name, a year, a dose, a place. Bag-of-words recall barely moves when one word in ten
changes; a span check names the word that changed. Per sentence we extract:

- entity: a run of capitalised words, linked by a few lowercase particles ("Bank of
  England", "Ludwig van Beethoven"), matched as a contiguous token sequence;
- number: a standalone digit group ("1987", "0.72", "1,000" read as 1000; not the 5 of
  "CCR5", which is part of a word), matched as a sequence;
- phrase: two adjacent content words ("fashion magazine"), not split by a bracket, parenthesis
  or semicolon (where citation markers sit: "risk factor [10], possibly" has no phrase
  "factor possibly"), matched adjacent in the evidence's content words or in its full token
  sequence;
- word: each content word, matched anywhere in the evidence.

Tokens are lowercase alphanumeric runs, a decimal number being one token ("5.25"); content
words are the tokens that are not English stop words
(scikit-learn's list, plus "yes"); a bare "Yes." or "No." makes no claim this check can test.
Normalisation, the same for claim and evidence: Unicode NFKD with accents removed,
lowercase, thousands separators dropped, and a light plural strip ("magazines" ->
"magazine", "studies" -> "study"). A sentence's `claim_support` is the share of its spans found
(1.0 when it has none); the spans not found are its reasons.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

STOP_WORDS = ENGLISH_STOP_WORDS | {"yes"}
_TOKEN_RE = re.compile(r"\d+(?:\.\d+)+|[a-z0-9]+")
_THOUSANDS_RE = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_NUMBER_RE = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*(?![A-Za-z0-9])")
_CLAUSE_RE = re.compile(r"[;()\[\]{}]")
_PARTICLES = r"(?:of|the|and|de|del|da|van|von|der|du|la|le|for|in|on|&)"
_CAPITALISED = r"[A-Z][\w'’.\-]*"
_ENTITY_RE = re.compile(rf"(?<![\w'’\-]){_CAPITALISED}(?:\s+(?:{_PARTICLES}\s+)*{_CAPITALISED})*")


@dataclass(frozen=True)
class ClaimSpan:
    """One checkable piece of a sentence: its kind, its text and its normalised tokens."""

    kind: str  # entity | number | phrase | word
    text: str
    tokens: tuple[str, ...]


@dataclass(frozen=True)
class ClaimCheck:
    """A sentence's spans split into found and missing in the evidence."""

    found: tuple[ClaimSpan, ...]
    missing: tuple[ClaimSpan, ...]

    @property
    def support(self) -> float:
        total = len(self.found) + len(self.missing)
        return 1.0 if total == 0 else len(self.found) / total

    def reasons(self) -> list[str]:
        """One line per missing span, e.g. `number "1987" not found`."""
        return [f'{span.kind} "{span.text}" not found' for span in self.missing]


def _stem(token: str) -> str:
    if len(token) > 4 and token.endswith("ies"):
        return token[:-3] + "y"
    if len(token) > 3 and token.endswith("es") and token[-3] in "sxz":
        return token[:-2]
    if len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
        return token[:-1]
    return token


def normalise(text: str) -> str:
    """Accents off, lowercase, curly quotes straight, thousands separators dropped."""
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return _THOUSANDS_RE.sub("", folded.replace("’", "'").lower())


def tokens(text: str) -> tuple[str, ...]:
    """Normalised, lightly stemmed alphanumeric tokens."""
    return tuple(_stem(t) for t in _TOKEN_RE.findall(normalise(text)))


def claim_spans(sentence: str) -> list[ClaimSpan]:
    """The sentence's entities, numbers, phrases and content words, each once."""
    spans: list[ClaimSpan] = []
    for match in _ENTITY_RE.finditer(sentence):
        words = match.group(0).rstrip(".'’-").split()
        while words and words[0].lower() in STOP_WORDS:  # "The Bank of England" -> "Bank of..."
            words = words[1:]
        text = " ".join(words)
        toks = tokens(text)
        if any(t not in STOP_WORDS and not t.isdigit() for t in toks):
            spans.append(ClaimSpan("entity", text, toks))
    for match in _NUMBER_RE.finditer(_THOUSANDS_RE.sub("", sentence)):
        spans.append(ClaimSpan("number", match.group(0), tokens(match.group(0))))
    runs: list[list[str]] = []
    for clause in _CLAUSE_RE.split(sentence):
        runs.append([])
        for token in tokens(clause):
            if token in STOP_WORDS:
                runs.append([])
            else:
                runs[-1].append(token)
    named = {span.tokens for span in spans}  # a one-word entity or number is not a word again
    for run in runs:
        spans += [ClaimSpan("phrase", f"{a} {b}", (a, b)) for a, b in itertools.pairwise(run)]
        spans += [ClaimSpan("word", t, (t,)) for t in run if (t,) not in named]
    unique: dict[tuple[str, tuple[str, ...]], ClaimSpan] = {}
    for span in spans:
        unique.setdefault((span.kind, span.tokens), span)
    return list(unique.values())


@dataclass(frozen=True)
class Evidence:
    """Evidence text prepared for lookups: token sequences and the set of tokens."""

    sequences: tuple[tuple[str, ...], ...]
    vocabulary: frozenset[str]

    def contains(self, span: ClaimSpan) -> bool:
        if span.kind == "word":
            return span.tokens[0] in self.vocabulary
        if not set(span.tokens) <= self.vocabulary:
            return False
        return any(_has_run(seq, span.tokens) for seq in self.sequences)


@lru_cache(maxsize=4096)
def _prepared(passage: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A passage's full token sequence and its content-word sequence."""
    full = tokens(passage)
    return full, tuple(t for t in full if t not in STOP_WORDS)


def prepare_evidence(passages: Sequence[str]) -> Evidence:
    sequences = [seq for passage in passages for seq in _prepared(passage)]
    return Evidence(tuple(sequences), frozenset(t for seq in sequences for t in seq))


def _has_run(sequence: tuple[str, ...], run: tuple[str, ...]) -> bool:
    n = len(run)
    first = run[0]
    start = 0
    while True:
        try:
            i = sequence.index(first, start)
        except ValueError:
            return False
        if sequence[i : i + n] == run:
            return True
        start = i + 1


def check_claims(sentence: str, evidence: Evidence) -> ClaimCheck:
    """Which of the sentence's claim spans the evidence holds."""
    found: list[ClaimSpan] = []
    missing: list[ClaimSpan] = []
    for span in claim_spans(sentence):
        (found if evidence.contains(span) else missing).append(span)
    return ClaimCheck(tuple(found), tuple(missing))
