"""A new kind of run plugs into the one lifecycle with a class and one registration line.

The kind here, registered from the test, scores generation prompts by exact match: the
lifecycle checks its evalset, sends every case through the one send loop, writes typed rows,
and `read_summary` reads its summary back as its own model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import pytest

from promptops.errors import EvalsetError
from promptops.evals.classification import Classification
from promptops.evals.runner import EvalOptions, run_eval
from promptops.lifecycle.kinds import register_kind, run_kinds
from promptops.llm.types import Completion
from promptops.prompts import Prompt
from promptops.registry import Registry
from promptops.runs import read_summary
from promptops.runs.envelope import EvalEnvelope
from promptops.runs.kinds import Answer, RunKind, ScoredRun
from promptops.runs.rows import CaseRow, Tally
from promptops.testing.openai_server import FakeOpenAIServer

PROMPT = """\
name: echo
version: 1.0.0
task: generation
model: {temperature: 0, max_tokens: 20}
messages:
  - role: user
    content: "{{ message }}"
"""

SUITE = """\
name: echo
prompt: echo
evalset: echo.jsonl
thresholds:
  accuracy: {min: 0.5}
  error_rate: {max: 0.0}
"""


class ExactSummary(EvalEnvelope):
    kind: Literal["exact_match_test"] = "exact_match_test"
    accuracy: float


class ExactMatch:
    """The answer must equal `expected` exactly (whitespace trimmed)."""

    name = "exact_match_test"
    tasks = ("generation",)
    row_model = CaseRow
    summary_model = ExactSummary

    def check_expected(self, prompt: Prompt, expected: str | None) -> str | None:
        return "an expected answer is empty" if expected is not None and not expected else None

    def parse(self, prompt: Prompt, completion: Completion) -> Answer:
        text = (completion.text or "").strip()
        return Answer(value=text, invalid=not text)

    def summarize(self, run: ScoredRun) -> ExactSummary:
        tally, right = Tally(), 0
        for row in run.rows():
            tally.add(row)
            right += row.sample == 0 and row.predicted == row.expected
        accuracy = right / tally.n_cases
        error_rate = tally.n_errors / tally.n_cases
        checks = run.check_thresholds({"accuracy": accuracy, "error_rate": error_rate})
        return ExactSummary(
            **run.header.fields(),
            **tally.fields(run.stats),
            accuracy=accuracy,
            thresholds=checks,
            passed=all(c.passed for c in checks),
        )


def kinds() -> Registry[RunKind]:
    registry: Registry[RunKind] = Registry("run kind")
    register_kind(registry, Classification())
    register_kind(registry, ExactMatch())
    return registry


def project(root: Path, expected: list[str]) -> None:
    (root / "prompts").mkdir()
    (root / "evalsets").mkdir()
    (root / "prompts" / "echo.yaml").write_text(PROMPT, encoding="utf-8")
    (root / "evalsets" / "echo.yaml").write_text(SUITE, encoding="utf-8")
    rows = [
        {"id": f"c{i}", "input": {"message": f"hello {i}"}, "expected": answer}
        for i, answer in enumerate(expected)
    ]
    text = "".join(json.dumps(r) + "\n" for r in rows)
    (root / "evalsets" / "echo.jsonl").write_text(text, encoding="utf-8")


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROMPTOPS_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def test_a_kind_registered_from_a_test_runs_end_to_end(here: Path) -> None:
    # the fake server echoes free text as "echo: <message>": 3 of 4 expected answers match
    project(here, ["echo: hello 0", "echo: hello 1", "something else", "echo: hello 3"])
    with FakeOpenAIServer() as server:
        options = EvalOptions(base_url=server.base_url, model="fake-model", out=here / "run")
        outcome = run_eval("echo", options, kinds())
    summary = outcome.summary
    assert isinstance(summary, ExactSummary)
    assert summary.accuracy == 0.75 and summary.n_cases == 4 and summary.passed
    assert [t.metric for t in summary.thresholds] == ["accuracy", "error_rate"]
    rows = [json.loads(line) for line in (here / "run" / "results.jsonl").read_text().splitlines()]
    assert [r["predicted"] for r in rows] == [f"echo: hello {i}" for i in range(4)]
    assert {"id", "expected", "raw_output", "attempts", "cost_usd"} <= set(rows[0])
    again = read_summary(here / "run")
    assert isinstance(again, ExactSummary) and again == summary


def test_the_kind_checks_every_expected_value_before_anything_is_sent(here: Path) -> None:
    project(here, ["echo: hello 0", ""])
    with pytest.raises(EvalsetError) as info:
        run_eval("echo", EvalOptions(out=here / "run"), kinds())
    assert str(info.value.where).endswith("echo.jsonl:2") and "empty" in info.value.reason
    assert not (here / "run").exists()


def test_a_task_no_kind_scores_names_the_tasks_eval_scores(here: Path) -> None:
    project(here, ["echo: hello 0"])
    classification_only: Registry[RunKind] = Registry("run kind")
    register_kind(classification_only, Classification())
    with pytest.raises(EvalsetError, match="`eval` scores classification prompts"):
        run_eval("echo", EvalOptions(out=here / "run"), classification_only)


def test_the_built_in_kinds_score_every_task_type() -> None:
    from promptops.prompts.model import TASK_NAMES

    assert sorted(t for _, kind in run_kinds() for t in kind.tasks) == sorted(TASK_NAMES)
