"""Build the shipped halueval (binary) and sts (scoring) evalsets from ../shared/data.

halueval: from HaluEval's qa_one-turn_data.json (500 HotpotQA passages, each with a right
and a hallucinated answer; MIT). Each passage is used once, with its right answer or (for a
seeded fifth of the passages) its hallucinated one, so no passage appears in two splits.
sts: the STS-B sample as shipped (its own train/dev/test), scores 0-5.

    python scripts/make_task_suites.py /work/shared/data
"""

from __future__ import annotations

import json
import random
import shutil
import sys
from pathlib import Path

UNSUPPORTED_SHARE = 0.2
SPLITS = (("train", 250), ("dev", 100), ("test", 150))
SEED = 13


def _write(path: Path, rows: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )


def halueval(src: Path, out: Path) -> None:
    rows = [
        json.loads(line)
        for line in (src / "qa_one-turn_data.json").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    rng = random.Random(SEED)
    order = list(range(len(rows)))
    rng.shuffle(order)
    n_bad = round(UNSUPPORTED_SHARE * len(rows))
    bad = set(order[:n_bad])
    rng.shuffle(order)
    cases, start = [], 0
    for split, size in SPLITS:
        for i in order[start : start + size]:
            row = rows[i]
            hallucinated = i in bad
            answer = row["hallucinated_answer"] if hallucinated else row["right_answer"]
            cases.append(
                {
                    "id": f"halueval-qa-{i:03d}",
                    "input": {
                        "passage": row["knowledge"],
                        "question": row["question"],
                        "answer": answer,
                    },
                    "expected": "unsupported" if hallucinated else "supported",
                    "split": split,
                    "tags": ["answer:short" if len(answer) < 25 else "answer:long"],
                }
            )
        start += size
    _write(out / "halueval" / "halueval.jsonl", cases)
    shutil.copy(src / "LICENSE", out / "halueval" / "LICENSE")


def sts(src: Path, out: Path) -> None:
    cases = []
    for line in (src / "sample.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        _, split, genre, *_ = row["id"].split("-")
        cases.append(
            {
                "id": row["id"],
                "input": {"sentence1": row["sentence1"], "sentence2": row["sentence2"]},
                "expected": row["score"],
                "split": split,
                "tags": [genre],
            }
        )
    _write(out / "sts" / "sts.jsonl", cases)
    shutil.copy(src / "LICENSE.txt", out / "sts" / "LICENSE")


def main() -> None:
    data = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
    out = Path("evalsets")
    halueval(data / "halueval", out)
    sts(data / "sts", out)


if __name__ == "__main__":
    main()
