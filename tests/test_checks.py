"""Pre-flight checks: validation, leakage, class balance and PII, on toy and real data."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse

from _data import SHARED_DATA
from promptops.errors import EvalsetError
from promptops.evals.checks import (
    class_balance,
    find_leakage,
    find_pii,
    normalize_text,
    validate_cases,
)
from promptops.evals.evalset import Case, case_text, load_evalset

BANKING = SHARED_DATA / "banking77"
SHIPPED = Path(__file__).resolve().parent.parent / "evalsets" / "banking77" / "intent.jsonl"


def _case(
    cid: str,
    text: str = "x",
    expected: str | None = "a",
    split: str = "test",
    line: int = 1,
    **extra: str,
) -> Case:
    return Case(cid, {"message": text, **extra}, expected, split, (), line)


# --------------------------------------------------------------------------- validate_cases


def test_validate_collects_every_problem_with_file_line_and_value() -> None:
    cases = [
        _case("c1", line=1),
        _case("c1", line=2),
        _case("c3", expected="zebra", line=3),
        Case("c4", {"text": "no message"}, "a", "test", (), 4),
        _case("c5", expected=None, line=5),
    ]
    with pytest.raises(EvalsetError) as info:
        validate_cases(cases, ["a", "b"], ["message"], "set.jsonl")
    reason = info.value.reason
    assert info.value.where == "set.jsonl:2"
    assert reason.startswith("4 problems:")
    assert "set.jsonl:2: id 'c1' already used on line 1" in reason
    assert "set.jsonl:3: expected 'zebra' is not one of the prompt's labels (a, b)" in reason
    assert "set.jsonl:4: case 'c4' lacks input variable 'message'" in reason
    assert "set.jsonl:5: case 'c5' has no expected value" in reason


def test_validate_returns_warnings_for_unused_inputs() -> None:
    cases = [_case("c1", channel="email"), _case("c2", expected="b", note="n")]
    findings = validate_cases(
        cases, ["a", "b"], ["message"], "s.csv", optional_variables=["channel"]
    )
    assert [(f.severity, f.kind, f.where) for f in findings] == [
        ("warning", "unused_input", "s.csv:1")
    ]
    assert "'note'" in findings[0].message


def test_validate_empty_and_unlabelled_allowed() -> None:
    with pytest.raises(EvalsetError, match="the evalset has no cases"):
        validate_cases([], ["a"], ["message"], "e.jsonl")
    findings = validate_cases(
        [_case("x", expected=None)], None, [], "g.jsonl", require_expected=False
    )
    assert [(f.severity, f.kind) for f in findings] == [("warning", "unused_input")]


def test_shipped_evalset_validates_against_its_intents() -> None:
    cases = load_evalset(SHIPPED)
    labels = sorted({str(c.expected) for c in cases})
    assert validate_cases(cases, labels, ["message"], SHIPPED) == []


# --------------------------------------------------------------------------- leakage


def test_normalize_text() -> None:
    assert normalize_text("  Hello,\tWORLD!! what's up?\n") == "hello world whats up"


def test_exact_and_near_duplicates_from_train_and_few_shot() -> None:
    train = [
        ("t1", "How do I change my PIN?"),
        ("t2", "My card still has not arrived after two weeks"),
        ("t3", "What is the exchange rate for euros?"),
    ]
    test = [
        ("x1", "how do I change my pin"),  # exact after normalisation
        ("x2", "My card still has not arrived after 2 weeks"),  # near
        ("x3", "Cancel my account please"),  # nothing
        ("x4", "Someone stole my wallet and card"),  # few-shot exact
    ]
    report = find_leakage(train, test, ["someone stole my wallet and card!"])
    found = {(p.test_id, p.source, p.source_id, p.kind) for p in report.pairs}
    assert found == {
        ("x1", "train", "t1", "exact"),
        ("x2", "train", "t2", "near"),
        ("x4", "few_shot", "few_shot-0", "exact"),
    }
    near = next(p for p in report.pairs if p.kind == "near")
    assert 0.9 <= near.similarity < 1.0
    assert report.count("train", "exact") == 1 and report.count("train", "near") == 1
    assert report.leaked_test_ids == ("x1", "x2", "x4")
    strict = find_leakage(train, test, threshold=0.999)
    assert {p.test_id for p in strict.pairs} == {"x1"}


def test_texts_too_short_for_ngrams_still_match_exactly() -> None:
    report = find_leakage([("t", "OK")], [("x", "ok!")])
    assert [(p.test_id, p.kind) for p in report.pairs] == [("x", "exact")]
    assert find_leakage([], [("x", "ok")]).pairs == ()


def _shipped_id_texts() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    cases = load_evalset(SHIPPED)
    train = [(c.id, case_text(c)) for c in cases if c.split == "train"]
    test = [(c.id, case_text(c)) for c in cases if c.split == "test"]
    return train, test


def test_leakage_on_shipped_set_is_chunk_independent_and_matches_sklearn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import promptops.evals.checks as checks

    train, test = _shipped_id_texts()
    # the builder drew the train split so that the suite's check (>= 0.9) finds nothing
    assert find_leakage(train, test).pairs == ()
    # paraphrases remain below that: check the lower threshold against sklearn
    report = find_leakage(train, test, threshold=0.8)
    assert report.count("train", "near") > 0
    expected = _sklearn_leakage(train, test, 0.8)
    assert {(p.test_id, p.source_id) for p in report.pairs} == set(expected)
    for p in report.pairs:
        assert p.similarity == pytest.approx(expected[(p.test_id, p.source_id)], abs=1e-9)
    # neither the comparison blocks nor the test chunks change a bit of the result
    assert find_leakage(train, test, threshold=0.8, chunk_rows=7) == report
    monkeypatch.setattr(checks, "_TEST_CHUNK", 50)
    assert find_leakage(train, test, threshold=0.8) == report


def test_a_pairs_similarity_does_not_depend_on_the_other_test_texts() -> None:
    train, test = _shipped_id_texts()
    report = find_leakage(train, test, threshold=0.8)
    assert report.pairs
    # many more test texts sharing the pairs' words would move an idf fitted on them
    crowd = [(f"more-{i}", f"still waiting for my new card {i}") for i in range(300)]
    with_crowd = find_leakage(train, [*crowd, *test], threshold=0.8)
    assert tuple(p for p in with_crowd.pairs if not p.test_id.startswith("more-")) == report.pairs
    by_id = dict(test)
    for pair in report.pairs:
        alone = find_leakage(train, [(pair.test_id, by_id[pair.test_id])], threshold=0.8)
        assert pair in alone.pairs


def test_leakage_reads_test_once_so_a_generator_will_do(monkeypatch: pytest.MonkeyPatch) -> None:
    import promptops.evals.checks as checks

    train, test = _shipped_id_texts()
    monkeypatch.setattr(checks, "_TEST_CHUNK", 50)  # several chunks from one generator
    streamed = find_leakage(train, (pair for pair in test), threshold=0.8)
    assert streamed.pairs and streamed == find_leakage(train, test, threshold=0.8)


def _sklearn_leakage(
    train: list[tuple[str, str]], test: list[tuple[str, str]], threshold: float
) -> dict[tuple[str, str], float]:
    """What find_leakage reports, from sklearn: vocabulary, idf and unit rows fitted on the
    normalised train texts; a test text weighted (1 + ln tf) * idf over all its n-grams, one
    the train texts lack at the idf of df = 0, scaled to unit norm; a dense dot product."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    norm_train = [normalize_text(t) for _, t in train]
    norm_test = [normalize_text(t) for _, t in test]
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)
    sources = vec.fit_transform(norm_train)
    analyzer = vec.build_analyzer()
    unseen_idf = np.log(1 + len(norm_train)) + 1
    data: list[float] = []
    at: tuple[list[int], list[int]] = ([], [])
    for r, text in enumerate(norm_test):
        grams = Counter(analyzer(text))
        columns = [vec.vocabulary_.get(g) for g in grams]
        idf = np.array([unseen_idf if j is None else vec.idf_[j] for j in columns])
        weights = (1 + np.log(np.array(list(grams.values()), dtype=float))) * idf
        norm = np.sqrt((weights**2).sum())
        for j, weight in zip(columns, weights, strict=True):
            if j is not None:  # unseen: in the norm, in no product
                data.append(weight / norm)
                at[0].append(r)
                at[1].append(j)
    rows = sparse.csr_matrix((data, at), shape=(len(norm_test), sources.shape[1]))
    sims = (rows @ sources.T).toarray()
    found = {}
    for r, c in zip(*np.nonzero(sims >= threshold - 1e-9), strict=True):
        exact = norm_test[r] == norm_train[c]
        found[(test[r][0], train[c][0])] = 1.0 if exact else min(1.0, float(sims[r, c]))
    return found


@pytest.mark.skipif(not BANKING.exists(), reason="needs the BANKING77 source data")
def test_leakage_pairs_equal_sklearn_on_1000_by_1000_banking77() -> None:
    def read(name: str, prefix: str) -> list[tuple[str, str]]:
        with (BANKING / name).open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))[:1000]
        return [(f"{prefix}{i}", row["text"]) for i, row in enumerate(rows)]

    train, test = read("train.csv", "r"), read("test.csv", "t")
    for threshold in (0.8, 0.9):
        report = find_leakage(train, test, threshold=threshold)
        expected = _sklearn_leakage(train, test, threshold)
        assert report.count("train", "near") > 0
        assert {(p.test_id, p.source_id) for p in report.pairs} == set(expected)
        for p in report.pairs:
            assert p.similarity == pytest.approx(expected[(p.test_id, p.source_id)], abs=1e-9)


def test_leakage_blocks_respect_the_cell_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    import promptops.evals.checks as checks

    train, test = _shipped_id_texts()
    full = find_leakage(train, test, threshold=0.8)
    assert full.pairs
    monkeypatch.setattr(checks, "_CELLS_PER_BLOCK", 2 * len(train))  # two rows of cosines
    assert find_leakage(train, test, threshold=0.8) == full  # bit for bit
    monkeypatch.setattr(checks, "_CELLS_PER_BLOCK", 1)  # never less than a row
    assert find_leakage(train, test, threshold=0.8) == full


# --------------------------------------------------------------------------- class balance


def test_class_balance_counts_ratio_and_missing_labels() -> None:
    cases = [_case(f"a{i}", expected="a") for i in range(6)]
    cases += [_case(f"b{i}", expected="b") for i in range(2)]
    cases += [_case("u", expected=None)]
    cases += [_case(f"t{i}", expected="a", split="train") for i in range(3)]
    balance = class_balance(cases, ["a", "b", "c"])
    assert balance.counts == {"test": {"a": 6, "b": 2, "c": 0}, "train": {"a": 3, "b": 0, "c": 0}}
    assert balance.imbalance_ratio == {"test": None, "train": None}
    assert balance.missing_labels == {"test": ("c",), "train": ("b", "c")}
    assert balance.unlabelled == {"test": 1, "train": 0}
    assert class_balance(cases).imbalance_ratio == {"test": 3.0, "train": 1.0}


# --------------------------------------------------------------------------- PII


def test_find_pii_kinds_and_masking() -> None:
    secrets = {
        "email": "jane.doe+bank@example.co.uk",
        "phone": "+44 20 7946 0958",
        "card_number": "4111-1111-1111-1111",
        "iban": "GB82 WEST 1234 5698 7654 32",
    }
    text = (
        f"Mail {secrets['email']} or call {secrets['phone']}. My card {secrets['card_number']}"
        f" and IBAN {secrets['iban']} OK"
    )
    findings = find_pii([_case("p1", text)])
    assert [(f.case_id, f.field, f.kind) for f in findings] == [
        ("p1", "input.message", "email"),
        ("p1", "input.message", "phone"),
        ("p1", "input.message", "card_number"),
        ("p1", "input.message", "iban"),
    ]
    for finding in findings:
        for value in secrets.values():
            assert value not in finding.excerpt
    by_kind = {f.kind: f.excerpt for f in findings}
    assert "j***@***.uk" in by_kind["email"]
    assert "****-****-****-1111" in by_kind["card_number"]
    assert "**** **** **** **** **54 32" in by_kind["iban"]
    assert "+** ** **** **58" in by_kind["phone"]


def test_find_pii_ignores_numbers_that_fail_checks() -> None:
    cases = [
        _case("n1", "card 4111 1111 1111 1112 was declined"),  # Luhn fails
        _case("n2", "IBAN GB82 WEST 1234 5698 7654 33"),  # mod 97 fails
        _case("n3", "I paid 1,250.00 on 2024-03-15 for order 12345"),
        _case("n4", "ok", expected="mail me at a@b.io"),
    ]
    assert [(f.case_id, f.field, f.kind) for f in find_pii(cases)] == [("n4", "expected", "email")]


def test_the_scan_and_serving_share_one_detector() -> None:
    """Presidio's recognisers, where they differ from the regexes the scan had before: a
    lower-case IBAN and an IP address are found, a 7-digit local number is not a phone."""
    from promptops.pii import shared_redactor

    text = "ip 192.168.1.10, iban de89 3704 0044 0532 0130 00, call 555-1234"
    found = find_pii([_case("s", text)])
    assert [f.kind for f in found] == ["ip_address", "iban"]
    assert "192.168.1.10" not in found[0].excerpt and "0130 00" not in found[1].excerpt
    assert shared_redactor().find(text) == ["IBAN_CODE", "IP_ADDRESS"]
    assert shared_redactor().redact(text) == "ip <IP_ADDRESS>, iban <IBAN_CODE>, call 555-1234"


def test_texts_the_analyzer_skips_hold_no_pii_for_it() -> None:
    """The scan skips texts without a digit, `@` or `:`; the analyzer itself finds nothing in
    them either (the shipped texts, and texts made to look like PII without those)."""
    from promptops.pii import ENTITIES, SCORE_THRESHOLD, shared_redactor

    analyzer = shared_redactor().analyzer
    _, test = _shipped_id_texts()
    made = ["mail jane dot doe at example dot com", "IBAN GBXX WEST", "card four one one one"]
    skipped = [t for _, t in test if not any(c.isdigit() or c in "@:" for c in t)] + made
    assert len(skipped) > 100
    for text in skipped:
        found = analyzer.analyze(
            text=text, language="en", entities=list(ENTITIES), score_threshold=SCORE_THRESHOLD
        )
        assert found == [], text


@pytest.mark.skipif(not BANKING.exists(), reason="needs the BANKING77 source data")
def test_no_pii_false_positives_on_all_of_banking77() -> None:
    texts: list[str] = []
    for name in ("train.csv", "test.csv"):
        with (BANKING / name).open(encoding="utf-8", newline="") as handle:
            texts += [row["text"] for row in csv.DictReader(handle)]
    assert len(texts) == 13083
    assert find_pii([_case(str(i), t) for i, t in enumerate(texts)]) == []


def test_every_repeat_of_an_id_names_its_first_use_in_file_order() -> None:
    ids = ["a", "b", "a", "c", "b", "a", *["z"] * 30]
    cases = [_case(cid, line=i + 1) for i, cid in enumerate(ids)]
    with pytest.raises(EvalsetError) as info:
        validate_cases(cases, ["a"], ["message"], "d.jsonl")
    reason = info.value.reason
    assert reason.startswith("32 problems:")  # a twice, b once, z 29 times
    listed = [line for line in reason.splitlines()[1:] if "already used" in line]
    assert listed[:4] == [
        "  d.jsonl:3: id 'a' already used on line 1",
        "  d.jsonl:5: id 'b' already used on line 2",
        "  d.jsonl:6: id 'a' already used on line 1",
        "  d.jsonl:8: id 'z' already used on line 7",
    ]
