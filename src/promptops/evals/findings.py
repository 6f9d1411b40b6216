"""The pre-flight findings of an eval: leakage, PII and class balance, each as report findings
(or an `EvalsetError` that refuses the run before anything is sent)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from promptops.errors import EvalsetError
from promptops.evals.checks import ClassBalance, PiiScan, find_leakage
from promptops.evals.evalset import Case, EvalsetFile, case_text
from promptops.evals.suite import LeakagePolicy, PiiPolicy
from promptops.prompts import Prompt
from promptops.runs import summary as s

MAX_LISTED = 10


class HasLeakagePolicy(Protocol):
    """A suite of any task type: what `leakage_findings` reads."""

    @property
    def leakage(self) -> LeakagePolicy: ...


@dataclass(frozen=True)
class _IdTexts:
    """(id, text) of each case, re-read from the file on every iteration."""

    cases: EvalsetFile

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return ((case.id, case_text(case)) for case in self.cases)


def leakage_findings(
    suite: HasLeakagePolicy,
    prompt: Prompt,
    evalset: EvalsetFile,
    train_cases: list[Case],
    n_test: int,
    path: Path,
    seen_as: str = "train",
) -> list[s.Finding]:
    """Test inputs shared with train (`seen_as`: "train/dev" when the run tunes on dev
    answers too) or few-shot examples: refused unless the suite allows."""
    train = [(c.id, case_text(c)) for c in train_cases]
    few_shot = ["\n".join(str(v) for v in ex.input.values()) for ex in prompt.examples]
    report = find_leakage(
        train,
        _IdTexts(evalset.of_split("test")),
        few_shot,
        threshold=suite.leakage.near_duplicate_threshold,
    )
    if not report.pairs:
        return [
            s.Finding(
                check="leakage",
                severity="info",
                message=(
                    f"no exact or near-duplicate (>= {report.threshold}) inputs shared between "
                    f"test ({n_test}) and {seen_as} ({len(train)}) "
                    f"or few-shot examples ({len(few_shot)})"
                ),
            )
        ]
    details = [
        f"{p.test_id} ~ {p.source}:{p.source_id} ({p.kind}, similarity {p.similarity:.3f})"
        for p in report.pairs[:MAX_LISTED]
    ]
    message = (
        f"{len(report.leaked_test_ids)} test case(s) overlap training data or few-shot examples "
        f"(exact train {report.count('train', 'exact')}, "
        f"near train {report.count('train', 'near')}, "
        f"few-shot {report.count('few_shot', 'exact') + report.count('few_shot', 'near')})"
    )
    if not suite.leakage.allow:
        listed = "\n  ".join(details)
        raise EvalsetError(
            f"leakage: {message}; set `leakage: {{allow: true}}` in the suite to accept it"
            f"\n  {listed}",
            where=str(path),
        )
    return [s.Finding(check="leakage", severity="warning", message=message, details=details)]


class HasPiiPolicy(Protocol):
    """A suite of any task type: what `pii_findings` reads."""

    @property
    def pii(self) -> PiiPolicy: ...


def pii_findings(suite: HasPiiPolicy, found: PiiScan, path: Path) -> list[s.Finding]:
    """PII in inputs: refused unless the suite allows it with a written justification."""
    if not found.total:
        return [s.Finding(check="pii", severity="info", message="no PII found in inputs")]
    details = [f"{f.case_id} {f.field}: {f.kind} {f.excerpt}" for f in found.findings]
    message = f"{found.total} PII finding(s) in inputs"
    if not suite.pii.allow:
        listed = "\n  ".join(details)
        raise EvalsetError(
            f"{message}; remove them or allow them in the suite with a written justification"
            f"\n  {listed}",
            where=str(path),
        )
    return [
        s.Finding(
            check="pii",
            severity="warning",
            message=f"{message}; allowed: {suite.pii.justification}",
            details=details,
        )
    ]


def balance_findings(balance: ClassBalance) -> list[s.Finding]:
    """Class counts per split, with a warning for labels that have no case."""
    details = [
        f"{split}: " + ", ".join(f"{label} {n}" for label, n in counts.items())
        for split, counts in balance.counts.items()
    ]
    ratios = ", ".join(
        f"{split} {'inf' if r is None else f'{r:.2f}'}"
        for split, r in balance.imbalance_ratio.items()
    )
    missing = {k: v for k, v in balance.missing_labels.items() if v}
    severity = "warning" if missing else "info"
    message = f"class balance (largest/smallest class): {ratios}"
    if missing:
        message += "; labels with no case: " + "; ".join(
            f"{split}: {', '.join(labels)}" for split, labels in missing.items()
        )
    return [s.Finding(check="balance", severity=severity, message=message, details=details)]
