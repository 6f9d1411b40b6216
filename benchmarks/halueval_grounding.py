"""How well does grounding `support` separate right from hallucinated answers? (HaluEval QA)

HaluEval QA gives, per question, a knowledge passage, a right answer and a hallucinated one.
Its answers carry no citation markers, so the passage is context [1] and each answer is scored
as if it cited [1] (an uncited sentence is checked against the whole context, which here is the
same single passage).

The rows are split by question with a fixed seed: on the fit half the lexical weight is chosen
by grid search (AUROC of answer support, right = 1, hallucinated = 0) and the unsupported
threshold by Youden's J; AUROC is then reported on the held-out half and on all rows, for the
combined score and for each signal alone. The chosen values are what `promptops.rag.grounding`
ships as LEXICAL_WEIGHT and DEFAULT_THRESHOLD.

    python benchmarks/halueval_grounding.py [--data PATH] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from promptops.rag.grounding import GroundingResult, GroundingScorer

DATA = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "halueval" / "qa_one-turn_data.json"
)
SEED = 20240501
WEIGHT_GRID = tuple(round(w, 2) for w in np.arange(0.0, 1.0001, 0.05))


@dataclass(frozen=True)
class Pair:
    """One HaluEval row: the passage with its right and hallucinated answers."""

    knowledge: str
    right: str
    hallucinated: str


def load_pairs(path: Path = DATA) -> list[Pair]:
    """The file is JSON Lines despite its `.json` name: one object per line."""
    pairs = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                row = json.loads(line)
                pairs.append(
                    Pair(row["knowledge"], row["right_answer"], row["hallucinated_answer"])
                )
    return pairs


def split(n: int, seed: int = SEED) -> tuple[list[int], list[int]]:
    """(fit, held-out) row indices: a seeded permutation cut in half, each half sorted."""
    order = np.random.default_rng(seed).permutation(n)
    half = n // 2
    return sorted(int(i) for i in order[:half]), sorted(int(i) for i in order[half:])


def score_pairs(
    pairs: Sequence[Pair], scorer: GroundingScorer
) -> tuple[list[GroundingResult], np.ndarray]:
    """Results for right then hallucinated answer of each pair, with labels 1 / 0."""
    items: list[tuple[str, Sequence[str]]] = []
    labels = []
    for pair in pairs:
        items += [(pair.right, [pair.knowledge]), (pair.hallucinated, [pair.knowledge])]
        labels += [1, 0]
    return scorer.score_many(items), np.array(labels)


def answer_scores(results: Sequence[GroundingResult], weight: float | None) -> np.ndarray:
    """Answer support recomputed for a lexical weight; `None` = semantic only, 1.0 = lexical."""
    scores = []
    for result in results:
        values = []
        for s in result.sentences:
            if weight is None or s.lexical is None:
                values.append(s.semantic)
            else:
                values.append(weight * s.lexical + (1 - weight) * s.semantic)
        scores.append(float(np.mean(values)) if values else 0.0)
    return np.array(scores)


def fit(results: Sequence[GroundingResult], labels: np.ndarray) -> tuple[float, float]:
    """(lexical weight with the best AUROC, threshold with the best Youden's J at that weight)."""
    aurocs = [roc_auc_score(labels, answer_scores(results, w)) for w in WEIGHT_GRID]
    weight = WEIGHT_GRID[int(np.argmax(aurocs))]
    fpr, tpr, thresholds = roc_curve(labels, answer_scores(results, weight))
    best = int(np.argmax(tpr - fpr))
    return weight, round(float(thresholds[best]), 3)


def evaluate(pairs: Sequence[Pair], scorer: GroundingScorer) -> dict[str, Any]:
    results, labels = score_pairs(pairs, scorer)
    fit_rows, held_rows = split(len(pairs))

    def rows(indices: Sequence[int]) -> list[int]:
        return [2 * i + k for i in indices for k in (0, 1)]

    fit_idx, held_idx = rows(fit_rows), rows(held_rows)
    weight, threshold = fit([results[i] for i in fit_idx], labels[fit_idx])
    report: dict[str, Any] = {
        "pairs": len(pairs),
        "seed": SEED,
        "fitted_lexical_weight": weight,
        "fitted_threshold": threshold,
    }
    for name, idx in (("held_out", held_idx), ("fit", fit_idx), ("all", rows(range(len(pairs))))):
        part = [results[i] for i in idx]
        y = labels[idx]
        combined = answer_scores(part, weight)
        report[name] = {
            "auroc_support": roc_auc_score(y, combined),
            "auroc_lexical": roc_auc_score(y, answer_scores(part, 1.0)),
            "auroc_semantic": roc_auc_score(y, answer_scores(part, None)),
            "accuracy_at_threshold": float(np.mean((combined >= threshold) == (y == 1))),
        }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    report = evaluate(load_pairs(args.data), GroundingScorer())
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"HaluEval QA, {report['pairs']} pairs, seed {report['seed']}")
    print(
        f"fitted on half: lexical weight {report['fitted_lexical_weight']}, "
        f"threshold {report['fitted_threshold']}"
    )
    print(f"{'split':<10}{'support':>10}{'lexical':>10}{'semantic':>10}{'acc@thr':>10}")
    for name in ("held_out", "fit", "all"):
        part = report[name]
        print(
            f"{name:<10}{part['auroc_support']:>10.3f}{part['auroc_lexical']:>10.3f}"
            f"{part['auroc_semantic']:>10.3f}{part['accuracy_at_threshold']:>10.3f}"
        )


if __name__ == "__main__":
    main()
