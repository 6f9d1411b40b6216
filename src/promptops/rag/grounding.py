"""Is an answer grounded in its numbered context? Citation validity, coverage and support.

Per answer, with the context passages numbered 1..N:

- validity: the share of cited numbers that name an existing passage (`None` with no citations);
  the invalid numbers are listed.
- coverage: the share of answer sentences that cite anything (`None` for an empty answer).
- support, per sentence, 0..1: how well the evidence backs the claim. The evidence is the
  passages the sentence cites validly; a sentence citing nothing valid is checked against the
  whole context (a bad citation costs validity, not support). Three deterministic signals:
    claims:   the share of the sentence's claim spans (entities, numbers, adjacent content-word
              pairs, content words; `promptops.rag.claims`) found in the evidence after
              normalisation; the spans not found are the sentence's `reasons`;
    lexical:  recall of the sentence's content words (lowercased alphanumeric tokens minus
              scikit-learn's English stop words, numbers kept) among the evidence's words;
    semantic: soft token recall with all-MiniLM-L6-v2 contextual token embeddings: for each
              word piece of the sentence, the best cosine similarity with any word piece of
              the evidence (each evidence sentence embedded on its own, so long passages are
              not cut at the model's 256-piece limit), averaged and clipped to 0..1.
  words = LEXICAL_WEIGHT * lexical + (1 - LEXICAL_WEIGHT) * semantic (semantic alone for a
  sentence without content words), and support = CLAIM_WEIGHT * claims + (1 - CLAIM_WEIGHT) *
  words. The claim spans carry it: a hallucination usually keeps the question's words and
  swaps a name or a number, which moves word recall a little and the span check a lot.
- unsupported_rate: the share of sentences whose support is below the threshold: the
  hallucination risk. The answer's support is the mean over its sentences.

CLAIM_WEIGHT and DEFAULT_THRESHOLD were chosen on dev halves only (benchmarks/
halueval_grounding.py: HaluEval QA split by question, and a COVID-QA set of right and
hallucinated answers built by benchmarks/covidqa_pairs.py, split by article): the claim weight
by the best mean AUROC over the two dev halves (grid in steps of 0.05), the threshold by
Youden's J on the pooled dev answers. Held-out AUROC of support: HaluEval 0.974 (0.917 before
the claim spans; claims alone 0.968), COVID-QA 0.993 (claims alone 0.991); accuracy at the
threshold 0.966 and 0.979. LEXICAL_WEIGHT (0.95) was fitted earlier on the HaluEval fit half.
Whole-sentence cosine was tried and rejected (AUROC 0.35 on HaluEval: long fluent
hallucinations rank above terse right answers), as was Porter stemming of the lexical words.
Caveat: in both sets the right answers are mostly copied from the passage, hence the high
threshold; answers that paraphrase their sources score lower, so pass a lower threshold for
those (the COVID-QA suite uses 0.8).

An optional LLM judge (`Judge`) gives a second, per-sentence verdict; a judge call that fails or
whose answer cannot be parsed is recorded as an error on that sentence, never as a score.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from promptops.llm.types import ChatRequest, Completion
from promptops.rag.citations import Sentence, number_passages, split_sentences, strip_citations
from promptops.rag.claims import ClaimSpan, check_claims, prepare_evidence

LEXICAL_WEIGHT = 0.95
CLAIM_WEIGHT = 0.95
DEFAULT_THRESHOLD = 0.95

TokenEmbed = Callable[[Sequence[str]], list[NDArray[np.float32]]]
"""Texts -> per text an (n_pieces, dim) matrix of L2-normalised contextual token vectors."""

_TOKEN_RE = re.compile(r"[a-z0-9]+")


def content_tokens(text: str) -> set[str]:
    """The words that carry a claim: lowercased alphanumeric tokens minus English stop words."""
    return {token for token in _TOKEN_RE.findall(text.lower()) if token not in ENGLISH_STOP_WORDS}


def lexical_support(claim: str, evidence: Sequence[str]) -> float | None:
    """Recall of the claim's content words in the evidence; `None` when it has none."""
    wanted = content_tokens(claim)
    if not wanted:
        return None
    found: set[str] = set()
    for passage in evidence:
        found |= content_tokens(passage)
    return len(wanted & found) / len(wanted)


def evidence_units(passage: str) -> list[str]:
    """The passage's sentences: the units embedded for the soft token match."""
    return [sentence.claim for sentence in split_sentences(passage)] or [passage]


def soft_token_recall(claim: NDArray[np.float32], evidence: Sequence[NDArray[np.float32]]) -> float:
    """Mean over the claim's token vectors of their best cosine with any evidence token."""
    pieces = [e for e in evidence if len(e)]
    if not len(claim) or not pieces:
        return 0.0
    best = (claim @ np.concatenate(pieces).T).max(axis=1)
    return float(np.clip(best.mean(), 0.0, 1.0))


def minilm_token_embed(texts: Sequence[str]) -> list[NDArray[np.float32]]:
    """all-MiniLM-L6-v2 token vectors without [CLS]/[SEP], the bundled offline copy on CPU."""
    from promptops.embeddings import bundled_model_path, load_sentence_model

    outputs = load_sentence_model(bundled_model_path()).encode(
        list(texts), output_value="token_embeddings", batch_size=64, show_progress_bar=False
    )
    matrices = []
    for output in outputs:
        vectors = np.asarray(output.cpu().numpy()[1:-1], dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        matrices.append(vectors / np.maximum(norms, 1e-12))
    return matrices


@dataclass(frozen=True)
class JudgeVerdict:
    """One judge decision; `supported` is None exactly when `error` says why."""

    supported: bool | None
    error: str | None = None


class Judge(Protocol):
    async def judge(self, sentence: str, passages: Sequence[str]) -> JudgeVerdict: ...


@dataclass(frozen=True)
class SentenceGrounding:
    index: int
    text: str
    citations: tuple[int, ...]
    invalid_citations: tuple[int, ...]
    evidence: tuple[int, ...]  # 1-based passage numbers the sentence was scored against
    lexical: float | None
    semantic: float
    claims: float
    missing_claims: tuple[ClaimSpan, ...]
    support: float
    supported: bool
    verdict: JudgeVerdict | None = None

    @property
    def reasons(self) -> list[str]:
        """Why support is short of 1: each claim span the evidence does not hold."""
        where = ", ".join(f"[{n}]" for n in self.evidence)
        return [f'{span.kind} "{span.text}" not found in {where}' for span in self.missing_claims]

    def to_record(self) -> dict[str, Any]:
        record = asdict(self)
        record["missing_claims"] = [
            {"kind": span.kind, "text": span.text} for span in self.missing_claims
        ]
        record["reasons"] = self.reasons
        return record


@dataclass(frozen=True)
class GroundingResult:
    sentences: tuple[SentenceGrounding, ...]
    validity: float | None
    invalid_citations: tuple[int, ...]
    coverage: float | None
    support: float | None
    unsupported_rate: float | None
    threshold: float

    @property
    def judge_unsupported_rate(self) -> float | None:
        """Share of judged sentences the judge found unsupported (errors left out)."""
        verdicts = [s.verdict.supported for s in self.sentences if s.verdict is not None]
        decided = [v for v in verdicts if v is not None]
        return None if not decided else sum(not v for v in decided) / len(decided)

    @property
    def judge_errors(self) -> int:
        return sum(1 for s in self.sentences if s.verdict is not None and s.verdict.error)

    def to_record(self) -> dict[str, Any]:
        """A JSON-ready dict: answer metrics first, then the per-sentence detail."""
        return {
            "support": self.support,
            "validity": self.validity,
            "coverage": self.coverage,
            "unsupported_rate": self.unsupported_rate,
            "invalid_citations": list(self.invalid_citations),
            "threshold": self.threshold,
            "judge_unsupported_rate": self.judge_unsupported_rate,
            "judge_errors": self.judge_errors,
            "sentences": [s.to_record() for s in self.sentences],
        }


def _mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if values else None


def aggregate(results: Sequence[GroundingResult]) -> dict[str, Any]:
    """Means over answers of each metric, skipping answers where it is undefined."""
    summary: dict[str, Any] = {"answers": len(results)}
    for name in ("validity", "coverage", "support", "unsupported_rate"):
        values = [getattr(r, name) for r in results if getattr(r, name) is not None]
        summary[name] = _mean(values)
    summary["sentences"] = sum(len(r.sentences) for r in results)
    summary["invalid_citations"] = sum(len(r.invalid_citations) for r in results)
    judged = [r.judge_unsupported_rate for r in results if r.judge_unsupported_rate is not None]
    summary["judge_unsupported_rate"] = _mean(judged)
    summary["judge_errors"] = sum(r.judge_errors for r in results)
    return summary


@dataclass(frozen=True)
class _Plan:
    """One sentence's claim and evidence, before embedding."""

    sentence: Sentence
    invalid: tuple[int, ...]
    evidence: tuple[int, ...]
    units: tuple[str, ...]


def _plan(sentence: Sentence, passages: Sequence[str], units: Sequence[list[str]]) -> _Plan:
    valid = tuple(sorted({n for n in sentence.citations if 1 <= n <= len(passages)}))
    invalid = tuple(n for n in sentence.citations if not 1 <= n <= len(passages))
    evidence = valid or tuple(range(1, len(passages) + 1))
    return _Plan(
        sentence=sentence,
        invalid=invalid,
        evidence=evidence,
        units=tuple(unit for n in evidence for unit in units[n - 1]),
    )


class GroundingScorer:
    """Scores answers against numbered passages; texts are embedded once per `score_many` call."""

    def __init__(
        self,
        embed: TokenEmbed = minilm_token_embed,
        *,
        lexical_weight: float = LEXICAL_WEIGHT,
        claim_weight: float = CLAIM_WEIGHT,
        threshold: float = DEFAULT_THRESHOLD,
    ) -> None:
        for name, value in (("lexical_weight", lexical_weight), ("claim_weight", claim_weight)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        self._embed = embed
        self.lexical_weight = lexical_weight
        self.claim_weight = claim_weight
        self.threshold = threshold

    def score(self, answer: str, passages: Sequence[str]) -> GroundingResult:
        return self.score_many([(answer, passages)])[0]

    def score_many(self, items: Sequence[tuple[str, Sequence[str]]]) -> list[GroundingResult]:
        plans: list[tuple[list[_Plan], Sequence[str]]] = []
        for answer, passages in items:
            units = [evidence_units(p) for p in passages]
            sentence_plans = [_plan(s, passages, units) for s in split_sentences(answer)]
            plans.append((sentence_plans, passages))
        vectors = self._embed_all(
            {p.sentence.claim for ps, _ in plans for p in ps}
            | {u for ps, _ in plans for p in ps for u in p.units}
        )
        return [self._result(ps, passages, vectors) for ps, passages in plans]

    def _embed_all(self, texts: set[str]) -> dict[str, NDArray[np.float32]]:
        ordered = sorted(texts)
        return dict(zip(ordered, self._embed(ordered), strict=True)) if ordered else {}

    def _sentence(
        self, plan: _Plan, passages: Sequence[str], vectors: dict[str, NDArray[np.float32]]
    ) -> SentenceGrounding:
        semantic = soft_token_recall(
            vectors[plan.sentence.claim], [vectors[unit] for unit in plan.units]
        )
        evidence = [passages[n - 1] for n in plan.evidence]
        lexical = lexical_support(plan.sentence.claim, evidence)
        words = (
            semantic
            if lexical is None
            else self.lexical_weight * lexical + (1 - self.lexical_weight) * semantic
        )
        claims = check_claims(plan.sentence.claim, prepare_evidence(evidence))
        support = self.claim_weight * claims.support + (1 - self.claim_weight) * words
        return SentenceGrounding(
            index=plan.sentence.index,
            text=plan.sentence.text,
            citations=plan.sentence.citations,
            invalid_citations=plan.invalid,
            evidence=plan.evidence,
            lexical=lexical,
            semantic=semantic,
            claims=claims.support,
            missing_claims=claims.missing,
            support=support,
            supported=support >= self.threshold,
        )

    def _result(
        self,
        plans: list[_Plan],
        passages: Sequence[str],
        vectors: dict[str, NDArray[np.float32]],
    ) -> GroundingResult:
        sentences = tuple(self._sentence(p, passages, vectors) for p in plans)
        cited = [n for s in sentences for n in s.citations]
        invalid = tuple(n for s in sentences for n in s.invalid_citations)
        supports = [s.support for s in sentences]
        return GroundingResult(
            sentences=sentences,
            validity=None if not cited else 1 - len(invalid) / len(cited),
            invalid_citations=invalid,
            coverage=_mean([float(bool(s.citations)) for s in sentences]),
            support=_mean(supports),
            unsupported_rate=_mean([float(not s.supported) for s in sentences]),
            threshold=self.threshold,
        )


async def apply_judge(
    result: GroundingResult, passages: Sequence[str], judge: Judge, *, concurrency: int = 4
) -> GroundingResult:
    """`result` with each sentence's judge verdict on the same evidence it was scored against.

    The judge sees the claim without its citation markers, and only the evidence passages.
    """
    gate = asyncio.Semaphore(concurrency)

    async def one(sentence: SentenceGrounding) -> SentenceGrounding:
        async with gate:
            try:
                verdict = await judge.judge(
                    strip_citations(sentence.text), [passages[n - 1] for n in sentence.evidence]
                )
            except Exception as exc:  # a judge failure is data about this sentence, not a crash
                verdict = JudgeVerdict(supported=None, error=f"{type(exc).__name__}: {exc}")
        return replace(sentence, verdict=verdict)

    judged = await asyncio.gather(*(one(s) for s in result.sentences))
    return replace(result, sentences=tuple(judged))


class ChatClient(Protocol):
    """What the judge needs from `promptops.llm.client.LLMClient`."""

    async def complete(self, request: ChatRequest) -> Completion: ...


_JUDGE_SYSTEM = (
    "You check whether a claim is supported by the given passages. Answer with exactly one "
    "word: supported (the passages state or directly imply the claim) or unsupported "
    "(the passages contradict it or do not mention it)."
)
_JUDGE_LABELS = ("supported", "unsupported")


class LLMJudge:
    """A `Judge` that asks a chat model for a constrained supported/unsupported label.

    Each passage is cut to `max_passage_chars` so that a judge prompt stays bounded.
    """

    def __init__(self, client: ChatClient, *, max_passage_chars: int = 4000) -> None:
        self._client = client
        self._max_passage_chars = max_passage_chars

    def request(self, sentence: str, passages: Sequence[str]) -> ChatRequest:
        numbered = number_passages([p[: self._max_passage_chars] for p in passages])
        user = f"Passages:\n{numbered}\n\nClaim: {sentence}\n\nAnswer supported or unsupported."
        return ChatRequest(
            messages=(("system", _JUDGE_SYSTEM), ("user", user)),
            temperature=0.0,
            max_tokens=4,
            labels=_JUDGE_LABELS,
        )

    async def judge(self, sentence: str, passages: Sequence[str]) -> JudgeVerdict:
        completion = await self._client.complete(self.request(sentence, passages))
        if not completion.ok:
            return JudgeVerdict(
                supported=None, error=f"{completion.error_kind}: {completion.error}"
            )
        if completion.label not in _JUDGE_LABELS:
            return JudgeVerdict(
                supported=None, error=f"unparseable judge answer: {completion.text!r}"
            )
        return JudgeVerdict(supported=completion.label == "supported")
