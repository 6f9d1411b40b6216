"""`promptops eval`: check the cases, send them, score them, compare with baselines, report.

Order matters: every check that can refuse the run (labels, variables, ids, leakage, PII)
runs before anything is sent, so a bad evalset costs nothing and writes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import httpx2
import numpy as np
from numpy.typing import NDArray

from promptops.distributed.cluster import RaySettings, require_ray
from promptops.errors import ConfigError, EvalsetError
from promptops.evals import summarize as sm
from promptops.evals.baselines import fit_baselines
from promptops.evals.checks import (
    BalanceCounter,
    ClassBalance,
    PiiScan,
    PiiScanner,
    validate_cases,
)
from promptops.evals.columns import TestColumns
from promptops.evals.evalset import Case, EvalsetFile, evalset_hash
from promptops.evals.findings import MAX_LISTED, balance_findings, leakage_findings, pii_findings
from promptops.evals.metrics import classification_metrics_codes
from promptops.evals.results import Outcomes, read_results
from promptops.evals.sending import Progress, finished, jobs, send_all
from promptops.evals.suite import Suite, resolve_suite
from promptops.evals.temporal import split_evalset, temporal_findings
from promptops.llm.cache import ResponseCache
from promptops.llm.client import ClientStats, LLMClient
from promptops.llm.profile import EndpointProfile
from promptops.llm.retry import TRANSIENT_KINDS
from promptops.memory import release_free_memory
from promptops.prompts import Prompt, declared_variables
from promptops.prompts.calibrator import Calibrator, calibrator_for
from promptops.runs import summary as s
from promptops.runs.folder import SUMMARY, RunFolder, write_json
from promptops.suites import RunFlags, RunOutcome

EXAMPLES_PER_CLASS = 3  # wrong answers shown for each lowest-recall class


@dataclass
class EvalOptions(RunFlags):
    """`promptops eval` options; None keeps the suite's value."""

    evalset: Path | None = None
    repeat: int | None = None
    executor: str = "local"  # "ray": the embedded model on Ray actors (`distributed`)
    ray: RaySettings = field(default_factory=RaySettings)


EvalOutcome = RunOutcome[s.ClassificationSummary]


@dataclass
class Scan:
    """What one pass over the evalset keeps: the test split as compact columns, the train
    split (baselines and the leakage check need its texts), counts, balance and PII."""

    columns: TestColumns
    train: list[Case]
    balance: ClassBalance
    pii: PiiScan
    warnings: list[s.Finding]

    @property
    def n_by_split(self) -> dict[str, int]:
        """Cases per split, labelled or not (the balance counts them all, in split order)."""
        return {
            split: sum(row.values()) + self.balance.unlabelled[split]
            for split, row in self.balance.counts.items()
        }


@dataclass
class Prepared:
    suite: Suite
    prompt: Prompt
    evalset: EvalsetFile
    evalset_sha256: str
    scan: Scan
    profile: EndpointProfile
    findings: list[s.Finding] = field(default_factory=list)

    @property
    def n_test(self) -> int:
        return len(self.scan.columns)


def prepare(suite_ref: str, options: EvalOptions) -> Prepared:
    """Load and check everything; raises a UserInputError before anything is sent."""
    suite, _ = resolve_suite(suite_ref)
    prompt = suite.prompt_from(suite.prompt, options.prompt)
    if prompt.task != "classification" or not prompt.labels:
        raise EvalsetError(
            f"{prompt.identity} is a {prompt.task} prompt; `eval` scores classification prompts",
            where=prompt.source,
        )
    path = options.evalset or suite.path_of(suite.evalset)
    evalset = split_evalset(suite, path)
    scan = _scan(evalset, prompt)
    if not scan.columns:
        raise EvalsetError("no cases in the test split: nothing to score", where=str(path))
    findings = list(scan.warnings)
    findings += leakage_findings(suite, prompt, evalset, scan.train, len(scan.columns), path)
    findings += pii_findings(suite, scan.pii, path)
    findings += balance_findings(scan.balance)
    findings += temporal_findings(evalset, fail=suite.temporal_leakage == "fail", path=path)
    return Prepared(
        suite=suite,
        prompt=prompt,
        evalset=evalset,
        evalset_sha256=evalset_hash(path),
        scan=scan,
        profile=options.profile(suite.profile, suite.endpoint),
        findings=findings,
    )


def _scan(evalset: EvalsetFile, prompt: Prompt) -> Scan:
    """Validate every case and collect what the run keeps, in one streaming pass."""
    labels = list(prompt.labels or ())
    columns, train = TestColumns(tuple(labels)), []
    balance, pii = BalanceCounter(labels), PiiScanner(keep=MAX_LISTED)

    def tapped() -> Iterator[Case]:
        for case in evalset:
            balance.add(case)
            pii.add(case)
            if case.split == "test":
                columns.add(case)
            elif case.split == "train":
                train.append(case)
            yield case

    specs = declared_variables(prompt)
    required = [n for n, v in specs.items() if v.required and v.default is None]
    optional = [n for n in specs if n not in required]
    found = validate_cases(tapped(), labels, required, evalset.path, optional_variables=optional)
    warnings = [
        s.Finding(check="evalset", severity="warning", message=f"{w.where}: {w.message}")
        for w in found[:MAX_LISTED]
    ]
    return Scan(columns, train, balance.result(), pii.result(), warnings)


def _fingerprint(prep: Prepared, repeat: int) -> dict[str, object]:
    return {
        "suite": prep.suite.name,
        "prompt": prep.prompt.identity,
        "prompt_hash": prep.prompt.content_hash,
        "evalset_sha256": prep.evalset_sha256,
        "model": prep.profile.model,
        "base_url": prep.profile.base_url,
        "repeat": repeat,
    }


async def _send(
    prep: Prepared,
    folder: RunFolder,
    repeat: int,
    no_cache: bool,
    retry_errors: bool,
    http_client: httpx2.AsyncClient | None,
    stream: TextIO,
) -> tuple[ClientStats, Calibrator]:
    cache = None if no_cache else ResponseCache()
    try:
        async with LLMClient(prep.profile, cache=cache, http_client=http_client) as client:
            calibrator = await calibrator_for(client, prep.prompt)
            resent = folder.forget_errors(TRANSIENT_KINDS) if retry_errors else set()
            done = finished(folder.records(), prep.n_test, repeat)
            n_done = sum(done)
            if n_done or resent:
                stream.write(
                    f"resuming: {n_done} result(s) already in {folder.path}; "
                    f"{len(resent)} sent again after a transient error\n"
                )
            total = prep.n_test * repeat - n_done
            await send_all(
                client,
                folder,
                jobs(prep.prompt, prep.evalset.of_split("test"), repeat, done),
                calibrator,
                Progress(max(total, 0), stream),
                resent,
            )
            return client.stats, calibrator
    finally:
        if cache is not None:
            cache.close()


@contextlib.contextmanager
def _ray_actors(
    prep: Prepared, options: EvalOptions, stream: TextIO
) -> Iterator[httpx2.AsyncClient]:
    """Model actors on Ray behind an HTTP client; the profile gets at least two requests in
    flight per actor, so none waits between cases."""
    from promptops.distributed.serving import ray_http_client

    with ray_http_client(options.ray, prep.profile.timeout) as actors:
        stream.write(f"ray: {actors.count} model actor(s) ready in {actors.start_seconds:.1f} s\n")
        concurrency = max(prep.profile.concurrency, 2 * actors.count)
        prep.profile = prep.profile.model_copy(update={"concurrency": concurrency})
        yield actors.client


def run_eval(
    suite_ref: str,
    options: EvalOptions,
    *,
    http_client: httpx2.AsyncClient | None = None,
    stream: TextIO | None = None,
) -> EvalOutcome:
    stream = stream or sys.stderr
    if options.executor == "ray":
        require_ray()  # before anything is checked or written
    prep = prepare(suite_ref, options)
    if options.executor == "ray" and not prep.profile.embedded:
        raise ConfigError(
            f"runs the embedded model on Ray actors; profile {prep.profile.name} is the "
            f"endpoint {prep.profile.base_url}, which scales on its own side",
            where="--executor ray",
        )
    repeat = options.repeat or prep.suite.repeat
    started = datetime.now(UTC)
    run_id = f"{prep.suite.name}-{started:%Y%m%dT%H%M%SZ}-{prep.prompt.short_hash[:8]}"
    out_dir = options.out or Path("reports") / "runs" / run_id
    folder = RunFolder(out_dir)
    folder.open(_fingerprint(prep, repeat))
    folder.save_prompt(prep.prompt)
    release_free_memory()  # what the checks used; a large evalset's sending starts lean
    clock = time.perf_counter()
    try:
        with contextlib.ExitStack() as stack:
            if options.executor == "ray":
                http_client = stack.enter_context(_ray_actors(prep, options, stream))
            stats, calibrator = asyncio.run(
                _send(
                    prep,
                    folder,
                    repeat,
                    options.no_cache,
                    options.retry_errors,
                    http_client,
                    stream,
                )
            )
    finally:
        folder.close()
    release_free_memory()  # sending's churn, before the summary's columns are built
    summary = build_summary(prep, folder, repeat, calibrator, stats)
    summary.volatile.run_id = run_id
    summary.volatile.started_at = started.isoformat(timespec="seconds")
    summary.volatile.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
    summary.volatile.duration_s = round(time.perf_counter() - clock, 3)
    write_json(out_dir / SUMMARY, summary.model_dump(mode="json"))
    from promptops.reports import write_reports

    write_reports(summary, out_dir)
    return EvalOutcome(summary, out_dir)


def build_summary(
    prep: Prepared, folder: RunFolder, repeat: int, calibrator: Calibrator, stats: ClientStats
) -> s.ClassificationSummary:
    suite, prompt = prep.suite, prep.prompt
    labels = list(prompt.labels or ())
    outcomes, totals = read_results(
        folder.results_path,
        prep.scan.columns,
        repeat=repeat,
        worst=suite.worst_cases,
        per_class=EXAMPLES_PER_CLASS,
    )
    result = sm.metrics_model(
        classification_metrics_codes(outcomes.true, outcomes.pred, labels, outcomes.probs())
    )
    fits = fit_baselines(
        prep.scan.train,
        prep.evalset.of_split("test"),
        prep.n_test,
        labels,
        names=list(suite.baselines),
        seed=suite.seed,
    )
    baselines = sm.compare_baselines(outcomes, fits, suite)
    findings = list(prep.findings)
    findings += [
        s.Finding(check="baselines", severity="warning", message=f"{b.name}: {b.reason}")
        for b in baselines
        if b.status == "not_fit"
    ]
    if calibrator.status not in ("none", "contextual"):
        findings.append(
            s.Finding(check="calibration", severity="warning", message=calibrator.status)
        )
    n_cases = len(outcomes)
    n_errors = int(outcomes.errors.sum())
    error_rate = n_errors / n_cases if n_cases else 0.0
    checks = sm.thresholds(suite, result, error_rate)
    rule = sm.must_beat(suite, baselines)
    if rule is not None:
        checks.append(rule)
    slice_rows, gap = sm.slices(outcomes, prep.scan.columns)
    intervals = sm.intervals(outcomes, suite)
    primary = suite.primary_metric
    latencies = np.frombuffer(totals.latencies, dtype=np.float32)
    return s.ClassificationSummary(
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
            calibration="contextual" if calibrator.active else "none",
        ),
        evalset=s.EvalsetInfo(
            path=str(prep.evalset.path),
            sha256=prep.evalset_sha256,
            n_cases=sum(prep.scan.n_by_split.values()),
            n_by_split=prep.scan.n_by_split,
        ),
        labels=labels,
        n_cases=n_cases,
        n_errors=n_errors,
        n_resent=totals.resent,
        n_invalid=int((outcomes.invalid & ~outcomes.errors).sum()),
        primary_metric=suite.primary_metric,
        metrics=result,
        intervals=intervals,
        sensitivity=sm.sensitivity(primary, baselines, intervals, n_cases, suite.alpha),
        baselines=baselines,
        verdict=sm.verdict(getattr(result, primary), baselines, suite.alpha, primary),
        slices=slice_rows,
        largest_gap=gap,
        worst_cases=sm.worst_cases(outcomes, result),
        findings=findings,
        calibration=_calibration_effect(calibrator, outcomes),
        repeats=sm.repeats(
            outcomes, totals.samples, lambda at: _ids_at(prep.evalset.of_split("test"), at)
        ),
        usage=s.Usage(
            prompt_tokens=totals.prompt_tokens,
            completion_tokens=totals.completion_tokens,
            cost_usd=round(totals.cost_usd, 6),
        ),
        thresholds=checks,
        passed=all(t.passed for t in checks),
        volatile=s.Volatile(
            run_id="",
            started_at="",
            finished_at="",
            duration_s=0.0,
            latency_p50_s=_quantile(latencies, 0.50),
            latency_p95_s=_quantile(latencies, 0.95),
            latency_p99_s=_quantile(latencies, 0.99),
            cache_hits=stats.cache_hits,
            cache_misses=stats.cache_misses,
            retries=stats.retries,
            rate_limited=stats.rate_limited,
            rate_limit_wait_s=round(stats.rate_limit_wait_s, 3),
        ),
    )


def _calibration_effect(calibrator: Calibrator, outcomes: Outcomes) -> s.CalibrationEffect | None:
    """The run's answers decided without calibration, scored the same way."""
    if calibrator.prior is None or not len(outcomes):
        return None
    raw = classification_metrics_codes(outcomes.true, outcomes.raw_pred, outcomes.labels)
    changed = int((outcomes.raw_pred != outcomes.pred).sum())
    return s.CalibrationEffect(
        method="contextual",
        prior=calibrator.prior,
        uncalibrated_accuracy=raw.accuracy,
        uncalibrated_macro_f1=raw.macro_f1,
        changed_answers=changed,
    )


def _ids_at(cases: Iterable[Case], positions: NDArray[np.int64]) -> list[str]:
    """The ids of the cases at `positions`, streamed from the evalset (none kept)."""
    wanted = set(positions.tolist())
    return [case.id for i, case in enumerate(cases) if i in wanted]


def _quantile(values: NDArray[np.float32], q: float) -> float | None:
    if not len(values):
        return None
    return round(float(np.quantile(values, q)), 6)
