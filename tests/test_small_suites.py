"""Issue #11's two small suites, end to end against the local server: an 8-case suite that
the paired bootstrap called a win (p = 0.002) on 4 discordant cases to 0, and a 6-case
suite whose must_beat rule passed on 3 discordant cases to 1. Neither may claim
significance; both reports must say in words that the suite is too small to decide."""

from __future__ import annotations

from pathlib import Path

import pytest
from scipy.stats import binomtest

from _eval_util import make_project
from promptops.lifecycle import EvalOptions, run_eval
from promptops.regress.compare import compare_paths
from promptops.reports import render_markdown
from promptops.runs.summary import ClassificationSummary
from promptops.testing.openai_server import FakeOpenAIServer

SUITE = """\
name: router
prompt: router
evalset: router.jsonl
primary_metric: {metric}
must_beat: {must_beat}
baselines: [majority]
"""


def _row(i: int, expected: str, named: str, split: str = "test") -> dict[str, object]:
    """The local server answers the first label a message names."""
    return {
        "id": f"{split}-{i}",
        "input": {"message": f"{named}: about item {i}"},
        "expected": expected,
        "split": split,
    }


TRAIN = [
    _row(i, "refund" if i < 6 else ("delivery", "password")[i % 2], "x", "train") for i in range(12)
]
# majority answers "refund": right on the 4 refund cases; the prompt is right on all 8
EIGHT = [
    *(_row(i, "refund", "refund") for i in range(4)),
    *(
        _row(4 + i, label, label)
        for i, label in enumerate(["delivery", "delivery", "password", "password"])
    ),
]
# prompt right, majority wrong: 3; majority right, prompt wrong: 1; both right 1; both wrong 1
SIX = [
    _row(0, "refund", "refund"),
    _row(1, "refund", "delivery"),
    _row(2, "delivery", "delivery"),
    _row(3, "delivery", "delivery"),
    _row(4, "password", "password"),
    _row(5, "password", "delivery"),
]


@pytest.fixture(scope="module")
def server() -> FakeOpenAIServer:
    with FakeOpenAIServer() as srv:
        yield srv


def _run(
    root: Path, server: FakeOpenAIServer, test: list[dict[str, object]], metric: str, must_beat: str
) -> tuple[ClassificationSummary, str]:
    make_project(root, TRAIN + test, SUITE.format(metric=metric, must_beat=must_beat))
    out = root / "run"
    outcome = run_eval(
        str(root / "evalsets" / "router.yaml"),
        EvalOptions(base_url=server.base_url, model="fake", out=out, no_cache=True),
    )
    return outcome.summary, (out / "report.md").read_text(encoding="utf-8")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROMPTOPS_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


@pytest.mark.parametrize("metric", ["macro_f1", "accuracy"])
def test_eight_cases_four_to_none_claim_nothing(
    project: Path, server: FakeOpenAIServer, metric: str
) -> None:
    summary, report = _run(project, server, EIGHT, metric, "best")
    majority = summary.baselines[0]
    assert majority.mcnemar is not None and (majority.mcnemar.b, majority.mcnemar.c) == (4, 0)
    assert majority.mcnemar.p_value == pytest.approx(binomtest(4, 4).pvalue)  # 0.125
    # the old rule, kept as a shown figure, still calls it a win: that is the bug
    assert majority.paired_bootstrap is not None and majority.paired_bootstrap.p_value < 0.05
    d = majority.decision
    assert d is not None and d.outcome == "too_small" and d.p_value >= 0.05
    assert d.test == ("McNemar mid-p" if metric == "accuracy" else "paired sign-flip permutation")
    assert summary.verdict.beats_best_baseline is False
    assert not majority.prompt_significantly_better
    rule = summary.thresholds[-1]
    assert rule.metric == "beats_majority_baseline" and not rule.passed
    assert rule.note == "not demonstrated (the suite is too small to decide)"
    assert not summary.passed
    assert "The prompt is not shown to beat the best baseline, majority." in report
    assert "Too small to decide: only 4 cases" in report
    assert "More cases are needed" in report
    assert "shown only: it does not decide" in report
    assert "The two disagree: the bootstrap alone would call this significant" in report
    assert "Minimum detectable difference (80% power, alpha 0.05, 8 cases" in report


@pytest.mark.parametrize("metric", ["macro_f1", "accuracy"])
def test_six_cases_three_to_one_fail_must_beat_as_not_demonstrated(
    project: Path, server: FakeOpenAIServer, metric: str
) -> None:
    summary, report = _run(project, server, SIX, metric, "majority")
    majority = summary.baselines[0]
    assert majority.mcnemar is not None and (majority.mcnemar.b, majority.mcnemar.c) == (3, 1)
    assert majority.mcnemar.p_value == pytest.approx(0.625)
    assert majority.mcnemar.mid_p == pytest.approx(0.625 - 4 / 16)
    d = majority.decision
    assert d is not None and d.p_value >= 0.05 and d.outcome == "too_small"
    rule = summary.thresholds[-1]
    assert not rule.passed and rule.note is not None and rule.note.startswith("not demonstrated")
    assert not summary.passed
    assert "Too small to decide" in report
    assert "Significantly beats the majority baseline: not demonstrated" in report


@pytest.mark.parametrize("metric", ["accuracy", "macro_f1"])
def test_compare_on_a_small_suite_says_it_is_too_small(
    project: Path, server: FakeOpenAIServer, metric: str
) -> None:
    """Two runs of 8 cases, 4 broken and none fixed: compare may not call it a regression,
    and must say that the shared cases could not have shown one."""
    suite_text = SUITE.format(metric=metric, must_beat="none")
    make_project(project, TRAIN + EIGHT, suite_text)
    suite = str(project / "evalsets" / "router.yaml")
    opts = {"base_url": server.base_url, "model": "fake", "no_cache": True}
    run_eval(suite, EvalOptions(out=project / "a", **opts))  # type: ignore[arg-type]
    worse = [_row(i, str(r["expected"]), "refund") if i >= 4 else r for i, r in enumerate(EIGHT)]
    make_project(project, TRAIN + worse, suite_text)
    run_eval(suite, EvalOptions(out=project / "b", **opts))  # type: ignore[arg-type]
    s = compare_paths(project / "a", project / "b")
    assert (s.mcnemar.broken, s.mcnemar.fixed) == (4, 0)
    assert s.verdict.status == "no_significant_change" and s.exit_code == 0
    assert s.verdict.decision is not None and s.verdict.decision.outcome == "too_small"
    assert s.paired_bootstrap.p_value < 0.05  # the old rule would have failed this change
    text = render_markdown(s)
    assert "Too small to decide" in s.verdict.explanation and "Too small to decide" in text
    if metric == "accuracy":
        assert s.verdict.test == "McNemar mid-p" and s.verdict.p_value == pytest.approx(0.0625)
        assert "only 4 cases right on one side only" in s.verdict.explanation
    else:
        assert s.verdict.test == "paired sign-flip permutation" and s.verdict.p_value >= 0.125
        assert "The two disagree: the bootstrap alone would call this significant" in text
