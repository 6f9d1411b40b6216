"""Realistic `ClassificationSummary` objects for the report tests.

Metrics come from a simulated run scored with scikit-learn (not from the report code), and
the hostile variant plants strings that would break Markdown tables or run script in HTML
if any writer forgot to escape them.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from promptops.evals.metrics import reliability_bins
from promptops.runs.summary import (
    BaselineResult,
    CaseView,
    ClassificationMetrics,
    ClassificationSummary,
    ClassMetrics,
    ClassRecall,
    Confusion,
    EvalsetInfo,
    Finding,
    Interval,
    McNemar,
    ModelInfo,
    PairedBootstrap,
    PairedDecision,
    PromptInfo,
    ReliabilityBin,
    Repeats,
    Sensitivity,
    SignFlip,
    SliceGap,
    SliceMetrics,
    ThresholdResult,
    Usage,
    Verdict,
    Volatile,
    WorstCases,
)

PLAIN_LABELS = [
    "card_arrival",
    "card_linking",
    "exchange_rate",
    "lost_or_stolen_card",
    "top_up_failed",
    "refund_not_showing",
]
HOSTILE_LABEL = "refund <img src=x onerror=\"document.title='pwned'\"> | `x`"
PWNED = "pwned"

HOSTILE = [
    "<script>document.title='pwned'</script>",
    '" onmouseover="document.title=\'pwned\'" x="',
    "</svg><img src=x onerror=\"document.title='pwned'\">",
    "a | b || c \\| d",
    "```\nfenced code\n```",
    "line one\nline two\r\nline three\u2028line four",
    "**bold** _it_ [link](http://evil.example) ![img](x.png) <http://evil.example>",
    "# heading\n- item\n> quote\n---",
    "&lt;already&gt; &amp; $x^2$ ~~strike~~ <!-- comment -->",
    "</td></tr></table><h1>injected</h1>",
]
PLAIN_TEXTS = [
    "My new card still hasn't arrived, it's been two weeks.",
    "How do I link the card I got in the post to my account?",
    "What rate do you use when I pay in euros?",
    "I think someone took my card at the station.",
    "Top-up with my Visa keeps getting declined.",
    "The refund from the shop is still not in my balance.",
]


def simulate(labels: list[str], n: int = 300, seed: int = 7) -> dict[str, np.ndarray]:
    """A run's answers: expected labels, predictions (None = invalid) and confidences."""
    rng = np.random.default_rng(seed)
    weights = np.array([0.22, 0.2, 0.18, 0.16, 0.14, 0.1])
    expected = rng.choice(len(labels), size=n, p=weights)
    right = rng.random(n) < np.array([0.9, 0.85, 0.8, 0.75, 0.7, 0.5])[expected]
    other = (expected + rng.integers(1, len(labels), size=n)) % len(labels)
    predicted = np.where(right, expected, other).astype(object)
    predicted[rng.random(n) < 0.02] = None
    confidence = np.clip(np.where(right, rng.beta(8, 2, n), rng.beta(4, 3, n)), 0.0, 1.0)
    return {"expected": expected, "predicted": predicted, "confidence": confidence}


def score(labels: list[str], run: dict[str, np.ndarray]) -> ClassificationMetrics:
    """Metrics of a simulated run, computed with scikit-learn."""
    k = len(labels)
    y_true = [labels[i] for i in run["expected"]]
    y_pred = ["<invalid>" if p is None else labels[p] for p in run["predicted"]]
    prec, rec, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    matrix = [[0] * (k + 1) for _ in range(k)]
    for t, p in zip(run["expected"], run["predicted"], strict=True):
        matrix[t][k if p is None else p] += 1
    correct = np.array([p == t for t, p in zip(run["expected"], run["predicted"], strict=True)])
    return ClassificationMetrics(
        accuracy=float(accuracy_score(y_true, y_pred)),
        macro_f1=float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        invalid_rate=float(np.mean([p is None for p in run["predicted"]])),
        per_class={
            label: ClassMetrics(
                precision=float(prec[i]),
                recall=float(rec[i]),
                f1=float(f1[i]),
                support=int(support[i]),
            )
            for i, label in enumerate(labels)
        },
        confusion=Confusion(labels=labels, columns=[*labels, "invalid"], matrix=matrix),
        pr_auc_macro=0.8123,
        ece=0.0734,
        reliability=reliability(run["confidence"], correct),
    )


def reliability(
    confidence: np.ndarray, correct: np.ndarray, n_bins: int = 10
) -> list[ReliabilityBin]:
    return list(reliability_bins(confidence, correct.astype(bool), n_bins))


def volatile(seed: int = 0) -> Volatile:
    return Volatile(
        run_id=f"run-2024-05-0{seed + 1}-abc{seed}",
        started_at=f"2024-05-0{seed + 1}T10:00:00Z",
        finished_at=f"2024-05-0{seed + 1}T10:03:2{seed}Z",
        duration_s=200.5 + seed,
        latency_p50_s=0.412 + seed / 10,
        latency_p95_s=1.2345 + seed / 10,
        latency_p99_s=2.5 + seed,
        cache_hits=120 * seed,
        cache_misses=300 - 120 * seed,
        retries=seed,
    )


def case(
    i: int,
    text: str,
    expected: str | None,
    predicted: str | None,
    conf: float | None,
    output: str | None,
    error: str | None = None,
) -> CaseView:
    return CaseView(
        id=f"case-{i:03d}",
        input={"text": text},
        expected=expected,
        predicted=predicted,
        confidence=conf,
        raw_output=output,
        error=error,
    )


def make_summary(
    *, hostile: bool = True, passed: bool = True, seed: int = 0
) -> ClassificationSummary:
    """A full classification summary (6 labels); `hostile` plants escaping traps everywhere."""
    labels = [*PLAIN_LABELS[:5], HOSTILE_LABEL if hostile else PLAIN_LABELS[5]]
    metrics = score(labels, simulate(labels))
    texts = HOSTILE if hostile else PLAIN_TEXTS * 2
    word = (lambda i: HOSTILE[i]) if hostile else (lambda i: labels[(i + 1) % 6])
    confident_wrong = [
        case(
            10 + i,
            texts[i],
            labels[i % 6],
            labels[(i + 2) % 6],
            0.97 - 0.03 * i,
            word(i) if hostile else labels[(i + 2) % 6],
        )
        for i in range(4)
    ]
    lowest = [
        ClassRecall(
            label=labels[5],
            recall=metrics.per_class[labels[5]].recall,
            support=metrics.per_class[labels[5]].support,
            examples=[
                case(
                    40 + i,
                    texts[4 + i],
                    labels[5],
                    labels[i],
                    0.6 + 0.1 * i,
                    texts[6 + i] if hostile else labels[i],
                )
                for i in range(2)
            ],
        ),
        ClassRecall(
            label=labels[4],
            recall=metrics.per_class[labels[4]].recall,
            support=metrics.per_class[labels[4]].support,
            examples=[
                case(50, texts[8], labels[4], None, None, texts[9] if hostile else "I am not sure.")
            ],
        ),
    ]
    errors = [
        case(
            60,
            texts[3],
            labels[2],
            None,
            None,
            None,
            error="LLMError: timed out after 3 attempts" + (f" {HOSTILE[0]}" if hostile else ""),
        )
    ]
    tfidf = ClassificationMetrics(**{**metrics.model_dump(), "accuracy": 0.701, "macro_f1": 0.664})
    majority = ClassificationMetrics(**{**metrics.model_dump(), "accuracy": 0.22, "macro_f1": 0.06})
    baselines = [
        BaselineResult(
            name="majority",
            description="Always predicts the most frequent label.",
            status="ok",
            metrics=majority,
            mcnemar=McNemar(b=170, c=4, p_value=1e-12, mid_p=5e-13),
            sign_flip=SignFlip(
                metric="macro_f1", diff=metrics.macro_f1 - 0.06, p_value=0.0005, n_perm=2000, seed=0
            ),
            decision=_decision(metrics.macro_f1 - 0.06, 0.0005, 0.12),
            paired_bootstrap=PairedBootstrap(
                metric="macro_f1",
                diff=metrics.macro_f1 - 0.06,
                low=0.62,
                high=0.72,
                p_value=0.0,
                n_boot=1000,
                seed=0,
            ),
            prompt_significantly_better=True,
        ),
        BaselineResult(
            name="tfidf_logreg",
            description=("TF-IDF + logistic regression on the train split. " + HOSTILE[3])
            if hostile
            else "TF-IDF + logistic regression on the train split.",
            status="ok",
            metrics=tfidf,
            mcnemar=McNemar(b=41, c=17, p_value=0.0024, mid_p=0.0019),
            sign_flip=SignFlip(
                metric="macro_f1", diff=metrics.macro_f1 - 0.664, p_value=0.004, n_perm=2000, seed=0
            ),
            decision=_decision(metrics.macro_f1 - 0.664, 0.004, 0.061),
            paired_bootstrap=PairedBootstrap(
                metric="macro_f1",
                diff=metrics.macro_f1 - 0.664,
                low=0.031,
                high=0.129,
                p_value=0.002,
                n_boot=1000,
                seed=0,
            ),
            prompt_significantly_better=True,
        ),
        BaselineResult(
            name="knn_embeddings",
            description="k-NN over sentence embeddings.",
            status="not_fit",
            reason="no train split in the evalset",
        ),
    ]
    slices = [
        SliceMetrics(tag="typo", n=40, accuracy=0.65, macro_f1=0.602),
        SliceMetrics(tag="long", n=80, accuracy=0.79, macro_f1=0.771),
        SliceMetrics(
            tag=HOSTILE[1] if hostile else "non_english", n=25, accuracy=0.6, macro_f1=0.558
        ),
        SliceMetrics(tag="short", n=120, accuracy=0.84, macro_f1=0.815),
    ]
    gap_tag = slices[2].tag
    findings = [
        Finding(
            check="leakage",
            severity="warning",
            message="3 test inputs also appear in the few-shot examples.",
            details=["case-014", "case-102", HOSTILE[2] if hostile else "case-207"],
        ),
        Finding(
            check="pii",
            severity="error",
            message="Email addresses found in 2 inputs.",
            details=["case-033: j***@example.com", HOSTILE[4] if hostile else "case-090"],
        ),
        Finding(
            check="balance",
            severity="info",
            message="Largest class is 2.2x the smallest; macro-F1 is the primary metric.",
        ),
    ]
    return ClassificationSummary(
        suite="banking-intents",
        prompt=PromptInfo(
            name="intent",
            version="1.3.0",
            identity="intent@1.3.0",
            content_hash="9f2c4e1ab37d5c88e0f1a2b3c4d5e6f7",
            source="prompts/intent.yaml",
        ),
        model=ModelInfo(
            profile="local",
            model="SmolLM2-360M-Instruct (embedded)",
            base_url=None,
            temperature=0.0,
            max_tokens=8,
            calibration="temperature",
        ),
        evalset=EvalsetInfo(
            path="evalsets/banking77_6.jsonl",
            sha256="ab" * 32,
            n_cases=300,
            n_by_split={"test": 300, "train": 1200},
        ),
        labels=labels,
        n_cases=300,
        n_errors=1,
        n_invalid=round(metrics.invalid_rate * 300),
        metrics=metrics,
        intervals={
            "accuracy": Interval(
                estimate=metrics.accuracy,
                low=metrics.accuracy - 0.046,
                high=metrics.accuracy + 0.043,
                n_boot=1000,
                seed=0,
            ),
            "macro_f1": Interval(
                estimate=metrics.macro_f1,
                low=metrics.macro_f1 - 0.051,
                high=metrics.macro_f1 + 0.047,
                n_boot=1000,
                seed=0,
            ),
        },
        sensitivity=Sensitivity(
            metric="macro_f1",
            n=300,
            alpha=0.05,
            power=0.8,
            mde=0.061,
            method="paired sign-flip permutation; sign-flip null and paired bootstrap spreads",
            against="tfidf_logreg",
        ),
        baselines=baselines,
        verdict=Verdict(
            best_baseline="tfidf_logreg",
            beats_best_baseline=True,
            explanation="The difference is significant under both tests."
            + (f" {HOSTILE[0]} {HOSTILE[9]}" if hostile else ""),
        ),
        slices=slices,
        largest_gap=SliceGap(tag_a="short", tag_b=gap_tag, metric="macro_f1", gap=0.257),
        worst_cases=WorstCases(
            confident_wrong=confident_wrong, lowest_recall=lowest, errors=errors
        ),
        findings=findings,
        repeats=Repeats(
            k=3,
            mean_agreement=0.947,
            pass_hat_k=0.713,
            flaky_cases=["case-201", "case-017", HOSTILE[6] if hostile else "case-099"],
        ),
        usage=Usage(prompt_tokens=84213, completion_tokens=1290, cost_usd=0.0),
        thresholds=[
            ThresholdResult(
                metric="macro_f1",
                op=">=",
                value=0.6,
                actual=metrics.macro_f1,
                passed=metrics.macro_f1 >= 0.6,
            ),
            ThresholdResult(
                metric="invalid_rate",
                op="<=",
                value=0.05 if passed else 0.001,
                actual=metrics.invalid_rate,
                passed=passed,
            ),
        ],
        passed=passed and metrics.macro_f1 >= 0.6,
        volatile=volatile(seed),
    )


def _decision(diff: float, p_value: float, mde: float) -> PairedDecision:
    return PairedDecision(
        metric="macro_f1",
        test="paired sign-flip permutation",
        diff=diff,
        p_value=p_value,
        alpha=0.05,
        outcome="significant",
        n=300,
        discordant=120,
        smallest_p=1e-30,
        mde=mde,
        power=0.8,
        mde_method="sign-flip null and paired bootstrap spreads",
    )
