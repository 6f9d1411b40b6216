"""Build evalsets/slots/slots.jsonl (SNIPS, extraction) and evalsets/e2e/e2e.jsonl (E2E NLG,
generation) from the derived copies in ../shared/data.

Usage: python scripts/make_task_evalsets.py [SOURCE_DIR] [OUT_DIR]
(defaults: ../shared/data and evalsets/ next to this script). Rerunning it rewrites the
same bytes.

slots (from snips_slots/validate.jsonl, 700 utterances, 7 intents):
1. Rows are grouped by normalised text (case-folded, whitespace collapsed): 5 texts occur
   twice with the same annotation and must land in the same split.
2. Per intent, in sorted intent order, one `random.Random(SEED_SLOTS)` shuffles the groups
   (in order of first appearance) and deals TEST_PER_INTENT of them to `test`,
   DEV_PER_INTENT to `dev`, the rest to `train`.
3. Row: `{"id", "input": {"utterance": text}, "expected": {slot: value}, "split", "tags"}`,
   tags `intent:<Intent>` and `slots:<n>`; rows in the source order.

e2e (from e2e/test_sample.jsonl, 300 meaning representations with all their references):
1. One `random.Random(SEED_E2E)` shuffles the rows; the first TEST_E2E are `test`, the next
   DEV_E2E `dev`, the rest `train`. MRs are distinct, so no input repeats across splits.
2. Row: `{"id", "input": {"mr": mr}, "expected": [references], "split", "tags"}`, tags
   `attributes:<n>` (slots in the MR) and `references:single|multi`; rows in source order.

Both: train rows that `promptops.evals.checks.find_leakage` (the check `promptops eval`
runs, at the suites' near-duplicate threshold 0.9) pairs with a test row are dropped, and
the check is repeated until it finds nothing (its idf is fitted on the train side, so a
drop can change other scores). On E2E these are MRs that differ from a test MR in one
attribute value; on SNIPS near-identical requests. The dropped ids go to the MANIFEST.

The source files' sha256 and the counts go to each folder's MANIFEST.json.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

SEED_SLOTS = 2017
SEED_E2E = 2019
TEST_PER_INTENT = 8
DEV_PER_INTENT = 8
TEST_E2E = 40
DEV_E2E = 40
NEAR_DUPLICATE = 0.9
_ATTRIBUTE = re.compile(r"[^,\[]+\[[^\]]*\]")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    path.write_text(text, "utf-8")


def _counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for row in rows:
        out[row["split"]] += 1
    return dict(sorted(out.items()))


def drop_leaks(rows: list[dict[str, Any]], field: str) -> tuple[list[dict[str, Any]], list[str]]:
    """`rows` without the train rows the eval's leakage check pairs with a test row."""
    from promptops.evals.checks import find_leakage

    dropped: list[str] = []
    while True:
        train = [(r["id"], r["input"][field]) for r in rows if r["split"] == "train"]
        test = [(r["id"], r["input"][field]) for r in rows if r["split"] == "test"]
        report = find_leakage(train, test, threshold=NEAR_DUPLICATE)
        ids = {p.source_id for p in report.pairs if p.source == "train"}
        if not ids:
            return rows, dropped
        dropped += sorted(ids)
        rows = [r for r in rows if r["id"] not in ids]


def slot_rows(source: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[str, dict[str, list[str]]] = defaultdict(dict)
    for row in source:
        key = " ".join(row["text"].casefold().split())
        groups[row["intent"]].setdefault(key, []).append(row["id"])
    split_of: dict[str, str] = {}
    rng = random.Random(SEED_SLOTS)
    for intent in sorted(groups):
        keys = list(groups[intent])
        rng.shuffle(keys)
        for i, key in enumerate(keys):
            split = (
                "test"
                if i < TEST_PER_INTENT
                else "dev"
                if i < TEST_PER_INTENT + DEV_PER_INTENT
                else "train"
            )
            for case_id in groups[intent][key]:
                split_of[case_id] = split
    return [
        {
            "id": row["id"],
            "input": {"utterance": row["text"]},
            "expected": row["slots"],
            "split": split_of[row["id"]],
            "tags": [f"intent:{row['intent']}", f"slots:{len(row['slots'])}"],
        }
        for row in source
    ]


def e2e_rows(source: list[dict[str, Any]]) -> list[dict[str, Any]]:
    order = [row["id"] for row in source]
    random.Random(SEED_E2E).shuffle(order)
    split_of = {
        case_id: "test" if i < TEST_E2E else "dev" if i < TEST_E2E + DEV_E2E else "train"
        for i, case_id in enumerate(order)
    }
    return [
        {
            "id": row["id"],
            "input": {"mr": row["mr"]},
            "expected": row["references"],
            "split": split_of[row["id"]],
            "tags": [
                f"attributes:{len(_ATTRIBUTE.findall(row['mr']))}",
                "references:single" if len(row["references"]) == 1 else "references:multi",
            ],
        }
        for row in source
    ]


def build(source_dir: Path, out_dir: Path) -> None:
    snips = source_dir / "snips_slots" / "validate.jsonl"
    rows, dropped = drop_leaks(slot_rows(_read_jsonl(snips)), "utterance")
    _write_jsonl(out_dir / "slots" / "slots.jsonl", rows)
    manifest = {
        "source": "sonos/nlu-benchmark @ b86ac7f1, via ../shared/data/snips_slots/validate.jsonl",
        "source_sha256": {"validate.jsonl": _sha256(snips)},
        "seed": SEED_SLOTS,
        "per_intent": {"test": TEST_PER_INTENT, "dev": DEV_PER_INTENT},
        "counts": _counts(rows),
        "train_dropped_near_duplicate_of_test": dropped,
    }
    (out_dir / "slots" / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n")
    e2e = source_dir / "e2e" / "test_sample.jsonl"
    rows, dropped = drop_leaks(e2e_rows(_read_jsonl(e2e)), "mr")
    _write_jsonl(out_dir / "e2e" / "e2e.jsonl", rows)
    manifest = {
        "source": "tuetschek/e2e-cleaning @ 164acdf9, via ../shared/data/e2e/test_sample.jsonl",
        "source_sha256": {"test_sample.jsonl": _sha256(e2e)},
        "seed": SEED_E2E,
        "counts": _counts(rows),
        "references": sum(len(r["expected"]) for r in rows),
        "train_dropped_near_duplicate_of_test": dropped,
    }
    (out_dir / "e2e" / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n")


def main(argv: list[str]) -> None:
    here = Path(__file__).resolve().parent.parent
    source = Path(argv[0]) if argv else here.parent / "shared" / "data"
    out = Path(argv[1]) if len(argv) > 1 else here / "evalsets"
    (out / "slots").mkdir(parents=True, exist_ok=True)
    (out / "e2e").mkdir(parents=True, exist_ok=True)
    build(source, out)


if __name__ == "__main__":
    main(sys.argv[1:])
