"""Non-inferiority with `--against-baseline` and `non_inferiority_margin`: Tango's score
interval checked against a numeric maximum likelihood and McNemar (statsmodels), and both
outcomes end to end."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from scipy.optimize import minimize_scalar

from _eval_util import SUITE, cases, make_project
from _regress_util import cli, degraded_prompt
from promptops.experiments.noninferiority import (
    tango_interval,
    tango_restricted_p21,
    tango_z,
)
from promptops.testing.openai_server import FakeOpenAIServer

ACCURACY_SUITE = SUITE + "primary_metric: accuracy\nnon_inferiority_margin: "


@pytest.fixture(scope="module")
def server() -> FakeOpenAIServer:
    with FakeOpenAIServer() as srv:
        yield srv


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROMPTOPS_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


@pytest.mark.parametrize(
    ("b", "c", "n", "delta"),
    [(5, 9, 40, -0.1), (3, 1, 30, 0.05), (10, 4, 100, -0.02), (0, 0, 20, -0.05), (7, 0, 25, 0.1)],
)
def test_tango_restricted_mle_is_the_likelihood_maximum(
    b: int, c: int, n: int, delta: float
) -> None:
    def nll(p: float) -> float:
        pc, rest = p + delta, 1 - 2 * p - delta
        if p <= 0 or pc <= 0 or rest <= 0:
            return 1e18
        return -(b * math.log(p) + c * math.log(pc) + (n - b - c) * math.log(rest))

    lo, hi = max(0.0, -delta) + 1e-12, (1 - delta) / 2 - 1e-12
    found = minimize_scalar(nll, bounds=(lo, hi), method="bounded", options={"xatol": 1e-12})
    assert tango_restricted_p21(b, c, n, delta) == pytest.approx(found.x, abs=1e-6)


def test_tango_at_zero_is_mcnemar_and_its_interval_inverts_the_test() -> None:
    mcnemar = pytest.importorskip("statsmodels.stats.contingency_tables").mcnemar
    for b, c, n in [(5, 9, 40), (12, 3, 60), (1, 6, 30)]:
        table = [[n - b - c, b], [c, 0]]
        chi2 = mcnemar(table, exact=False, correction=False).statistic
        assert tango_z(b, c, n, 0.0) ** 2 == pytest.approx(chi2)
        low, high = tango_interval(b, c, n)
        assert low < (c - b) / n < high
        assert abs(tango_z(b, c, n, low)) == pytest.approx(1.959964, abs=1e-6)
        assert abs(tango_z(b, c, n, high)) == pytest.approx(1.959964, abs=1e-6)


def base_run(
    project: Path,
    server: FakeOpenAIServer,
    margin: float,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    make_project(project, suite=f"{ACCURACY_SUITE}{margin}\n")
    base = ["eval", "router", "--base-url", server.base_url, "--out", "runs/base"]
    assert cli(base, monkeypatch, capsys)[0] == 0
    assert cli(["baseline", "save", "runs/base"], monkeypatch, capsys)[0] == 0


def test_same_answers_are_non_inferior_within_a_wide_margin(
    project: Path,
    server: FakeOpenAIServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base_run(project, server, 0.15, monkeypatch, capsys)
    args = ["eval", "router", "--base-url", server.base_url, "--model", "other"]
    code, out, _ = cli([*args, "--out", "runs/swap", "--against-baseline"], monkeypatch, capsys)
    assert code == 0, out
    assert "PASS non-inferior: accuracy difference +0.000" in out
    assert "lower end above -0.15" in out


def test_a_worse_prompt_is_not_non_inferior(
    project: Path,
    server: FakeOpenAIServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base_run(project, server, 0.15, monkeypatch, capsys)
    worse = str(degraded_prompt(project))
    args = ["eval", "router", "--base-url", server.base_url, "--prompt", worse]
    code, out, _ = cli([*args, "--out", "runs/w", "--against-baseline"], monkeypatch, capsys)
    assert code == 1
    assert "FAIL non-inferiority not demonstrated: accuracy difference -0.233" in out


def test_a_tight_margin_on_a_small_suite_is_not_demonstrated(
    project: Path,
    server: FakeOpenAIServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Identical answers on 30 cases cannot show "no worse than 0.02": the interval is wider."""
    base_run(project, server, 0.02, monkeypatch, capsys)
    args = ["eval", "router", "--base-url", server.base_url, "--model", "other"]
    code, out, _ = cli([*args, "--out", "runs/s", "--against-baseline"], monkeypatch, capsys)
    assert code == 1
    assert "FAIL non-inferiority not demonstrated" in out and "not above -0.02" in out


def test_macro_f1_uses_the_paired_interval_with_the_size_rule(
    project: Path,
    server: FakeOpenAIServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    suite = SUITE.replace("macro_f1: {min: 0.5}", "macro_f1: {min: 0.4}")
    make_project(project, suite=suite + "non_inferiority_margin: 0.5\n")
    base = ["eval", "router", "--base-url", server.base_url, "--out", "runs/base"]
    assert cli(base, monkeypatch, capsys)[0] == 0
    assert cli(["baseline", "save", "runs/base"], monkeypatch, capsys)[0] == 0
    worse = str(degraded_prompt(project))
    args = ["eval", "router", "--base-url", server.base_url, "--prompt", worse]
    code, out, _ = cli([*args, "--out", "runs/w", "--against-baseline"], monkeypatch, capsys)
    assert code == 0, out  # -0.33 macro-F1, interval above -0.5: non-inferior at 0.5
    assert "PASS non-inferior: macro_f1 difference" in out
    assert "paired bootstrap interval, with the sign-flip size rule" in out
    assert "FAIL: B is significantly worse" in out  # shown, but the margin decides


def test_too_few_differing_cases_never_grant_non_inferiority(
    project: Path,
    server: FakeOpenAIServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Two differing cases: no sign-flip outcome could be significant, so even a margin of
    0.9 is "not demonstrated" (the size rule), whatever the bootstrap interval says."""
    keep = {"test-password-1", "test-password-2", "test-refund-1", "test-delivery-1"}
    rows = [r for r in cases() if r["split"] == "train" or r["id"] in keep]
    suite = SUITE.replace("macro_f1: {min: 0.5}", "macro_f1: {min: 0.0}")
    make_project(project, rows, suite=suite + "non_inferiority_margin: 0.9\n")
    base = ["eval", "router", "--base-url", server.base_url, "--out", "runs/base"]
    assert cli(base, monkeypatch, capsys)[0] == 0
    assert cli(["baseline", "save", "runs/base"], monkeypatch, capsys)[0] == 0
    worse = str(degraded_prompt(project))
    args = ["eval", "router", "--base-url", server.base_url, "--prompt", worse]
    code, out, _ = cli([*args, "--out", "runs/w", "--against-baseline"], monkeypatch, capsys)
    assert code == 1
    assert "FAIL non-inferiority not demonstrated (too few differing cases to decide)" in out
