"""Generated text against gold answers: ROUGE-L, BLEU, exact match and token F1.

Every score lies in [0, 1] so thresholds read the same for all of them. With several gold
answers an example scores its best match (SQuAD's rule; sacrebleu's multi-reference BLEU).

* ``rouge_l``: rouge-score's ROUGE-L F-measure with its Porter stemmer (``use_stemmer=True``).
* ``bleu``: sacrebleu's sentence BLEU (its defaults: 13a tokenizer, exp smoothing, effective
  order) divided by 100; `corpus_bleu` is sacrebleu's corpus BLEU, the figure papers report.
* ``exact_match`` and ``token_f1``: the SQuAD evaluation script's rules, after normalising both
  sides (lowercase, drop punctuation and the articles a/an/the, collapse whitespace). Two
  empty answers match; an empty answer against a non-empty one scores 0.

rouge-score and sacrebleu are imported on first use: rouge-score pulls in nltk, which takes
over a second to load.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from promptops.errors import ConfigError, EvalsetError
from promptops.registry import Registry

if TYPE_CHECKING:
    from rouge_score.rouge_scorer import RougeScorer

References = str | Sequence[str]
"""One gold answer or several; an example scores its best match."""

SentenceMetric = Callable[[str, References], float]

_PUNCTUATION = str.maketrans("", "", string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def _golds(references: References) -> list[str]:
    golds = [references] if isinstance(references, str) else list(references)
    if not golds:
        raise EvalsetError("an example needs at least one gold answer", where="references")
    return golds


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lowercase, no punctuation, no articles, single spaces."""
    text = text.lower().translate(_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, references: References) -> float:
    """1.0 when the normalised prediction equals a normalised gold answer."""
    answer = normalize_answer(prediction)
    return float(any(answer == normalize_answer(gold) for gold in _golds(references)))


def _token_f1(prediction_tokens: list[str], gold_tokens: list[str]) -> float:
    if not prediction_tokens or not gold_tokens:
        return float(prediction_tokens == gold_tokens)
    overlap = sum((Counter(prediction_tokens) & Counter(gold_tokens)).values())
    if overlap == 0:
        return 0.0
    precision = overlap / len(prediction_tokens)
    recall = overlap / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def token_f1(prediction: str, references: References) -> float:
    """Harmonic mean of token precision and recall against the best-matching gold answer."""
    tokens = normalize_answer(prediction).split()
    return max(_token_f1(tokens, normalize_answer(gold).split()) for gold in _golds(references))


@cache
def _rouge() -> RougeScorer:
    from rouge_score.rouge_scorer import RougeScorer

    return RougeScorer(["rougeL"], use_stemmer=True)


def rouge_l(prediction: str, references: References) -> float:
    """ROUGE-L F-measure against the best-matching gold answer."""
    scores = _rouge().score_multi(_golds(references), prediction)
    return float(scores["rougeL"].fmeasure)


@cache
def _bleu(*, sentence: bool) -> Any:
    from sacrebleu.metrics.bleu import BLEU

    return BLEU(effective_order=sentence)


def bleu(prediction: str, references: References) -> float:
    """Sentence BLEU in [0, 1]; noisy on short answers, prefer `corpus_bleu` for a set."""
    return _unit(_bleu(sentence=True).sentence_score(prediction, _golds(references)).score)


def corpus_bleu(predictions: Sequence[str], references: Sequence[References]) -> float:
    """Corpus BLEU in [0, 1]; examples may have different numbers of gold answers."""
    golds = _aligned(predictions, references)
    depth = max(map(len, golds), default=1)
    # sacrebleu takes one stream per reference slot; None marks a missing reference.
    streams = [[g[i] if i < len(g) else None for g in golds] for i in range(depth)]
    return _unit(_bleu(sentence=False).corpus_score(list(predictions), streams).score)


def _unit(percent: float) -> float:
    """sacrebleu's 0-100 score in [0, 1]; it can overshoot 100 by a rounding error."""
    return min(float(percent) / 100, 1.0)


GENERATION_METRICS: Registry[SentenceMetric] = Registry("generation metric")
"""Per-example generation metrics by name, in registration order."""
GENERATION_METRICS.register("rouge_l", rouge_l)
GENERATION_METRICS.register("bleu", bleu)
GENERATION_METRICS.register("exact_match", exact_match)
GENERATION_METRICS.register("token_f1", token_f1)


def generation_metric_names() -> tuple[str, ...]:
    """The registered generation metrics, in registration order (the report's order)."""
    return tuple(name for name, _ in GENERATION_METRICS)


def _metric_functions(names: Iterable[str] | None) -> dict[str, SentenceMetric]:
    wanted = generation_metric_names() if names is None else tuple(dict.fromkeys(names))
    unknown = [name for name in wanted if name not in GENERATION_METRICS]
    if unknown:
        raise ConfigError(
            f"unknown generation metrics {', '.join(map(repr, unknown))} "
            f"(known: {', '.join(GENERATION_METRICS.names())})",
            where="metrics",
        )
    return {name: GENERATION_METRICS.get(name) for name in wanted}


def generation_scores(
    prediction: str, references: References, metrics: Iterable[str] | None = None
) -> dict[str, float]:
    """Every requested metric (None: all registered) for one example."""
    return {name: fn(prediction, references) for name, fn in _metric_functions(metrics).items()}


def corpus_scores(
    predictions: Sequence[str],
    references: Sequence[References],
    metrics: Iterable[str] | None = None,
) -> dict[str, float]:
    """Corpus figures: corpus BLEU for ``bleu``, the mean over examples for the others."""
    functions = _metric_functions(metrics)
    golds = _aligned(predictions, references)
    scores: dict[str, float] = {}
    for name, fn in functions.items():
        if fn is bleu:
            scores[name] = corpus_bleu(predictions, golds)
        else:
            values = [fn(p, g) for p, g in zip(predictions, golds, strict=True)]
            scores[name] = sum(values) / len(values)
    return scores


def _aligned(predictions: Sequence[str], references: Sequence[References]) -> list[list[str]]:
    if len(predictions) != len(references):
        raise EvalsetError(
            f"{len(predictions)} predictions but {len(references)} sets of gold answers",
            where="predictions",
        )
    if not predictions:
        raise EvalsetError("no examples to score", where="predictions")
    return [_golds(r) for r in references]
