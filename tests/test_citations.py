"""Citation parsing and sentence splitting: the syntax table, the splitter's rules, invariants."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptops.rag.citations import (
    MAX_RANGE,
    number_passages,
    parse_citations,
    split_sentences,
    strip_citations,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Paris [1].", [1]),
        ("lists [1, 2] and [3;4] and [ 5 ,6 ]", [1, 2, 3, 4, 5, 6]),
        ("adjacent [1][3]", [1, 3]),
        ("ranges [1-3] and [7–8] and [4 - 2]", [1, 2, 3, 7, 8, 2, 3, 4]),
        ("mixed [1, 3-4; 9]", [1, 3, 4, 9]),
        ("repeats count [2] again [2]", [2, 2]),
        ("zero is a citation [0]", [0]),
        ("not citations: [a] [1.5] [see 2] [] [1,] [link](http://x) [3](y)", []),
        ("no line breaks inside [1,\n2]", []),
    ],
)
def test_parse_citations(text: str, expected: list[int]) -> None:
    assert parse_citations(text) == expected


def test_wide_range_keeps_endpoints_only() -> None:
    assert parse_citations(f"[1-{MAX_RANGE}]") == list(range(1, MAX_RANGE + 1))
    assert parse_citations(f"[1-{MAX_RANGE + 1}]") == [1, MAX_RANGE + 1]
    assert parse_citations("[5-99999999]") == [5, 99999999]


def test_strip_citations_tidies_space_before_punctuation() -> None:
    assert strip_citations("Paris is big [1] [2, 3].") == "Paris is big."
    assert strip_citations("A [1], then B [2-3]; done") == "A, then B; done"


def test_number_passages_matches_citation_numbers() -> None:
    assert number_passages(["alpha", "beta"]) == "[1] alpha\n\n[2] beta"
    assert number_passages([]) == ""


def _split(text: str) -> list[tuple[str, tuple[int, ...]]]:
    return [(s.text, s.citations) for s in split_sentences(text)]


def test_split_keeps_citations_with_their_sentence() -> None:
    text = "Paris is the capital of France [1]. It has 2.1 million people [2, 3]! Why? Because."
    assert _split(text) == [
        ("Paris is the capital of France [1].", (1,)),
        ("It has 2.1 million people [2, 3]!", (2, 3)),
        ("Why?", ()),
        ("Because.", ()),
    ]


def test_markers_after_the_period_belong_to_the_sentence_before() -> None:
    assert _split("A claim. [1] Another claim.[2][3] Last") == [
        ("A claim. [1]", (1,)),
        ("Another claim.[2][3]", (2, 3)),
        ("Last", ()),
    ]


def test_abbreviations_initials_and_lowercase_do_not_end_sentences() -> None:
    text = "Smith et al. found it, e.g. in mice. Fig. 2 shows J. Doe was right. it goes on."
    assert [s.text for s in split_sentences(text)] == [
        "Smith et al. found it, e.g. in mice.",
        "Fig. 2 shows J. Doe was right. it goes on.",
    ]


def test_lines_and_list_markers() -> None:
    text = "Summary:\n- first point [1]\n2) second point [2]\n\n* third\n[4]\n"
    sentences = split_sentences(text)
    assert [s.claim for s in sentences] == ["Summary:", "first point", "second point", "third"]
    assert [s.citations for s in sentences] == [(), (1,), (2,), (4,)]
    assert sentences[1].text == "first point [1]"
    assert text[sentences[1].start : sentences[1].end] == "first point [1]"


def test_leading_citation_only_piece_joins_the_next_sentence() -> None:
    sentences = split_sentences("[2]\nThe claim.")
    assert len(sentences) == 1
    assert sentences[0].citations == (2,)
    assert sentences[0].claim == "The claim."


def test_empty_and_citation_only_answers() -> None:
    assert split_sentences("") == []
    assert split_sentences("  \n ") == []
    assert split_sentences("[1] [2]") == []


_WORDS = st.sampled_from(["Paris", "is", "big", "e.g.", "Dr.", "3.5", "it", "A", "x"])
_MARKS = st.sampled_from(["[1]", "[2, 3]", "[1-2]", "[0]", "[9][4]", "[a]"])
_ENDS = st.sampled_from([".", "!", "?", "", ".)", '."', "\n", "\n- ", "\n\n"])
_PIECE = st.one_of(_WORDS, _MARKS, _ENDS)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECE, max_size=30).map(" ".join))
def test_split_invariants(text: str) -> None:
    sentences = split_sentences(text)
    # spans are ordered, disjoint and point back into the answer
    for before, after in pairwise(sentences):
        assert before.end <= after.start
    for index, sentence in enumerate(sentences):
        assert sentence.index == index
        assert text[sentence.start : sentence.end] == sentence.text
        assert sentence.text == sentence.text.strip()
        assert any(ch.isalnum() or ch == "_" for ch in sentence.claim)
    # no citation is lost or invented (unless nothing in the answer is a sentence at all)
    if sentences:
        cited = [n for s in sentences for n in s.citations]
        assert cited == parse_citations(text)
