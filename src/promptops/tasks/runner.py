"""`promptops eval` for binary and scoring prompts: check, send dev and test, score, compare.

Every check that can refuse the run (expected values per task, variables, ids, leakage,
temporal leakage, PII) runs before anything is sent. The dev split is sent too: a binary
prompt's decision threshold is chosen there, never on test. `results.jsonl` gets each case's
parsed `answer` (binary: P(positive label); scoring: the number) and why it is invalid.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import httpx2
import numpy as np

from promptops.errors import EvalsetError
from promptops.evals.checks import PiiScanner, find_leakage, validate_cases
from promptops.evals.evalset import Case, case_text, evalset_hash
from promptops.evals.findings import MAX_LISTED, pii_findings
from promptops.evals.sending import CaseJob, finished, jobs
from promptops.evals.temporal import split_evalset, temporal_findings
from promptops.llm.client import ClientStats
from promptops.llm.profile import EndpointProfile
from promptops.llm.types import Completion
from promptops.prompts import Prompt, declared_variables
from promptops.prompts.calibrator import calibrator_for
from promptops.runs import lifecycle
from promptops.runs import summary as s
from promptops.runs.folder import SUMMARY, RunFolder, write_atomic, write_json
from promptops.runs.rows import CallFacts
from promptops.runs.sending import Job, Progress, send_all
from promptops.suites import RunFlags, RunOutcome
from promptops.tasks import evaluate as ev
from promptops.tasks import scoring as sc
from promptops.tasks import summary as ts
from promptops.tasks.baselines import BINARY_BASELINES, SCORING_BASELINES, Training, fit_all
from promptops.tasks.suite import TaskSuite, resolve_task_suite
from promptops.tasks.types import TASK_TYPES, check_expected

KINDS = ("binary", "scoring")
DEFAULT_BASELINES = {
    "binary": ("majority", "tfidf_lr"),
    "scoring": ("train_mean", "tfidf_ridge", "minilm_cosine"),
}


@dataclass
class TaskOptions(RunFlags):
    evalset: Path | None = None
    repeat: int | None = None


TaskOutcome = RunOutcome[ts.TaskSummary]


@dataclass
class Prepared:
    suite: TaskSuite
    prompt: Prompt
    path: Path
    sha256: str
    cases: list[Case]
    profile: EndpointProfile
    findings: list[s.Finding] = field(default_factory=list)

    def split(self, name: str) -> list[Case]:
        return [c for c in self.cases if c.split == name]

    @property
    def sent(self) -> list[Case]:
        """What is sent, in order: dev (for the threshold), then test."""
        return self.split("dev") + self.split("test")


def prepare(suite_ref: str, options: TaskOptions) -> Prepared:
    suite, _ = resolve_task_suite(suite_ref)
    prompt = suite.prompt_from(suite.prompt, options.prompt)
    if prompt.task not in KINDS:
        raise EvalsetError(
            f"{prompt.identity} is a {prompt.task} prompt, not binary or scoring",
            where=prompt.source,
        )
    path = options.evalset or suite.path_of(suite.evalset)
    cases = list(split_evalset(suite, path))
    specs = declared_variables(prompt)
    required = [n for n, v in specs.items() if v.required and v.default is None]
    optional = [n for n in specs if n not in required]
    warnings = validate_cases(cases, None, required, path, optional_variables=optional)
    check_expected(cases, prompt, str(path))
    if not any(c.split == "test" for c in cases):
        raise EvalsetError("no cases in the test split: nothing to score", where=str(path))
    findings = [
        s.Finding(check="evalset", severity="warning", message=f"{w.where}: {w.message}")
        for w in warnings[:MAX_LISTED]
    ]
    findings += _leakage(suite, prompt, cases, path)
    findings += temporal_findings(cases, fail=suite.temporal_leakage == "fail", path=path)
    pii = PiiScanner(keep=MAX_LISTED)
    for case in cases:
        pii.add(case)
    findings += pii_findings(suite, pii.result(), path)
    return Prepared(
        suite,
        prompt,
        path,
        evalset_hash(path),
        cases,
        options.profile(suite.profile, suite.endpoint),
        findings,
    )


def _leakage(suite: TaskSuite, prompt: Prompt, cases: list[Case], path: Path) -> list[s.Finding]:
    train = [(c.id, case_text(c)) for c in cases if c.split in ("train", "dev")]
    test = [(c.id, case_text(c)) for c in cases if c.split == "test"]
    few_shot = ["\n".join(str(v) for v in ex.input.values()) for ex in prompt.examples]
    report = find_leakage(train, test, few_shot, threshold=suite.leakage.near_duplicate_threshold)
    if not report.pairs:
        return [
            s.Finding(
                check="leakage",
                severity="info",
                message=f"no test input shared with train/dev ({len(train)}) or few-shot examples",
            )
        ]
    details = [
        f"{p.test_id} ~ {p.source}:{p.source_id} ({p.kind}, {p.similarity:.3f})"
        for p in report.pairs[:MAX_LISTED]
    ]
    message = f"{len(report.leaked_test_ids)} test case(s) overlap train/dev or few-shot examples"
    if not suite.leakage.allow:
        raise EvalsetError(
            f"leakage: {message}; set `leakage: {{allow: true}}` to accept it\n  "
            + "\n  ".join(details),
            where=str(path),
        )
    return [s.Finding(check="leakage", severity="warning", message=message, details=details)]


def _row(job: Job[CaseJob], completion: Completion) -> dict[str, Any]:
    """One line of results.jsonl (its `answer` is added once the run is complete)."""
    case = job.item.case
    return {
        "id": case.id,
        "index": job.item.index,
        "sample": job.item.sample,
        "split": case.split,
        "tags": list(case.tags),
        "input": case.input,
        "expected": case.expected,
        "predicted": completion.label if completion.ok else None,
        "label_probs": completion.label_probs,
        "raw_output": completion.text,
        "invalid": completion.invalid,
        "resent": job.item.resent,
        **CallFacts.of(completion),
    }


async def _send(
    prep: Prepared,
    folder: RunFolder,
    repeat: int,
    options: TaskOptions,
    http_client: httpx2.AsyncClient | None,
    stream: TextIO,
) -> ClientStats:
    async with lifecycle.open_client(
        prep.profile, cache=not options.no_cache, http_client=http_client
    ) as client:
        calibrator = await calibrator_for(client, prep.prompt)
        resent = lifecycle.resend_transient(folder, options.retry_errors)
        sent = prep.sent
        done = finished(folder.records(), len(sent), repeat)
        lifecycle.say_resumed(stream, folder, sum(done), len(resent))

        async def row(job: Job[CaseJob], raw: Completion) -> dict[str, Any]:
            return _row(job, calibrator.apply(raw))

        work = jobs(prep.prompt, sent, repeat, done, resent)
        total = max(len(sent) * repeat - sum(done), 0)
        await send_all(client, folder, work, row, Progress(total, stream))
        return client.stats


def run_task(
    suite_ref: str,
    options: TaskOptions,
    *,
    http_client: httpx2.AsyncClient | None = None,
    stream: TextIO | None = None,
) -> TaskOutcome:
    stream = stream or sys.stderr
    prep = prepare(suite_ref, options)
    repeat = options.repeat or prep.suite.repeat
    started = datetime.now(UTC)
    run_id = f"{prep.suite.name}-{started:%Y%m%dT%H%M%SZ}-{prep.prompt.short_hash[:8]}"
    out_dir = options.out or Path("reports") / "runs" / run_id
    folder = RunFolder(out_dir)
    folder.open(
        {
            "suite": prep.suite.name,
            "prompt_hash": prep.prompt.content_hash,
            "evalset_sha256": prep.sha256,
            "model": prep.profile.model,
            "base_url": prep.profile.base_url,
            "repeat": repeat,
            "kind": prep.prompt.task,
        }
    )
    folder.save_prompt(prep.prompt)
    clock = time.perf_counter()
    try:
        stats = asyncio.run(_send(prep, folder, repeat, options, http_client, stream))
    finally:
        folder.close()
    records = _annotate(folder, prep)
    summary = build_summary(prep, records, repeat, stats)
    summary.volatile.run_id = run_id
    summary.volatile.started_at = started.isoformat(timespec="seconds")
    summary.volatile.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
    summary.volatile.duration_s = round(time.perf_counter() - clock, 3)
    write_json(out_dir / SUMMARY, summary.model_dump(mode="json"))
    from promptops.tasks.report import write_task_reports

    write_task_reports(summary, out_dir)
    return TaskOutcome(summary, out_dir)


def _annotate(folder: RunFolder, prep: Prepared) -> list[dict[str, Any]]:
    """Add each record's parsed `answer` and `invalid_reason` to results.jsonl."""
    records = sorted(folder.records(), key=lambda r: (int(r["index"]), int(r["sample"])))
    for record in records:
        answer = ev.read_answer(record, prep.prompt)
        record["answer"] = answer.value
        record["invalid_reason"] = None if answer.error else answer.reason
        record["invalid"] = answer.value is None and not answer.error
    text = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records)
    write_atomic(folder.results_path, text)
    return records


def build_summary(
    prep: Prepared, records: list[dict[str, Any]], repeat: int, stats: ClientStats
) -> ts.TaskSummary:
    suite, prompt = prep.suite, prep.prompt
    task = TASK_TYPES.get(prompt.task)
    primary = suite.primary_metric or task.primary_metric
    higher = (
        task.higher_is_better
        if suite.primary_metric is None
        else sc.HIGHER_IS_BETTER.get(primary, True)
    )
    sent = prep.sent
    first = {int(r["index"]): r for r in records if int(r["sample"]) == 0}
    samples: dict[str, list[float | None]] = defaultdict(list)
    for r in records:
        samples[str(r["id"])].append(r.get("answer"))
    dev_cases, test_cases = prep.split("dev"), prep.split("test")
    n_dev = len(dev_cases)
    answers = [ev.read_answer(first[i], prompt) for i in range(len(sent))]
    dev = ev.Scored.of(dev_cases, answers[:n_dev], prompt)
    test = ev.Scored.of(test_cases, answers[n_dev:], prompt)
    threshold, source = ev.choose_threshold(dev) if prompt.task == "binary" else (0.5, "")
    metrics = ev.Metrics(prompt, suite, threshold)
    values = metrics.all(test.truth, test.pred)
    n_errors = sum(a.error for a in answers[n_dev:])
    n_invalid = sum(a.value is None and not a.error for a in answers[n_dev:])
    n = len(test_cases)
    values["invalid_rate"] = n_invalid / n
    values["error_rate"] = n_errors / n
    train = prep.split("train")
    training = Training(train, np.array([ev.truth_of(c, prompt) for c in train], dtype=np.float64))
    registry = BINARY_BASELINES if prompt.task == "binary" else SCORING_BASELINES
    names = suite.baselines if suite.baselines is not None else DEFAULT_BASELINES[prompt.task]
    fitted = fit_all(
        registry, names, training, dev_cases, test_cases, where=f"{prep.suite.name}: baselines"
    )
    dev_truth = np.array([ev.truth_of(c, prompt) for c in dev_cases], dtype=np.float64)
    baselines = ev.baseline_rows(
        fitted, metrics, test, test_cases, dev_truth, primary, higher, suite
    )
    worst, invalid = ev.worst_cases(
        test_cases,
        answers[n_dev:],
        [first[i] for i in range(n_dev, len(sent))],
        prompt,
        suite.worst_cases,
    )
    findings = list(prep.findings)
    findings += [
        s.Finding(check="baselines", severity="warning", message=f"{x.name}: {x.reason}")
        for x in baselines
        if x.status == "not_fit"
    ]
    if prompt.task == "binary" and not any(r.get("label_probs") for r in first.values()):
        findings.append(
            s.Finding(
                check="scores",
                severity="warning",
                message=(
                    "the endpoint returned no label probabilities: scores are hard labels, "
                    "so PR-AUC and ROC-AUC rest on one operating point"
                ),
            )
        )
    checks = ev.threshold_checks(suite, values, baselines)
    calibration = []
    if prompt.task == "scoring" and prompt.score_range is not None:
        lo, hi = prompt.score_range
        calibration = [
            ts.CalibrationPoint(**vars(x))
            for x in sc.calibration_bins(test.truth, test.pred, lo, hi)
        ]
    return ts.TaskSummary(
        kind=prompt.task,
        suite=suite.name,
        prompt=s.PromptInfo(
            name=prompt.name,
            version=prompt.version,
            identity=prompt.identity,
            content_hash=prompt.content_hash,
            source=prompt.source,
        ),
        model=s.ModelInfo(
            profile=prep.profile.name,
            model=prep.profile.model,
            base_url=prep.profile.base_url,
            temperature=prompt.model.temperature,
            max_tokens=prompt.model.max_tokens,
            calibration="none",
        ),
        evalset=s.EvalsetInfo(
            path=str(prep.path),
            sha256=prep.sha256,
            n_cases=len(prep.cases),
            n_by_split=dict(sorted(_count_splits(prep.cases).items())),
        ),
        n_cases=n,
        n_errors=n_errors,
        n_invalid=n_invalid,
        primary_metric=primary,
        higher_is_better=higher,
        metrics=values,
        intervals=ev.intervals(metrics, test, suite),
        positive_label=prompt.positive_label,
        threshold=threshold if prompt.task == "binary" else None,
        threshold_source=source or None,
        target_precision=suite.target_precision if prompt.task == "binary" else None,
        score_range=prompt.score_range,
        baselines=baselines,
        verdict=ev.verdict(primary, values.get(primary), baselines),
        slices=ev.slices(metrics, test, primary),
        worst_cases=worst,
        invalid_cases=invalid,
        calibration=calibration,
        repeats=ev.agreement(
            {c.id: samples[c.id] for c in test_cases},
            threshold if prompt.task == "binary" else None,
        )
        if repeat > 1
        else None,
        findings=findings,
        thresholds=checks,
        passed=all(t.passed for t in checks),
        usage=s.Usage(
            prompt_tokens=sum(int(r.get("prompt_tokens") or 0) for r in records),
            completion_tokens=sum(int(r.get("completion_tokens") or 0) for r in records),
            cost_usd=round(sum(float(r.get("cost_usd") or 0) for r in records), 6),
        ),
        volatile=s.Volatile(
            run_id="",
            started_at="",
            finished_at="",
            duration_s=0.0,
            latency_p50_s=None,
            latency_p95_s=None,
            latency_p99_s=None,
            cache_hits=stats.cache_hits,
            cache_misses=stats.cache_misses,
            retries=stats.retries,
        ),
    )


def _count_splits(cases: list[Case]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for c in cases:
        out[c.split] += 1
    return out


def task_of_suite(suite_ref: str) -> str | None:
    """The task of the prompt a suite names, or None when the file is not a task suite
    (the classification runner then reports its own errors)."""
    from promptops.errors import UserInputError
    from promptops.suites import SUITES_DIR
    from promptops.yamlio import read_yaml

    path = Path(suite_ref)
    if path.suffix not in {".yaml", ".yml"}:
        path = SUITES_DIR / f"{suite_ref}.yaml"
    try:
        doc = read_yaml(path, EvalsetError)
        ref = doc.data.get("prompt") if isinstance(doc.data, dict) else None
        if not isinstance(ref, str):
            return None
        from promptops.suites import SuiteFile

        holder = SuiteFile()
        holder._dir = path.parent
        return holder.prompt_from(ref).task
    except UserInputError:
        return None
