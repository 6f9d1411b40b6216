"""How well does grounding `support` separate right from hallucinated answers? Two sets.

HaluEval QA gives, per question, a knowledge passage, a right answer and a hallucinated one.
The second set is built from COVID-QA by `covidqa_pairs` (passages around each gold answer;
hallucinated answers made by seeded number, entity and answer swaps; see its docstring).
Answers carry no citation markers, so the passage is context [1] and each answer is scored as
if it cited [1] (an uncited sentence is checked against the whole context, which here is the
same single passage).

Each set is split with a fixed seed (HaluEval by question, COVID-QA by article) into a dev half
and a held-out half. On the dev halves only, the claim weight is chosen by grid search (mean
AUROC of answer support over the two sets, right = 1, hallucinated = 0) and the unsupported
threshold by Youden's J on the pooled dev answers; AUROC (scikit-learn's `roc_auc_score`) is
then reported on each held-out half, for the combined score and for each signal alone. The
chosen values are what `promptops.rag.grounding` ships as CLAIM_WEIGHT and DEFAULT_THRESHOLD.

    python benchmarks/halueval_grounding.py [--data PATH] [--covid PATH] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

sys.path.insert(0, str(Path(__file__).resolve().parent))

import covidqa_pairs

from promptops.rag.grounding import (
    LEXICAL_WEIGHT,
    GroundingResult,
    GroundingScorer,
)

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
    """(dev, held-out) row indices: a seeded permutation cut in half, each half sorted."""
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


def answer_scores(
    results: Sequence[GroundingResult], weight: float | None, claim_weight: float = 0.0
) -> np.ndarray:
    """Answer support recomputed for the given weights.

    `weight` is the lexical weight of the word signal (`None` = semantic only, 1.0 = lexical
    only); `claim_weight` mixes in the claim-span check (1.0 = claims only).
    """
    scores = []
    for result in results:
        values = []
        for s in result.sentences:
            if weight is None or s.lexical is None:
                words = s.semantic
            else:
                words = weight * s.lexical + (1 - weight) * s.semantic
            values.append(claim_weight * s.claims + (1 - claim_weight) * words)
        scores.append(float(np.mean(values)) if values else 0.0)
    return np.array(scores)


@dataclass(frozen=True)
class Scored:
    """One set scored once: results (right, hallucinated per pair), labels, dev/held-out rows."""

    name: str
    results: list[GroundingResult]
    labels: np.ndarray
    dev: list[int]
    held_out: list[int]

    def part(self, which: str) -> tuple[list[GroundingResult], np.ndarray]:
        rows = {"dev": self.dev, "held_out": self.held_out}.get(which)
        idx = list(range(len(self.labels))) if rows is None else _answer_rows(rows)
        return [self.results[i] for i in idx], self.labels[idx]


def _answer_rows(pair_rows: Sequence[int]) -> list[int]:
    return [2 * i + k for i in pair_rows for k in (0, 1)]


def fit(sets: Sequence[Scored]) -> tuple[float, float]:
    """(claim weight with the best mean dev AUROC over the sets, threshold with the best
    Youden's J on the pooled dev halves); the lexical weight stays LEXICAL_WEIGHT."""
    devs = [s.part("dev") for s in sets]

    def mean_auroc(cw: float) -> float:
        aurocs = [roc_auc_score(y, answer_scores(r, LEXICAL_WEIGHT, cw)) for r, y in devs]
        return float(np.mean(aurocs))

    claim_weight = max(WEIGHT_GRID, key=mean_auroc)
    scores = np.concatenate([answer_scores(r, LEXICAL_WEIGHT, claim_weight) for r, _ in devs])
    labels = np.concatenate([y for _, y in devs])
    fpr, tpr, thresholds = roc_curve(labels, scores)
    best = int(np.argmax(tpr - fpr))
    return claim_weight, round(float(thresholds[best]), 3)


def score_set(name: str, pairs: Sequence[Pair], dev: list[int], held: list[int]) -> Scored:
    results, labels = score_pairs(pairs, GroundingScorer())
    return Scored(name, results, labels, dev, held)


def evaluate(sets: Sequence[Scored]) -> dict[str, Any]:
    claim_weight, threshold = fit(sets)
    report: dict[str, Any] = {
        "fitted_claim_weight": claim_weight,
        "fitted_threshold": threshold,
        "lexical_weight": LEXICAL_WEIGHT,
    }
    for scored in sets:
        entry: dict[str, Any] = {"pairs": len(scored.labels) // 2}
        for which in ("held_out", "dev", "all"):
            results, y = scored.part(which)
            combined = answer_scores(results, LEXICAL_WEIGHT, claim_weight)
            entry[which] = {
                "auroc_support": roc_auc_score(y, combined),
                "auroc_claims": roc_auc_score(y, answer_scores(results, None, 1.0)),
                "auroc_words": roc_auc_score(y, answer_scores(results, LEXICAL_WEIGHT)),
                "auroc_lexical": roc_auc_score(y, answer_scores(results, 1.0)),
                "auroc_semantic": roc_auc_score(y, answer_scores(results, None)),
                "accuracy_at_threshold": float(np.mean((combined >= threshold) == (y == 1))),
            }
        report[scored.name] = entry
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--covid", type=Path, default=covidqa_pairs.DATA)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    halueval = load_pairs(args.data)
    covid = covidqa_pairs.build_pairs(args.covid)
    covid_dev, covid_held = covidqa_pairs.split_by_article(covid)
    sets = [
        score_set("halueval", halueval, *split(len(halueval))),
        score_set(
            "covid_qa",
            [Pair(p.passage, p.right, p.hallucinated) for p in covid],
            covid_dev,
            covid_held,
        ),
    ]
    report = evaluate(sets)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(
        f"fitted on the dev halves: claim weight {report['fitted_claim_weight']}, "
        f"threshold {report['fitted_threshold']} (lexical weight {report['lexical_weight']})"
    )
    columns = ("support", "claims", "words", "lexical", "semantic")
    print(f"{'set':<10}{'split':<10}" + "".join(f"{c:>10}" for c in columns) + f"{'acc@thr':>10}")
    for scored in sets:
        entry = report[scored.name]
        for which in ("held_out", "dev", "all"):
            part = entry[which]
            cells = "".join(f"{part['auroc_' + c]:>10.3f}" for c in columns)
            print(f"{scored.name:<10}{which:<10}{cells}{part['accuracy_at_threshold']:>10.3f}")
    print("words = the earlier support (lexical and semantic, no claim spans)")


if __name__ == "__main__":
    main()
