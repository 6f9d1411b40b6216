"""Reference metrics of generated text, computed by the packages papers use.

- `rouge1`, `rouge2`, `rouge_l`: rouge-score's F-measure; with several references a case
  scores its best one (`RougeScorer.score_multi`), the set scores the mean over cases.
  Stemming (Porter) only when the suite declares it (`stemming: true`).
- `bleu`, `chrf`: sacrebleu's corpus BLEU and chrF over all references of every case, on
  its 0-100 scale divided by 100. A corpus metric is not a mean of per-case values, so its
  interval resamples the per-case sufficient statistics (n-gram matches and lengths) and
  recomputes the corpus score from their sums: the bootstrap sacrebleu's own paired test
  uses.

Empty text: an empty output against a non-empty reference scores 0 everywhere. A case whose
reference list is empty (or only empty strings) has nothing to compare against, so it is
left out of the reference metrics and counted in `no_reference` (never scored as 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from rouge_score.rouge_scorer import RougeScorer

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")
ROUGE_NAMES = {"rouge1": "rouge1", "rouge2": "rouge2", "rougeL": "rouge_l"}
CORPUS_METRICS = ("bleu", "chrf")


def references_of(expected: Any) -> list[str]:
    """A case's references: a string or a list of strings; empty strings dropped."""
    refs = [expected] if isinstance(expected, str) else list(expected or [])
    return [ref for ref in refs if isinstance(ref, str) and ref.strip()]


@cache
def _rouge(stemming: bool) -> RougeScorer:
    from rouge_score.rouge_scorer import RougeScorer

    return RougeScorer(list(ROUGE_TYPES), use_stemmer=stemming)


def rouge_scores(output: str, references: Sequence[str], *, stemming: bool) -> dict[str, float]:
    """{rouge1, rouge2, rouge_l}: F-measure against the best reference for each type."""
    if not references:
        raise ValueError("rouge needs at least one reference")
    best = _rouge(stemming).score_multi(list(references), output)
    return {ROUGE_NAMES[kind]: float(best[kind].fmeasure) for kind in ROUGE_TYPES}


@cache
def _corpus_metric(name: str) -> Any:
    from sacrebleu.metrics.bleu import BLEU
    from sacrebleu.metrics.chrf import CHRF

    return BLEU() if name == "bleu" else CHRF()


def _streams(references: Sequence[Sequence[str]]) -> list[list[str | None]]:
    """sacrebleu's layout: one stream per reference slot, None where a case has fewer."""
    depth = max(map(len, references), default=1)
    return [[refs[i] if i < len(refs) else None for refs in references] for i in range(depth)]


def corpus_score(name: str, outputs: Sequence[str], references: Sequence[Sequence[str]]) -> float:
    """sacrebleu's corpus BLEU or chrF in [0, 1]."""
    metric = _corpus_metric(name)
    score = metric.corpus_score(list(outputs), _streams(references)).score
    return min(float(score) / 100, 1.0)


@dataclass(frozen=True)
class CorpusStats:
    """Per-case sufficient statistics of a corpus metric; sums give the corpus score."""

    name: str
    rows: NDArray[np.float64]  # (cases, statistics)

    def score_of_sums(self, sums: NDArray[np.float64]) -> NDArray[np.float64]:
        metric = _corpus_metric(self.name)
        values = [min(metric._compute_score_from_stats(list(row)).score / 100, 1.0) for row in sums]
        return np.asarray(values, dtype=np.float64)


def corpus_stats(
    name: str, outputs: Sequence[str], references: Sequence[Sequence[str]]
) -> CorpusStats:
    metric = _corpus_metric(name)
    stats = metric._extract_corpus_statistics(list(outputs), _streams(references))
    return CorpusStats(name, np.asarray(stats, dtype=np.float64).reshape(len(outputs), -1))


@dataclass(frozen=True)
class ReferenceScores:
    """Per-case ROUGE for the scored cases, corpus BLEU and chrF, and which cases had none."""

    per_case: dict[str, list[float]]  # rouge1/rouge2/rouge_l, aligned with `scored`
    scored: list[int]  # indices of the cases with references
    corpus: dict[str, float]
    no_reference: int

    def means(self) -> dict[str, float]:
        return {name: float(np.mean(v)) if v else 0.0 for name, v in self.per_case.items()}


def reference_scores(
    outputs: Sequence[str | None], expected: Sequence[Any], *, stemming: bool
) -> ReferenceScores:
    """Every reference metric of a set; a missing output (a failed call) is the empty text."""
    if len(outputs) != len(expected):
        raise ValueError(f"{len(outputs)} outputs but {len(expected)} expected values")
    scored, refs, texts = [], [], []
    for i, (output, gold) in enumerate(zip(outputs, expected, strict=True)):
        references = references_of(gold)
        if references:
            scored.append(i)
            refs.append(references)
            texts.append(output or "")
    per_case: dict[str, list[float]] = {name: [] for name in ROUGE_NAMES.values()}
    for text, references in zip(texts, refs, strict=True):
        for name, value in rouge_scores(text, references, stemming=stemming).items():
            per_case[name].append(value)
    corpus = {name: corpus_score(name, texts, refs) if texts else 0.0 for name in CORPUS_METRICS}
    return ReferenceScores(per_case, scored, corpus, len(outputs) - len(scored))
