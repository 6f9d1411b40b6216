"""Real BANKING77 traffic for the monitor tests and benchmark: a reference eval run folder
built from the shipped evalset, and request logs in serve's format drawn from it.

Predictions come from a seeded noisy oracle (right 85% of the time, else another label; 1%
invalid), the same model for the reference run and the served traffic, so "traffic like the
evalset" differs from the reference by sampling alone.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from promptops.tokens import count_tokens

ROOT = Path(__file__).resolve().parents[1]
BANKING = ROOT / "evalsets" / "banking77" / "intent.jsonl"
COVID = ROOT / "evalsets" / "covid_qa" / "queries.jsonl"
START = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
ACCURACY = 0.85
INVALID = 0.01


@dataclass(frozen=True)
class Case:
    message: str
    expected: str
    tags: tuple[str, ...] = ()


def banking_cases() -> list[Case]:
    rows = [json.loads(line) for line in BANKING.read_text(encoding="utf-8").splitlines()]
    return [Case(r["input"]["message"], r["expected"], tuple(r.get("tags", ()))) for r in rows]


def covid_texts() -> list[str]:
    rows = [json.loads(line) for line in COVID.read_text(encoding="utf-8").splitlines()]
    return [r["text"] for r in rows]


def labels_of(cases: Sequence[Case]) -> list[str]:
    return sorted({c.expected for c in cases})


def predict(case: Case, labels: Sequence[str], rng: random.Random) -> str | None:
    roll = rng.random()
    if roll < INVALID:
        return None
    if roll < INVALID + ACCURACY:
        return case.expected
    return rng.choice([label for label in labels if label != case.expected])


def write_reference_run(folder: Path, cases: Sequence[Case], seed: int = 1) -> Path:
    """results.jsonl + summary.json of an eval run over `cases`, scored like `eval` does."""
    from sklearn.metrics import f1_score

    rng = random.Random(seed)
    labels = labels_of(cases)
    folder.mkdir(parents=True, exist_ok=True)
    true, pred = [], []
    with (folder / "results.jsonl").open("w", encoding="utf-8") as out:
        for i, case in enumerate(cases):
            p = predict(case, labels, rng)
            true.append(case.expected)
            pred.append(p if p is not None else "invalid")
            record = {
                "id": f"case-{i}",
                "index": i,
                "sample": 0,
                "input": {"message": case.message},
                "expected": case.expected,
                "predicted": p,
                "invalid": p is None,
                "error": None,
                "latency_s": 0.2,
                "prompt_tokens": 120,
                "completion_tokens": 3,
                "cost_usd": 0.0,
            }
            out.write(json.dumps(record) + "\n")
    f1 = f1_score(true, pred, labels=labels, average="macro", zero_division=0)
    summary = {"labels": labels, "metrics": {"macro_f1": float(f1)}}
    (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    return folder


def log_record(
    i: int,
    text: str,
    label: str | None,
    *,
    seconds: float,
    log_inputs: bool,
    rng: random.Random,
    arm: str = "primary",
    status: int = 200,
    latency_ms: float | None = None,
    prefix: str = "r",
) -> dict[str, object]:
    record: dict[str, object] = {
        "time": (START + timedelta(seconds=seconds)).isoformat(timespec="milliseconds"),
        "request_id": f"{prefix}{i}",
        "arm": arm,
        "prompt": "classify_intent@1",
        "prompt_hash": "x",
        "model": "smollm2",
        "input_chars": len(text),
        "input_tokens": count_tokens(text),
        "input_hash": "h",
        "error_kind": None if status == 200 else "server_error",
        "upstream_latency_ms": 1.0,
        "attempts": 1,
        "status": status,
        "output": label,
        "label": label if status == 200 else None,
        "confidence": 0.9,
        "fallback": False,
        "latency_ms": latency_ms
        if latency_ms is not None
        else round(rng.lognormvariate(5, 0.3), 3),
    }
    if log_inputs:
        record["input"] = {"message": text}
    return record


def traffic(
    cases: Sequence[Case],
    n: int,
    seed: int,
    *,
    labels: Sequence[str],
    log_inputs: bool = False,
    every_s: float = 1.0,
    prefix: str = "r",
) -> Iterator[tuple[dict[str, object], str]]:
    """(log record, true label) for n requests drawn with replacement from `cases`; request
    ids are `prefix` and the request's number."""
    rng = random.Random(seed)
    for i in range(n):
        case = rng.choice(cases)
        label = predict(case, labels, rng)
        yield (
            log_record(
                i,
                case.message,
                label,
                seconds=i * every_s,
                log_inputs=log_inputs,
                rng=rng,
                prefix=prefix,
            ),
            case.expected,
        )


def write_log(
    path: Path, records: Iterator[tuple[dict[str, object], str]], feedback: Path | None = None
) -> Path:
    with path.open("w", encoding="utf-8") as out:
        fb = feedback.open("w", encoding="utf-8") if feedback is not None else None
        for record, truth in records:
            out.write(json.dumps(record) + "\n")
            if fb is not None:
                fb.write(json.dumps({"request_id": record["request_id"], "label": truth}) + "\n")
        if fb is not None:
            fb.close()
    return path
