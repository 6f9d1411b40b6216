"""`promptops eval`: check the cases, send them, score them the prompt's kind's way.

Order matters: every check that can refuse the run (expected values, variables, ids,
leakage, PII) runs before anything is sent, so a bad evalset costs nothing and writes
nothing. The kind (`runs.kinds.RunKind`, picked by `prompt.task`) reads each answer and
builds the summary; everything else here is the same for every kind.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol, TextIO, cast

import httpx2
from pydantic import ConfigDict

from promptops.distributed.cluster import RaySettings, require_ray
from promptops.errors import ConfigError, EvalsetError, UserInputError
from promptops.evals.checks import BalanceCounter, ClassBalance, PiiScan, PiiScanner, validate_cases
from promptops.evals.evalset import Case, EvalsetFile, evalset_hash
from promptops.evals.findings import MAX_LISTED, balance_findings, leakage_findings, pii_findings
from promptops.evals.sending import CaseJob, case_row, finished, jobs
from promptops.evals.suite import LeakagePolicy, PiiPolicy, SplitFractionsModel, Suite
from promptops.evals.temporal import split_evalset, temporal_findings
from promptops.llm.client import ClientStats
from promptops.llm.profile import EndpointOverrides, EndpointProfile
from promptops.llm.types import Completion
from promptops.memory import release_free_memory
from promptops.prompts import Prompt, declared_variables
from promptops.prompts.calibrator import Calibrator, calibrator_for
from promptops.registry import Registry
from promptops.runs import lifecycle
from promptops.runs.envelope import EvalEnvelope, EvalsetInfo, Finding, Header, ModelInfo
from promptops.runs.kinds import RunKind, ScoredRun, sent_splits
from promptops.runs.sending import Job, Progress, send_all
from promptops.suites import RunFlags, RunOutcome, SuiteFile, load_suite


@dataclass
class EvalOptions(RunFlags):
    """`promptops eval` options; None keeps the suite's value."""

    evalset: Path | None = None
    repeat: int | None = None
    executor: str = "local"  # "ray": the embedded model on Ray actors (`distributed`)
    ray: RaySettings = field(default_factory=RaySettings)


EvalOutcome = RunOutcome[EvalEnvelope]


class RunSuite(Protocol):
    """What the lifecycle reads of a suite, whichever model a kind validates it with
    (`evals.suite.Suite`, or the kind's `suite_model`)."""

    @property
    def name(self) -> str: ...
    @property
    def prompt(self) -> str: ...
    @property
    def evalset(self) -> str: ...
    @property
    def profile(self) -> str: ...
    @property
    def endpoint(self) -> EndpointOverrides: ...
    @property
    def repeat(self) -> int: ...
    @property
    def leakage(self) -> LeakagePolicy: ...
    @property
    def pii(self) -> PiiPolicy: ...
    @property
    def split(self) -> Literal["given", "auto"]: ...
    @property
    def split_fractions(self) -> SplitFractionsModel: ...
    @property
    def seed(self) -> int: ...
    @property
    def temporal_leakage(self) -> Literal["fail", "warn"]: ...

    def path_of(self, ref: str) -> Path: ...
    def prompt_from(self, ref: str, override: str | None = None) -> Prompt: ...


class _PromptOnly(SuiteFile):
    """A suite file read for its prompt alone, to find the kind that validates the rest."""

    model_config = ConfigDict(extra="ignore")

    prompt: str


@dataclass
class Scan:
    """What one pass over the evalset keeps: the number of test cases, the train split
    (baselines and the leakage check need its texts), counts, balance and PII."""

    n_test: int
    train: list[Case]
    dev: list[Case]  # kept only when the kind sends the dev split (it tunes on those answers)
    n_by_split: dict[str, int]  # every split's count (a kind may send more than test)
    balance: ClassBalance | None  # for prompts with labels
    pii: PiiScan
    warnings: list[Finding]


@dataclass
class Prepared:
    suite: RunSuite
    prompt: Prompt
    kind: RunKind
    evalset: EvalsetFile
    evalset_sha256: str
    scan: Scan
    profile: EndpointProfile
    findings: list[Finding] = field(default_factory=list)

    @property
    def n_test(self) -> int:
        return self.scan.n_test


def prepare(suite_ref: str, options: EvalOptions, kinds: Registry[RunKind]) -> Prepared:
    """Load and check everything; raises a UserInputError before anything is sent."""
    loaded, _ = load_suite(suite_ref, _suite_model(suite_ref, options, kinds))
    suite = cast(RunSuite, loaded)  # Suite, or a kind's suite model: both have these fields
    prompt = suite.prompt_from(suite.prompt, options.prompt)
    kind = kind_of(prompt, kinds)
    path = options.evalset or suite.path_of(suite.evalset)
    evalset = split_evalset(suite, path)
    scan = _scan(evalset, prompt, kind)
    if not scan.n_test:
        raise EvalsetError("no cases in the test split: nothing to score", where=str(path))
    findings = list(scan.warnings)
    seen, seen_as = (scan.train + scan.dev, "train/dev") if scan.dev else (scan.train, "train")
    findings += leakage_findings(suite, prompt, evalset, seen, scan.n_test, path, seen_as)
    findings += pii_findings(suite, scan.pii, path)
    if scan.balance is not None:
        findings += balance_findings(scan.balance)
    findings += temporal_findings(evalset, fail=suite.temporal_leakage == "fail", path=path)
    return Prepared(
        suite=suite,
        prompt=prompt,
        kind=kind,
        evalset=evalset,
        evalset_sha256=evalset_hash(path),
        scan=scan,
        profile=options.profile(suite.profile, suite.endpoint),
        findings=findings,
    )


def load_run_suite(
    suite_ref: str, kinds: Registry[RunKind], options: EvalOptions | None = None
) -> SuiteFile:
    """The suite validated by the model of the kind that scores its prompt."""
    options = options or EvalOptions()
    suite, _ = load_suite(suite_ref, _suite_model(suite_ref, options, kinds))
    return suite


def _suite_model(suite_ref: str, options: EvalOptions, kinds: Registry[RunKind]) -> type[SuiteFile]:
    """The suite model of the kind that scores the suite's prompt (`suite_model`, else
    `Suite`); a problem found here is left to the full load and its checks to report."""
    try:
        loose, _ = load_suite(suite_ref, _PromptOnly)
        kind = kind_of(loose.prompt_from(loose.prompt, options.prompt), kinds)
    except UserInputError:
        return Suite
    model: type[SuiteFile] = getattr(kind, "suite_model", Suite)
    return model


def kind_of(prompt: Prompt, kinds: Registry[RunKind]) -> RunKind:
    """The kind that scores `prompt.task`; an unknown task names the tasks `eval` scores."""
    for _, kind in kinds:
        if prompt.task in kind.tasks:
            return kind
    tasks = sorted(task for _, kind in kinds for task in kind.tasks)
    raise EvalsetError(
        f"{prompt.identity} is a {prompt.task} prompt; `eval` scores {', '.join(tasks)} prompts",
        where=prompt.source,
    )


def _scan(evalset: EvalsetFile, prompt: Prompt, kind: RunKind) -> Scan:
    """Validate every case and collect what the run keeps, in one streaming pass."""
    n_test, train, dev, splits = 0, [], [], dict[str, int]()
    keep_dev = "dev" in sent_splits(kind)
    # class balance of label answers; a prompt with a `range` scores numbers (its labels, if
    # any, are the numbers it may answer, not classes)
    classes = prompt.labels if prompt.score_range is None else ()
    balance = BalanceCounter(list(classes)) if classes else None
    pii = PiiScanner(keep=MAX_LISTED)

    def tapped() -> Iterator[Case]:
        nonlocal n_test
        for case in evalset:
            splits[case.split] = splits.get(case.split, 0) + 1
            if balance is not None:
                balance.add(case)
            pii.add(case)
            if case.split == "test":
                n_test += 1
            elif case.split == "train":
                train.append(case)
            elif case.split == "dev" and keep_dev:
                dev.append(case)
            yield case

    specs = declared_variables(prompt)
    required = [n for n, v in specs.items() if v.required and v.default is None]
    optional = [n for n in specs if n not in required]
    found = validate_cases(
        tapped(),
        None,
        required,
        evalset.path,
        optional_variables=optional,
        check_expected=lambda expected: kind.check_expected(prompt, expected),
    )
    warnings = [
        Finding(check="evalset", severity="warning", message=f"{w.where}: {w.message}")
        for w in found[:MAX_LISTED]
    ]
    n_by_split = {split: splits[split] for split in sorted(splits)}
    counted = balance.result() if balance is not None else None
    return Scan(n_test, train, dev, n_by_split, counted, pii.result(), warnings)


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
    run: lifecycle.Started,
    repeat: int,
    options: EvalOptions,
    http_client: httpx2.AsyncClient | None,
    stream: TextIO,
) -> tuple[ClientStats, Calibrator]:
    folder = run.folder
    async with lifecycle.open_client(
        prep.profile, cache=not options.no_cache, http_client=http_client
    ) as client:
        calibrator = await calibrator_for(client, prep.prompt)
        resent = lifecycle.resend_transient(folder, options.retry_errors)
        splits = sent_splits(prep.kind)
        done = {
            split: finished(
                (r for r in folder.records() if r.get("split", "test") == split),
                prep.scan.n_by_split.get(split, 0),
                repeat,
            )
            for split in splits
        }
        n_done = sum(sum(d) for d in done.values())
        lifecycle.say_resumed(stream, folder, n_done, len(resent))

        async def row(job: Job[CaseJob], raw: Completion) -> dict[str, object]:
            return case_row(prep.kind, prep.prompt, job.item, calibrator.apply(raw))

        def work() -> Iterator[Job[CaseJob]]:
            for split in splits:
                cases = prep.evalset.of_split(split)
                yield from jobs(prep.prompt, cases, repeat, done[split], resent)

        n_sent = sum(prep.scan.n_by_split.get(split, 0) for split in splits)
        total = max(n_sent * repeat - n_done, 0)
        await send_all(client, folder, work(), row, Progress(total, stream))
        return client.stats, calibrator


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
    kinds: Registry[RunKind],
    *,
    http_client: httpx2.AsyncClient | None = None,
    stream: TextIO | None = None,
) -> EvalOutcome:
    """Run a suite to its summary.json (the reports are the caller's: `promptops.lifecycle`)."""
    stream = stream or sys.stderr
    if options.executor == "ray":
        require_ray()  # before anything is checked or written
    prep = prepare(suite_ref, options, kinds)
    if options.executor == "ray" and not prep.profile.embedded:
        raise ConfigError(
            f"runs the embedded model on Ray actors; profile {prep.profile.name} is the "
            f"endpoint {prep.profile.base_url}, which scales on its own side",
            where="--executor ray",
        )
    repeat = options.repeat or prep.suite.repeat
    run = lifecycle.start(prep.suite.name, prep.prompt, _fingerprint(prep, repeat), options.out)
    release_free_memory()  # what the checks used; a large evalset's sending starts lean
    run.clock = time.perf_counter()
    try:
        with contextlib.ExitStack() as stack:
            if options.executor == "ray":
                http_client = stack.enter_context(_ray_actors(prep, options, stream))
            stats, calibrator = asyncio.run(_send(prep, run, repeat, options, http_client, stream))
    finally:
        run.folder.close()
    release_free_memory()  # sending's churn, before the summary's columns are built
    summary = prep.kind.summarize(_scored(prep, run, repeat, calibrator, stats))
    lifecycle.finish(summary, run)
    return EvalOutcome(summary, run.out_dir)


def _scored(
    prep: Prepared,
    run: lifecycle.Started,
    repeat: int,
    calibrator: Calibrator,
    stats: ClientStats,
) -> ScoredRun:
    prompt, profile = prep.prompt, prep.profile
    header = Header(
        suite=prep.suite.name,
        prompt=lifecycle.prompt_info(prompt),
        model=ModelInfo(
            profile=profile.name,
            model=profile.model,
            base_url=profile.base_url,
            temperature=prompt.model.temperature,
            max_tokens=prompt.model.max_tokens,
            calibration="contextual" if calibrator.active else "none",
        ),
        evalset=EvalsetInfo(
            path=str(prep.evalset.path),
            sha256=prep.evalset_sha256,
            n_cases=sum(prep.scan.n_by_split.values()),
            n_by_split=prep.scan.n_by_split,
        ),
        findings=list(prep.findings),
    )
    row_model = prep.kind.row_model
    return ScoredRun(
        suite=prep.suite,
        prompt=prompt,
        profile=profile,
        header=header,
        repeat=repeat,
        n_test=prep.n_test,
        results_path=run.folder.results_path,
        rows=lambda: (r for r in run.folder.rows(row_model) if r.split == "test"),
        test=lambda: prep.evalset.of_split("test"),
        train=prep.scan.train,
        calibrator=calibrator,
        stats=stats,
        dev_rows=lambda: (r for r in run.folder.rows(row_model) if r.split == "dev"),
        dev=lambda: prep.evalset.of_split("dev"),
    )
