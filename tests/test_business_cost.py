"""Business cost: a suite's error costs and call prices turned into the expected cost per
1,000 decisions with a bootstrap interval, for the prompt and each baseline, and the grid
ranked by it; checked against direct computations and scipy's bootstrap."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from _eval_util import SUITE, cases
from _grid_util import grid_args, grid_project
from _regress_util import cli
from promptops.business import ErrorCosts, label_costs, per_1000, score_costs
from promptops.errors import ConfigError
from promptops.testing.openai_server import FakeOpenAIServer

COSTS = """\
costs:
  currency: EUR
  wrong: 2.0
  invalid: 5.0
  matrix:
    refund: {delivery: 10.0, password: 1.0}
"""


@pytest.fixture(scope="module")
def server() -> FakeOpenAIServer:
    with FakeOpenAIServer() as srv:
        yield srv


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROMPTOPS_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def direct_cost(expected: str, predicted: str | None) -> float:
    if predicted is None:
        return 5.0
    if predicted == expected:
        return 0.0
    return {("refund", "delivery"): 10.0, ("refund", "password"): 1.0}.get(
        (expected, predicted), 2.0
    )


def test_case_costs_match_the_matrix_and_prices() -> None:
    costs = ErrorCosts.model_validate(json.loads(json.dumps({"wrong": 2, "invalid": 5,
        "matrix": {"refund": {"delivery": 10, "password": 1}}})))  # fmt: skip
    expected = ["refund", "refund", "refund", "delivery", "password", "delivery"]
    predicted = ["delivery", "password", "refund", None, "refund", "delivery"]
    prices = [0.5, 0.5, 0.5, 0.0, 0.1, 0.1]
    got = label_costs(costs, expected, predicted, prices)
    want = [direct_cost(e, p) + x for e, p, x in zip(expected, predicted, prices, strict=True)]
    assert got.tolist() == pytest.approx(want)
    no_price = ErrorCosts(wrong=2, include_call_price=False)
    assert label_costs(no_price, ["a"], ["b"], [9.0]).tolist() == [2.0]
    scoring = ErrorCosts(per_abs_error=3.0, invalid=4.0)
    assert score_costs(scoring, [1.0, 2.0, 5.0], [1.5, None, 2.0]).tolist() == [1.5, 4.0, 9.0]
    with pytest.raises(ConfigError, match="per_abs_error"):
        score_costs(ErrorCosts(), [1.0], [1.0])
    with pytest.raises(ConfigError, match="unknown label"):
        costs.check_labels(["refund", "delivery"], where="suite")
    with pytest.raises(ValueError, match="negative"):
        ErrorCosts.model_validate({"matrix": {"a": {"b": -1}}})


def test_per_1000_against_scipy_bootstrap() -> None:
    rng = np.random.default_rng(5)
    values = rng.choice([0.0, 0.0, 0.0, 2.0, 10.0], size=300)
    got = per_1000(values, n_boot=4000, seed=1)
    assert got.per_1000 == pytest.approx(values.mean() * 1000)
    ref = stats.bootstrap(
        (values,), np.mean, n_resamples=20000, method="percentile", random_state=2
    ).confidence_interval
    width = (ref.high - ref.low) * 1000
    assert got.low == pytest.approx(ref.low * 1000, abs=0.08 * width)
    assert got.high == pytest.approx(ref.high * 1000, abs=0.08 * width)
    assert per_1000(np.zeros(0)).n == 0


def test_eval_reports_cost_for_prompt_and_baselines(
    project: Path,
    server: FakeOpenAIServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    grid_project(project, server, suite=SUITE + COSTS)
    out = project / "run"
    args = ["eval", "router", "--base-url", server.base_url, "--model", "m", "--out", str(out)]
    code, stdout, err = cli(args, monkeypatch, capsys)
    assert code == 0, err
    cost = json.loads((out / "business_cost.json").read_text())
    assert cost["currency"] == "EUR"
    rows = {r["name"]: r for r in cost["rows"]}
    assert set(rows) == {"prompt", "majority", "tfidf_lr"}
    results = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    direct = [direct_cost(r["expected"], r["predicted"]) for r in results]
    assert rows["prompt"]["estimate"]["per_1000"] == pytest.approx(np.mean(direct) * 1000)
    assert rows["prompt"]["call_part"] == 0.0  # no prices on a bare --base-url
    # majority: the most frequent train label, ties to the first label: "refund" for all
    test_cases = [c for c in cases() if c["split"] == "test"]
    majority = [direct_cost(str(c["expected"]), "refund") for c in test_cases]
    assert rows["majority"]["estimate"]["per_1000"] == pytest.approx(np.mean(majority) * 1000)
    e = rows["prompt"]["estimate"]
    assert e["low"] <= e["per_1000"] <= e["high"]
    assert "business cost prompt:" in stdout and "EUR per 1,000 decisions" in stdout


def test_unknown_label_in_the_cost_matrix_is_refused(
    project: Path,
    server: FakeOpenAIServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    grid_project(project, server, suite=SUITE + COSTS.replace("password: 1.0", "pasword: 1.0"))
    args = ["eval", "router", "--base-url", server.base_url, "--out", str(project / "r")]
    code, _, err = cli(args, monkeypatch, capsys)
    assert code == 2 and "unknown label(s) pasword" in err


def test_grid_ranks_cells_by_business_cost(
    project: Path,
    server: FakeOpenAIServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    degraded = grid_project(project, server, suite=SUITE + COSTS)
    code, _, err = cli(grid_args(degraded, project / "grid"), monkeypatch, capsys)
    assert code == 0, err
    summary = json.loads((project / "grid" / "grid.json").read_text())["summary"]
    assert summary["cost_basis"] == "business cost (EUR)"
    cells = {c["id"]: c for c in summary["cells"]}
    costs = [cells[i]["business_per_1000"] for i in summary["ranking"]]
    assert costs == sorted(costs)
    for cell in cells.values():
        results = [
            json.loads(x)
            for x in (project / "grid" / cell["id"] / "results.jsonl").read_text().splitlines()
        ]
        errors = np.mean([direct_cost(r["expected"], r["predicted"]) for r in results]) * 1000
        assert cell["business_per_1000"] == pytest.approx(errors + cell["call_cost_per_1000"])
    assert summary["ranking"][0] == "router__cheap"
    assert "## Cost ranking" in (project / "grid" / "report.md").read_text()
