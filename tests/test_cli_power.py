"""`promptops power SUITE --detect D` on the shipped suite and on a finished run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from _eval_util import make_project
from _regress_util import cli
from promptops.lifecycle import EvalOptions, run_eval
from promptops.metrics import power as pw
from promptops.testing.openai_server import FakeOpenAIServer

SHIPPED = Path(__file__).resolve().parent.parent / "evalsets" / "intent.yaml"


def test_shipped_suite_needs_the_published_number_of_cases(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(
        ["power", str(SHIPPED), "--detect", "0.02", "--discordance", "0.1"], monkeypatch, capsys
    )
    assert code == 0
    assert "240 test cases" in out and "Connor (1987)" in out and "Miettinen (1968)" in out
    assert "1,960" in out  # note B3: 2 points at psi 0.10
    code, out, _ = cli(["power", str(SHIPPED), "--detect", "0.05", "--json"], monkeypatch, capsys)
    plan = json.loads(out)
    assert plan["n_cases"] == 240 and plan["alpha"] == 0.05 and plan["power"] == 0.8
    rows = {row["discordance"]: row for row in plan["rows"]}
    assert rows[0.1]["connor_n"] == 312 and rows[0.4]["miettinen_n"] == pw.miettinen_n(0.05, 0.4)
    assert rows[0.2]["mde_now"] == pytest.approx(pw.connor_mde(0.2, 240))
    code, out, _ = cli(["power", str(SHIPPED), "--detect", "0.3"], monkeypatch, capsys)
    assert code == 0 and "needs psi >= D" in out  # a 30-point gain needs 30% discordance


def test_a_run_gives_its_measured_mde_scaled_to_the_difference(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROMPTOPS_CACHE_DIR", str(tmp_path / "cache"))
    make_project(tmp_path)
    with FakeOpenAIServer() as srv:
        summary = run_eval(
            "router", EvalOptions(base_url=srv.base_url, model="fake", out=tmp_path / "run")
        ).summary
    v = summary.sensitivity
    assert v is not None and v.mde is not None and v.n == 30
    code, out, _ = cli(
        ["power", "router", "--detect", "0.05", "--run", str(tmp_path / "run"), "--json"],
        monkeypatch,
        capsys,
    )
    assert code == 0
    run = json.loads(out)["run"]
    assert run["mde"] == pytest.approx(v.mde)
    assert run["cases_needed"] == math.ceil(30 * (v.mde / 0.05) ** 2 - 1e-9)


@pytest.mark.parametrize(
    ("args", "where"),
    [
        (["--detect", "0"], "--detect"),
        (["--detect", "0.02", "--discordance", "1.5"], "--discordance"),
    ],
)
def test_bad_input_exits_2(
    args: list[str], where: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(["power", str(SHIPPED), *args], monkeypatch, capsys)
    assert code == 2 and where in err
