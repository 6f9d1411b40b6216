"""Grids: every prompt x endpoint cell through the eval path, resumable cell by cell, with a
report whose frontier, pairwise tests and Holm adjustment are checked against direct
computations (statsmodels, scipy), and `runs list` showing each cell once."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binom

from _grid_util import grid_args, grid_project
from _regress_util import cli
from promptops.experiments.frontier import Point, pareto_frontier
from promptops.experiments.multiple import holm
from promptops.testing.openai_server import FakeOpenAIServer

CELLS = {"router__cheap", "router__dear", "router_degraded__cheap", "router_degraded__dear"}


@pytest.fixture(scope="module")
def server() -> FakeOpenAIServer:
    with FakeOpenAIServer(latency_s=0.002) as srv:
        yield srv


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROMPTOPS_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def sweep_frontier(points: list[tuple[str, float, float]]) -> list[str]:
    """The frontier by a sweep (cheapest first, keep what beats every cheaper point), a
    construction independent of the pairwise dominance the module uses."""
    out, best = [], -np.inf
    for name, quality, _cost in sorted(points, key=lambda p: (p[2], -p[1])):
        if quality > best:
            out.append(name)
            best = quality
    return out


def mid_p(b: int, c: int) -> float:
    """McNemar mid-p from scipy's binomial, directly."""
    n, k = b + c, min(b, c)
    if n == 0:
        return 1.0
    if b == c:
        return float(1 - binom.pmf(k, n, 0.5) / 2)
    return float(min(1.0, 2 * binom.cdf(k, n, 0.5)) - binom.pmf(k, n, 0.5))


def correctness(folder: Path) -> dict[str, bool]:
    rows = [json.loads(x) for x in (folder / "results.jsonl").read_text().splitlines()]
    return {r["id"]: r["predicted"] == r["expected"] for r in rows if r["sample"] == 0}


def test_grid_runs_every_cell_and_reports(
    project: Path,
    server: FakeOpenAIServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    degraded = grid_project(project, server)
    code, out, err = cli(grid_args(degraded, project / "grid"), monkeypatch, capsys)
    assert code == 0, err
    grid = project / "grid"
    assert {p.name for p in grid.iterdir() if p.is_dir()} == CELLS
    for cell in CELLS:
        assert (grid / cell / "summary.json").is_file()
        manifest = json.loads((grid / cell / "manifest.json").read_text())
        assert manifest["model"] == ("small" if cell.endswith("cheap") else "big")
    summary = json.loads((grid / "grid.json").read_text())["summary"]
    cells = {c["id"]: c for c in summary["cells"]}
    assert set(cells) == CELLS
    assert cells["router__cheap"]["mean_score"] == pytest.approx(0.8)
    assert cells["router_degraded__cheap"]["mean_score"] < 0.8
    # the dear profile charges 50x per input token: cost per 1,000 cases follows it, cached
    # answers priced at the profile's prices
    assert (
        cells["router__dear"]["call_cost_per_1000"]
        > 20 * cells["router__cheap"]["call_cost_per_1000"]
    )
    report = (grid / "report.md").read_text()
    assert "| Cell | Prompt | Endpoint | macro_f1 |" in report
    assert "## Pareto frontier" in report and "Holm-adjusted over 6 comparisons" in report
    assert "<svg" in (grid / "report.html").read_text()
    assert summary["recommendation"] in out

    # frontier: the module against a sweep, on the figures of grid.json
    points = [(c["id"], c["quality"], c["call_cost_per_1000"]) for c in cells.values()]
    assert summary["cost_frontier"] == sweep_frontier(points)
    assert summary["cost_frontier"] == ["router__cheap"]  # best and cheapest dominates all
    latency = [(c["id"], c["quality"], c["latency_p50_s"]) for c in cells.values()]
    assert summary["latency_frontier"] == sweep_frontier(latency)

    # pairwise: raw McNemar mid-p from the results files, Holm from statsmodels
    pairs = summary["pairs"]
    assert len(pairs) == 6
    for pair in pairs:
        a, b = correctness(grid / pair["a"]), correctness(grid / pair["b"])
        broken = sum(a[i] and not b[i] for i in a)
        fixed = sum(b[i] and not a[i] for i in a)
        assert pair["p_value"] == pytest.approx(mid_p(broken, fixed), abs=1e-12)
        assert pair["diff"] == pytest.approx((fixed - broken) / len(a))
    multipletests = pytest.importorskip("statsmodels.stats.multitest").multipletests
    expected = multipletests([p["p_value"] for p in pairs], method="holm")[1]
    assert [p["p_holm"] for p in pairs] == pytest.approx(list(expected), abs=1e-12)
    assert summary["best"] == "router__cheap" and summary["recommended"] == "router__cheap"


def test_grid_resumes_cell_by_cell(
    project: Path,
    server: FakeOpenAIServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    degraded = grid_project(project, server)
    grid = project / "grid"
    assert cli(grid_args(degraded, grid), monkeypatch, capsys)[0] == 0
    stamps = {c: (grid / c / "results.jsonl").stat().st_mtime_ns for c in CELLS}
    (grid / "router__dear" / "summary.json").unlink()  # as if stopped before the end
    served = len(server.requests)
    code, _, err = cli(grid_args(degraded, grid, "--no-cache"), monkeypatch, capsys)
    assert code == 0
    assert err.count("finished before, kept") == 3
    assert "resuming: 30 result(s) already in" in err  # the unfinished cell resumed
    assert len(server.requests) == served  # nothing sent again
    assert {c: (grid / c / "results.jsonl").stat().st_mtime_ns for c in CELLS} == stamps


def test_runs_list_shows_each_cell_once(
    project: Path,
    server: FakeOpenAIServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    degraded = grid_project(project, server)
    runs = project / "reports" / "runs"
    assert cli(grid_args(degraded, runs / "g1"), monkeypatch, capsys)[0] == 0
    code, out, _ = cli(["runs", "list", "--suite", "router"], monkeypatch, capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[-1] == "4 run(s)"
    for cell in CELLS:
        assert sum(f"g1/{cell} " in line for line in lines) == 1
    row = next(line for line in lines if "g1/router__cheap " in line)
    assert "router@1.0.0+" in row and "small" in row and "macro_f1 0.800 [" in row
    assert "$" in row
    assert cli(["runs", "list", "--suite", "other"], monkeypatch, capsys)[1].strip() == (
        "time  run  prompt  model  evalset  primary metric [95% CI]  cost\n0 run(s)"
    )
    code, out, _ = cli(["runs", "show", "g1/router__dear"], monkeypatch, capsys)
    assert code == 0 and "model: big" in out and "results.jsonl" in out
    code, _, err = cli(["runs", "show", "nope"], monkeypatch, capsys)
    assert code == 2 and "no finished run named 'nope'" in err


def test_holm_against_a_direct_computation() -> None:
    rng = np.random.default_rng(3)
    for m in (1, 2, 5, 12):
        p = rng.uniform(0, 0.2, m).tolist()
        order = np.argsort(p)
        direct = np.empty(m)
        running = 0.0
        for rank, i in enumerate(order):
            running = max(running, min(1.0, (m - rank) * p[i]))
            direct[i] = running
        assert holm(p) == pytest.approx(direct.tolist())
        multitest = pytest.importorskip("statsmodels.stats.multitest")
        assert holm(p) == pytest.approx(list(multitest.multipletests(p, method="holm")[1]))


def test_frontier_against_a_sweep_on_random_points() -> None:
    rng = np.random.default_rng(7)
    for _ in range(50):
        n = int(rng.integers(1, 12))
        q = rng.integers(0, 5, n) / 4  # ties on purpose
        c = rng.integers(0, 5, n).astype(float)
        pts = [(f"c{i}", float(q[i]), float(c[i])) for i in range(n)]
        got = [p.name for p in pareto_frontier([Point(*x) for x in pts])]
        # duplicates of a frontier point (same quality and cost) are all on it
        swept = sweep_frontier(pts)
        kept = {(qq, cc) for name, qq, cc in pts if name in swept}
        assert set(got) == {name for name, qq, cc in pts if (qq, cc) in kept}


def test_a_task_kind_adds_its_own_score_reader(tmp_path: Path) -> None:
    """The per-case seam: a reader registered for a task kind; pairs of non-binary scores get
    the sign-flip test, exact here, checked against enumerating every sign pattern."""
    import itertools

    from promptops.experiments.pairwise import SIGN_FLIP_MEAN, compare_pair, sign_flip_mean
    from promptops.experiments.scores import SCORE_READERS, CaseRow, RunContext, per_case_scores

    def scoring(record: dict[str, object], context: RunContext) -> CaseRow:
        err = abs(float(record["predicted"]) - float(record["expected"]))  # type: ignore[arg-type]
        return CaseRow(str(record["id"]), 1 - err / 4, record["expected"], record["predicted"],
                       False, False, 0.0, 0.0)  # fmt: skip

    if "test-scoring" not in SCORE_READERS:
        SCORE_READERS.register("test-scoring", scoring)
    runs = []
    for name, preds in (("a", [1, 2, 3, 4, 0, 2]), ("b", [1, 3, 3, 2, 0, 1])):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "prompt.json").write_text(json.dumps({"task": "test-scoring"}))
        rows = [
            {"id": f"c{i}", "sample": 0, "expected": 2, "predicted": p} for i, p in enumerate(preds)
        ]
        (folder / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        runs.append(per_case_scores(folder))
    a, b = runs
    assert a.kind == "test-scoring" and not a.binary
    test = compare_pair("a", a, "b", b, alpha=0.05)
    assert test.test == SIGN_FLIP_MEAN
    d = np.array([b.rows[i].score - a.rows[i].score for i in sorted(a.rows)])
    means = [np.mean(np.array(s) * d) for s in itertools.product([-1, 1], repeat=len(d))]
    direct = np.mean(np.abs(means) >= abs(d.mean()) - 1e-12)
    assert test.diff == pytest.approx(d.mean())
    assert test.p_value == pytest.approx(direct)
    assert sign_flip_mean(np.zeros(4))[1] == 1.0


def test_one_profile_is_an_ordinary_run_and_a_grid_takes_no_baseline(
    project: Path,
    server: FakeOpenAIServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    degraded = grid_project(project, server)
    code, out, _ = cli(["eval", "router", "--profile", "dear", "--out", "one"], monkeypatch, capsys)
    assert code == 0 and "router@1.0.0 on router: 30 cases" in out
    assert json.loads((project / "one" / "manifest.json").read_text())["model"] == "big"
    assert not (project / "one" / "grid.json").exists()
    code, _, err = cli(
        grid_args(degraded, project / "g", "--against-baseline"), monkeypatch, capsys
    )
    assert code == 2 and "no baseline record" in err  # checked before anything is sent
    (project / "baselines").mkdir()
    (project / "baselines" / "router.json").write_text("{}")
    code, _, err = cli(
        grid_args(degraded, project / "g", "--against-baseline"), monkeypatch, capsys
    )
    assert code == 2 and "--against-baseline: compares one run with the baseline" in err
    assert not (project / "g").exists()
