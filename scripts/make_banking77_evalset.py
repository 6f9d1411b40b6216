"""Build evalsets/banking77/intent.jsonl, the shipped 6-intent subset of BANKING77.

Usage: python scripts/make_banking77_evalset.py [SOURCE_DIR] [OUT_DIR]
(defaults: ../shared/data/banking77 and evalsets/banking77 next to this script).

How the subset is made, so anyone can rebuild it byte for byte from the official files:

1. Read the official `train.csv` and `test.csv` (columns `text,category`) and keep the rows
   of the six intents in `INTENTS`. Row index = 0-based position among the data rows of the
   file (header excluded). Texts are stripped of leading/trailing whitespace.
2. Test split: every kept test row (40 per intent = 240), id `test-<intent>-<row index>`.
3. Train candidates: kept train rows, minus rows whose text equals a test text after
   `promptops.evals.checks.normalize_text` (lowercase, no punctuation, collapsed
   whitespace), minus later repeats of an earlier train text (same normalisation), minus
   rows that are near duplicates (paraphrases) of a test text: cosine >= the `intent`
   suite's `leakage.near_duplicate_threshold` (evalsets/intent.yaml) between character
   3-5-gram TF-IDF vectors (scikit-learn's `TfidfVectorizer(analyzer="char_wb",
   sublinear_tf=True)`) of the normalised
   texts, fitted on the candidates and the test texts together.
4. Train split: for each intent in `INTENTS` order, `random.Random(SEED).sample` of
   `PER_INTENT` candidates (one generator shared across intents); then, in `INTENTS`
   order, the same generator `shuffle`s each intent's remaining candidates into a queue.
   While `promptops.evals.checks.find_leakage(train split, test split)` at that threshold,
   the check `promptops eval intent` runs, reports any pair, each train row in a pair is
   replaced by the next queued candidate of its intent. Written in row order, id
   `train-<intent>-<row index>`. Step 3 alone is not enough: the check fits its idf on
   the train split, not on the pool and the test texts, so near the threshold it can
   flag a drawn row that step 3 kept, and a replacement shifts the other rows' scores.
5. Tags: `length:short` (<= 7 words), `length:medium` (8-12), `length:long` (>= 13), words
   split on whitespace (the thresholds are roughly the tertiles of these intents);
   `form:question` when the text ends with "?" or starts with a question word
   (`QUESTION_WORDS`), else `form:statement`.

The threshold, the counts of removed and replaced rows and the source files' sha256 go to
MANIFEST.json.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np

from promptops.evals.checks import find_leakage, normalize_text
from promptops.evals.suite import resolve_suite

INTENTS = (
    "card_arrival",
    "change_pin",
    "exchange_rate",
    "lost_or_stolen_card",
    "terminate_account",
    "top_up_failed",
)
SEED = 77
PER_INTENT = 50
SHORT_MAX_WORDS = 7
MEDIUM_MAX_WORDS = 12
QUESTION_WORDS = frozenset(
    {
        "how",
        "what",
        "why",
        "when",
        "where",
        "who",
        "which",
        "whom",
        "whose",
        "can",
        "could",
        "do",
        "does",
        "did",
        "is",
        "are",
        "am",
        "was",
        "were",
        "will",
        "would",
        "should",
        "shall",
        "may",
        "might",
        "have",
        "has",
    }
)
SOURCE = "PolyAI-LDN/task-specific-datasets @ 57ec275d, banking_data/"
DEFAULT_SOURCE = Path(__file__).resolve().parents[2] / "shared" / "data" / "banking77"
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "evalsets" / "banking77"
SUITE = Path(__file__).resolve().parent.parent / "evalsets" / "intent.yaml"


def read_rows(path: Path) -> list[tuple[int, str, str]]:
    """(row index, stripped text, category) for every data row of an official CSV."""
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            (i, row["text"].strip(), row["category"])
            for i, row in enumerate(csv.DictReader(handle))
        ]


def tags_for(text: str) -> list[str]:
    words = text.split()
    if len(words) <= SHORT_MAX_WORDS:
        length = "short"
    elif len(words) <= MEDIUM_MAX_WORDS:
        length = "medium"
    else:
        length = "long"
    first = words[0].lower().strip("\"'(,.") if words else ""
    form = "question" if text.endswith("?") or first in QUESTION_WORDS else "statement"
    return [f"length:{length}", f"form:{form}"]


def _case(split: str, index: int, text: str, intent: str) -> dict[str, Any]:
    return {
        "id": f"{split}-{intent}-{index}",
        "input": {"message": text},
        "expected": intent,
        "split": split,
        "tags": tags_for(text),
    }


def near_duplicate_threshold() -> float:
    """The cosine at which `promptops eval intent` rejects a train-test pair, from the suite."""
    suite, _ = resolve_suite(str(SUITE))
    return suite.leakage.near_duplicate_threshold


def paraphrases_of_test(
    candidates: list[tuple[int, str]], test_texts: list[str], threshold: float
) -> set[int]:
    """Row indices of candidates whose TF-IDF cosine with some test text is >= `threshold`,
    the vocabulary and idf fitted on the candidates and test texts together."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = [normalize_text(t) for _, t in candidates] + [normalize_text(t) for t in test_texts]
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)
    matrix = vectorizer.fit_transform(texts).tocsr()
    pool_by_column = matrix[: len(candidates)].T.tocsr()
    near: set[int] = set()
    for start in range(len(candidates), matrix.shape[0], 512):
        sims = (matrix[start : start + 512] @ pool_by_column).toarray()
        near.update(candidates[c][0] for c in np.nonzero(sims >= threshold - 1e-9)[1].tolist())
    return near


def draw_train(
    candidates: dict[str, list[tuple[int, str]]],
    test: list[tuple[str, str]],
    threshold: float,
) -> tuple[dict[str, list[tuple[int, str]]], int]:
    """Per intent, PER_INTENT seeded candidates that pass `find_leakage` against `test`
    together, and how many drawn rows had to be replaced for that."""
    rng = random.Random(SEED)
    picked = {intent: rng.sample(candidates[intent], PER_INTENT) for intent in INTENTS}
    queued: dict[str, list[tuple[int, str]]] = {}
    for intent in INTENTS:
        queued[intent] = [c for c in candidates[intent] if c not in picked[intent]]
        rng.shuffle(queued[intent])
    replaced = 0
    # The check's idf is fitted on the train split itself, so it can only be run on a drawn
    # split, and a replacement can change other rows' scores: repeat until nothing leaks.
    while pairs := find_leakage(
        [(f"train-{intent}-{i}", text) for intent in INTENTS for i, text in picked[intent]],
        test,
        threshold=threshold,
    ).pairs:
        leaking = {p.source_id for p in pairs}
        for intent in INTENTS:
            for k, (i, _) in enumerate(picked[intent]):
                if f"train-{intent}-{i}" in leaking:
                    if not queued[intent]:
                        raise ValueError(f"{intent}: no candidate left that does not leak")
                    picked[intent][k] = queued[intent].pop(0)
                    replaced += 1
    return {intent: sorted(rows) for intent, rows in picked.items()}, replaced


def build(source_dir: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The cases (test first, then train) and the manifest describing how they were made."""
    threshold = near_duplicate_threshold()
    test_rows = [r for r in read_rows(source_dir / "test.csv") if r[2] in INTENTS]
    train_rows = [r for r in read_rows(source_dir / "train.csv") if r[2] in INTENTS]
    test_norms = {normalize_text(text) for _, text, _ in test_rows}
    seen: set[str] = set()
    candidates: dict[str, list[tuple[int, str]]] = {intent: [] for intent in INTENTS}
    leaked = repeated = 0
    for index, text, intent in train_rows:
        norm = normalize_text(text)
        if norm in test_norms:
            leaked += 1
        elif norm in seen:
            repeated += 1
        else:
            candidates[intent].append((index, text))
        seen.add(norm)
    # Drop paraphrases of test texts before drawing, so that few drawn rows leak.
    near_ids = paraphrases_of_test(
        [c for intent in INTENTS for c in candidates[intent]],
        [text for _, text, _ in test_rows],
        threshold,
    )
    for intent in INTENTS:
        candidates[intent] = [(i, t) for i, t in candidates[intent] if i not in near_ids]
    cases = [
        _case("test", i, text, intent)
        for intent in INTENTS
        for i, text, c in test_rows
        if c == intent
    ]
    test = [(case["id"], case["input"]["message"]) for case in cases]
    train, replaced = draw_train(candidates, test, threshold)
    for intent in INTENTS:
        cases.extend(_case("train", i, text, intent) for i, text in train[intent])
    manifest = {
        "source": SOURCE,
        "source_sha256": {
            name: hashlib.sha256((source_dir / name).read_bytes()).hexdigest()
            for name in ("train.csv", "test.csv")
        },
        "intents": list(INTENTS),
        "seed": SEED,
        "train_per_intent": PER_INTENT,
        "near_duplicate_threshold": threshold,
        "counts": {
            "test": sum(1 for c in cases if c["split"] == "test"),
            "train": sum(1 for c in cases if c["split"] == "train"),
            "train_rows_of_intents": len(train_rows),
            "train_removed_duplicate_of_test": leaked,
            "train_removed_repeated_text": repeated,
            "train_removed_near_duplicate_of_test": len(near_ids),
            "train_drawn_replaced_for_leakage": replaced,
        },
        "tags": {
            "length": f"short <= {SHORT_MAX_WORDS} words < medium <= {MEDIUM_MAX_WORDS} < long",
            "form": "question if it ends with '?' or starts with a question word",
        },
    }
    return cases, manifest


def write(source_dir: Path, out_dir: Path) -> dict[str, Any]:
    cases, manifest = build(source_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "intent.jsonl").open("w", encoding="utf-8", newline="\n") as handle:
        for case in cases:
            handle.write(json.dumps(case, ensure_ascii=False) + "\n")
    (out_dir / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
    shutil.copyfile(source_dir / "LICENSE", out_dir / "LICENSE")
    return manifest


def main(argv: list[str]) -> int:
    source_dir = Path(argv[0]) if argv else DEFAULT_SOURCE
    out_dir = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUT
    manifest = write(source_dir, out_dir)
    print(json.dumps(manifest["counts"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
