"""The embedded model: start-up time, per-call latency, the shipped suite's per-case time
before/after prefix reuse, and label accuracy on BANKING77.

Start-up is measured in fresh processes against a temporary PROMPTOPS_CACHE_DIR: the first
(cold) one dequantizes the GGUF and saves safetensors, the second (warm) loads them. Both
figures include importing torch and transformers.

Accuracy: a seeded sample of PER_INTENT test messages for each of the six intents the shipped
prompt uses, classified by label scoring (`promptops.local.score_labels`) under:
a system prompt that lists the labels (plain) or lists them with one-line descriptions
(described); zero-shot or few-shot (SHOTS train examples per intent as user/assistant turns);
raw or contextually calibrated (Zhao et al. 2021) with the content-free inputs "N/A", "" and
"[MASK]" in place of the message. The label strings are the dataset's, unchanged.

Before/after (#17): the shipped `intent` suite's cases (its prompt, calibrated as `eval`
calibrates) scored by the previous method (the whole prompt per case, `reuse_prefix=False`) and
by the current one (shared prefix cached, one packed pass per case), alternating which goes
first case by case so both see the same machine load. Per-case time, answers that differ and
macro-F1 of each are printed.

    python benchmarks/local_model.py [--per-intent 20] [--suite-cases 240] [--skip-cold]
                                     [--skip-study] [--json]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from sklearn.metrics import accuracy_score, f1_score

from promptops.evals.suite import resolve_suite
from promptops.llm.calibration import CONTENT_FREE_INPUTS, calibrate, content_free_prior
from promptops.local import generate, get_model, label_scores, score_labels
from promptops.prompts import build_request, declared_variables

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "banking77"
SEED = 20240501
SHOTS = 2
INTENTS = (
    "card_arrival",
    "change_pin",
    "exchange_rate",
    "lost_or_stolen_card",
    "terminate_account",
    "top_up_failed",
)
DESCRIPTIONS = {
    "card_arrival": "waiting for a new card to arrive",
    "change_pin": "wants to change or reset the card PIN",
    "exchange_rate": "asks about currency exchange rates",
    "lost_or_stolen_card": "the card was lost or stolen",
    "terminate_account": "wants to close the account",
    "top_up_failed": "adding money (a top-up) did not work",
}
SYSTEM = {
    "plain": (
        "You classify a bank customer's message into exactly one intent. Intents: "
        + ", ".join(INTENTS)
        + ". Answer with the intent name only."
    ),
    "described": (
        "You classify a bank customer's message into exactly one intent:\n"
        + "\n".join(f"- {label}: {DESCRIPTIONS[label]}" for label in INTENTS)
        + "\nAnswer with the intent name only."
    ),
}

_START = """
import json, sys, time
started = time.perf_counter()
from pathlib import Path
from promptops.local.model import load_model
loaded = load_model(Path(sys.argv[1]))
print(json.dumps({"process_s": time.perf_counter() - started,
                  "load_s": loaded.load_seconds, "converted": loaded.converted}))
"""

Messages = list[dict[str, str]]


def start_times() -> dict[str, dict[str, Any]]:
    """Cold (converting) then warm start, each in a fresh interpreter."""
    with tempfile.TemporaryDirectory(prefix="promptops-bench-") as root:
        result = {}
        for name in ("cold", "warm"):
            run = subprocess.run(
                [sys.executable, "-c", _START, root], capture_output=True, text=True, check=True
            )
            result[name] = json.loads(run.stdout.strip().splitlines()[-1])
        return result


def median_seconds(call: Any, repeats: int) -> float:
    call()  # warm-up: first-call allocations are not what a caller waits for each time
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def read_rows(path: Path) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [(row["text"], row["category"]) for row in csv.DictReader(handle)]


def sample(rows: list[tuple[str, str]], per_intent: int, rng: random.Random) -> list[list[str]]:
    """`per_intent` texts for each intent, in INTENTS order."""
    by_intent: dict[str, list[str]] = {label: [] for label in INTENTS}
    for text, label in rows:
        if label in by_intent:
            by_intent[label].append(text)
    return [rng.sample(by_intent[label], per_intent) for label in INTENTS]


def shots_turns(train: list[list[str]]) -> Messages:
    """Round-robin over intents so no label sits last in every example block."""
    turns: Messages = []
    for index in range(SHOTS):
        for label, texts in zip(INTENTS, train, strict=True):
            turns += [
                {"role": "user", "content": texts[index]},
                {"role": "assistant", "content": label},
            ]
    return turns


def classify(prefix: Messages, texts: list[str]) -> list[dict[str, float]]:
    return [score_labels([*prefix, {"role": "user", "content": t}], INTENTS) for t in texts]


def scores(gold: list[str], probs: list[dict[str, float]]) -> dict[str, Any]:
    predicted = [max(p, key=p.__getitem__) for p in probs]
    return {
        "accuracy": float(accuracy_score(gold, predicted)),
        "macro_f1": float(
            f1_score(gold, predicted, labels=list(INTENTS), average="macro", zero_division=0)
        ),
        "predicted": dict(Counter(predicted)),
    }


def accuracy_study(per_intent: int) -> dict[str, dict[str, Any]]:
    rng = random.Random(SEED)
    test = sample(read_rows(DATA / "test.csv"), per_intent, rng)
    train = sample(read_rows(DATA / "train.csv"), SHOTS, rng)
    gold = [label for label, texts in zip(INTENTS, test, strict=True) for _ in texts]
    texts = [text for group in test for text in group]
    results: dict[str, dict[str, Any]] = {}
    for style, system in SYSTEM.items():
        for shots in ("zero-shot", "few-shot"):
            prefix = [{"role": "system", "content": system}]
            if shots == "few-shot":
                prefix += shots_turns(train)
            started = time.perf_counter()
            raw = classify(prefix, texts)
            seconds = (time.perf_counter() - started) / len(texts)
            prior = content_free_prior(classify(prefix, list(CONTENT_FREE_INPUTS)))
            name = f"{style} {shots}"
            results[name] = {**scores(gold, raw), "s_per_case": seconds}
            calibrated = [calibrate(p, prior) for p in raw]
            results[f"{name} +CC"] = {**scores(gold, calibrated), "prior": prior}
    return results


def suite_before_after(limit: int | None) -> dict[str, Any]:
    """The shipped suite's test cases under both methods, interleaved case by case."""
    suite, _ = resolve_suite("intent")
    prompt = suite.prompt_from(suite.prompt)
    labels = list(prompt.labels or ())
    cases = list(resolve_cases(suite.path_of(suite.evalset)))[:limit]

    def messages(values: dict[str, Any]) -> Messages:
        request = build_request(prompt, values)
        return [{"role": role, "content": content} for role, content in request.messages]

    names = list(declared_variables(prompt))
    content_free = [messages(dict.fromkeys(names, text)) for text in CONTENT_FREE_INPUTS]
    seconds = {"before": 0.0, "after": 0.0}
    raw: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    label_scores(messages(cases[0][1]), labels)  # warm-up
    label_scores(messages(cases[0][1]), labels, reuse_prefix=False)
    for index, (_, values, _) in enumerate(cases):
        order = ("before", "after") if index % 2 == 0 else ("after", "before")
        for method in order:
            started = time.perf_counter()
            probs = label_scores(messages(values), labels, reuse_prefix=method == "after").probs
            seconds[method] += time.perf_counter() - started
            raw[method].append(probs)
    gold = [expected for _, _, expected in cases]
    result: dict[str, Any] = {"cases": len(cases)}
    answers = {}
    for method in ("before", "after"):
        reuse = method == "after"
        prior = content_free_prior(
            [label_scores(m, labels, reuse_prefix=reuse).probs for m in content_free]
        )
        calibrated = [calibrate(p, prior) for p in raw[method]]
        answers[method] = [max(p, key=p.__getitem__) for p in calibrated]
        result[method] = {
            "s_per_case": seconds[method] / len(cases),
            "macro_f1": float(
                f1_score(gold, answers[method], labels=labels, average="macro", zero_division=0)
            ),
            "accuracy": float(accuracy_score(gold, answers[method])),
        }
    result["changed"] = [
        f"{case_id}: {a} -> {b}"
        for (case_id, _, _), a, b in zip(cases, answers["before"], answers["after"], strict=True)
        if a != b
    ]
    result["speed_up"] = result["before"]["s_per_case"] / result["after"]["s_per_case"]
    return result


def resolve_cases(path: Path) -> list[tuple[str, dict[str, Any], str]]:
    """(id, input, expected) of the test split, in file order."""
    with path.open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    return [(r["id"], r["input"], r["expected"]) for r in rows if r.get("split") == "test"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-intent", type=int, default=20)
    parser.add_argument("--suite-cases", type=int, default=None, help="first N suite cases")
    parser.add_argument("--skip-cold", action="store_true", help="skip the start-up timings")
    parser.add_argument("--skip-study", action="store_true", help="skip the accuracy study")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    report: dict[str, Any] = {}
    if not args.skip_cold:
        report["start"] = start_times()
    import torch

    loaded = get_model()
    question = [{"role": "user", "content": "Explain what a credit card is."}]
    message = {"role": "user", "content": "I lost my card yesterday, what should I do?"}
    zero = [{"role": "system", "content": SYSTEM["plain"]}, message]
    rng = random.Random(SEED)
    few = [zero[0], *shots_turns(sample(read_rows(DATA / "train.csv"), SHOTS, rng)), message]
    report["threads"] = torch.get_num_threads()
    report["latency_s"] = {
        "generate_10_tokens": median_seconds(
            lambda: generate(question, max_tokens=10, temperature=0), 5
        ),
        "score_6_labels_zero_shot": median_seconds(lambda: score_labels(zero, INTENTS), 5),
        "score_6_labels_few_shot": median_seconds(lambda: score_labels(few, INTENTS), 5),
    }
    report["suite"] = suite_before_after(args.suite_cases)
    if not args.skip_study:
        report["study"] = accuracy_study(args.per_intent)
    report["model_path"] = str(loaded.path)

    if args.json:
        print(json.dumps(report, indent=2))
        return
    for name, start in report.get("start", {}).items():
        print(
            f"{name} start: {start['process_s']:.1f} s in a fresh process "
            f"(load_model {start['load_s']:.1f} s, converted={start['converted']})"
        )
    print(f"torch threads: {report['threads']}")
    for name, seconds in report["latency_s"].items():
        print(f"{name}: {seconds * 1000:.0f} ms (median)")
    suite = report["suite"]
    print(f"\nintent suite, {suite['cases']} cases, methods interleaved case by case:")
    for method in ("before", "after"):
        row = suite[method]
        print(
            f"  {method:<6} {row['s_per_case']:.3f} s/case  macro-F1 {row['macro_f1']:.3f}  "
            f"accuracy {row['accuracy']:.3f}"
        )
    print(f"  speed-up {suite['speed_up']:.2f}x; answers changed: {len(suite['changed'])}")
    for line in suite["changed"]:
        print(f"    {line}")
    if "study" not in report:
        return
    print(f"\n{'condition':<26} {'accuracy':>8} {'macro-F1':>8}  predicted counts")
    for name, row in report["study"].items():
        counts = ", ".join(f"{k}={v}" for k, v in sorted(row["predicted"].items()))
        print(f"{name:<26} {row['accuracy']:>8.3f} {row['macro_f1']:>8.3f}  {counts}")


if __name__ == "__main__":
    main()
