"""Citation markers and sentence splitting for grounded answers.

Grounding is judged per sentence, against the passages that sentence cites, so the splitter and
the citation parser have to agree on which marker belongs to which sentence.

Citation syntax (numbers refer to the 1-based passages of the numbered context):

- `[3]`                one passage
- `[1, 2]`, `[1; 2]`   a list (commas or semicolons, any spacing)
- `[1][3]`             adjacent markers are simply two citations
- `[1-3]`, `[1–3]`     an inclusive range (hyphen or en dash), expanded to 1, 2, 3; a range wider
                       than `MAX_RANGE` numbers is kept as its two endpoints only, so a stray
                       `[1-99999]` cannot blow up memory
- `[0]`                a citation, of a passage that does not exist (numbering starts at 1)

Every number counts, repeats included (`[1][1]` cites passage 1 twice), so validity can be the
share of cited numbers that exist. Brackets holding anything else (`[a]`, `[1.5]`, `[see 2]`,
markdown links) are not citations.

Sentence splitting is a deterministic regex pass, no model:

1. Each non-empty line is its own block (bullets and numbered lists end sentences); a leading
   list marker (`-`, `*`, `•`, `1.`, `2)`) is not part of the sentence.
2. Inside a block a sentence ends at `.`, `!` or `?` (plus closing quotes or brackets) followed by
   whitespace, unless the word before the period is a common abbreviation (`e.g.`, `Dr.`,
   `et al.`, single initials) or the next word starts with a lowercase letter.
3. Citation markers right after the end punctuation (`... true. [1] Next ...`) belong to the
   sentence before them, the common placement in model output.
4. A piece with no letters or digits besides citations (a line holding only `[2]`) joins the
   sentence before it, or the one after it at the very start, so no citation is ever lost:
   the sentences' citations, in order, are exactly `parse_citations(answer)`.
   Citation markers do not span lines (spaces and tabs only inside the brackets).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

MAX_RANGE = 100

_NUMBER_LIST = r"\d+(?:[ \t]*[-–][ \t]*\d+)?(?:[ \t]*[,;][ \t]*\d+(?:[ \t]*[-–][ \t]*\d+)?)*"
CITATION_RE = re.compile(r"\[[ \t]*(" + _NUMBER_LIST + r")[ \t]*\](?!\()")
_ITEM_RE = re.compile(r"(\d+)(?:[ \t]*[-–][ \t]*(\d+))?")

# A sentence end: punctuation, closing quotes/brackets, then any trailing citation markers.
_END_RE = re.compile(
    r"[.!?]+[\"'”’)\]]*(?:[ \t]*\[[ \t]*" + _NUMBER_LIST + r"[ \t]*\](?!\())*(?=\s|$)"
)
_ABBREVIATIONS = frozenset(
    [
        "e.g",
        "i.e",
        "etc",
        "al",
        "vs",
        "cf",
        "fig",
        "figs",
        "dr",
        "mr",
        "mrs",
        "ms",
        "prof",
        "st",
        "no",
        "nos",
        "vol",
        "approx",
        "ca",
        "resp",
        "eq",
        "eqs",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "inc",
        "ltd",
        "co",
    ]
)
_WORD_BEFORE_RE = re.compile(r"([A-Za-z][A-Za-z.]*)$")
_HAS_CONTENT_RE = re.compile(r"\w")
_LIST_MARKER_RE = re.compile(r"\s*(?:(?:[-*•]|\d+[.)])\s+)?")


@dataclass(frozen=True)
class Sentence:
    """One answer sentence with its character span in the answer and the numbers it cites."""

    index: int
    text: str
    start: int
    end: int
    citations: tuple[int, ...]

    @property
    def claim(self) -> str:
        """The sentence with its citation markers removed: what the passages must support."""
        return strip_citations(self.text)


def number_passages(passages: Sequence[str]) -> str:
    """The numbered context citations refer to: `[1] first` and `[2] second`, a blank line apart."""
    return "\n\n".join(f"[{number}] {passage}" for number, passage in enumerate(passages, 1))


def parse_citations(text: str) -> list[int]:
    """Every cited number in `text`, in order of appearance, repeats kept, ranges expanded."""
    numbers: list[int] = []
    for marker in CITATION_RE.finditer(text):
        for item in _ITEM_RE.finditer(marker.group(1)):
            low = int(item.group(1))
            if item.group(2) is None:
                numbers.append(low)
                continue
            high = int(item.group(2))
            low, high = min(low, high), max(low, high)
            if high - low + 1 > MAX_RANGE:
                numbers.extend((low, high))
            else:
                numbers.extend(range(low, high + 1))
    return numbers


def strip_citations(text: str) -> str:
    """`text` without citation markers, whitespace tidied (`fact [1] .` -> `fact.`)."""
    stripped = CITATION_RE.sub("", text)
    stripped = re.sub(r"\s+([.,;:!?])", r"\1", stripped)
    return re.sub(r"\s{2,}", " ", stripped).strip()


def _is_boundary(block: str, end_match: re.Match[str]) -> bool:
    """False where the period belongs to an abbreviation or the next word is lowercase."""
    rest = block[end_match.end() :].lstrip()
    if rest and rest[0].islower():
        return False
    punctuation_at = end_match.start()
    if block[punctuation_at] != ".":
        return True
    word = _WORD_BEFORE_RE.search(block[:punctuation_at])
    if word is None:
        return True
    token = word.group(1).lower().rstrip(".")
    return not (token in _ABBREVIATIONS or len(token) == 1)


def _block_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each non-empty line, without surrounding whitespace or a list marker."""
    spans = []
    for line in re.finditer(r"[^\n]+", text):
        content = line.group(0)
        marker = _LIST_MARKER_RE.match(content)
        left = marker.end() if marker else 0
        right = len(content.rstrip())
        if right > left:
            spans.append((line.start() + left, line.start() + right))
    return spans


def _raw_pieces(text: str) -> list[tuple[int, int]]:
    pieces = []
    for block_start, block_end in _block_spans(text):
        block = text[block_start:block_end]
        cursor = 0
        for end_match in _END_RE.finditer(block):
            if not _is_boundary(block, end_match):
                continue
            pieces.append((block_start + cursor, block_start + end_match.end()))
            cursor = end_match.end()
            while cursor < len(block) and block[cursor].isspace():
                cursor += 1
        if cursor < len(block):
            pieces.append((block_start + cursor, block_end))
    return pieces


def split_sentences(text: str) -> list[Sentence]:
    """Split an answer into sentences that keep their citation markers (see module doc)."""
    merged: list[tuple[int, int]] = []
    leading: int | None = None  # start of citation-only pieces before the first sentence
    for start, end in _raw_pieces(text):
        if _HAS_CONTENT_RE.search(strip_citations(text[start:end])):
            merged.append((start if leading is None else leading, end))
            leading = None
        elif merged:
            merged[-1] = (merged[-1][0], end)
        elif leading is None:
            leading = start
    return [
        Sentence(
            index=index,
            text=text[start:end],
            start=start,
            end=end,
            citations=tuple(parse_citations(text[start:end])),
        )
        for index, (start, end) in enumerate(merged)
    ]
