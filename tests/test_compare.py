"""`promptops compare A B` on real runs against the local OpenAI-compatible server.

Statistics are checked against independent references: scikit-learn for the metrics and
scipy's binomial test for McNemar, computed here from the two results files.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scipy.stats import binomtest
from sklearn.metrics import accuracy_score, f1_score

from _eval_util import LABELS, cases, make_project
from _regress_util import cli, degraded_prompt, results, run
from promptops.regress.compare import compare_paths
from promptops.runs.comparison import ComparisonSummary
from promptops.testing.openai_server import FakeOpenAIServer


@pytest.fixture(scope="module")
def server() -> FakeOpenAIServer:
    with FakeOpenAIServer() as srv:
        yield srv


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROMPTOPS_CACHE_DIR", str(tmp_path / "cache"))
    return make_project(tmp_path)


@pytest.fixture
def good_and_bad(project: Path, server: FakeOpenAIServer) -> tuple[Path, Path]:
    good = run(server, project / "runs" / "good").out_dir
    bad = run(server, project / "runs" / "bad", prompt=degraded_prompt(project)).out_dir
    return good, bad


def _comparison(folder: Path) -> ComparisonSummary:
    return ComparisonSummary.model_validate_json((folder / "comparison.json").read_text())


def test_degraded_prompt_fails_with_the_flipped_cases_listed(
    good_and_bad: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    good, bad = good_and_bad
    code, out, _ = cli(["compare", str(good), str(bad)], monkeypatch, capsys)
    assert code == 1
    assert out.startswith("FAIL: B is significantly worse than A")

    s = _comparison(bad)
    a_rows, b_rows = results(good), results(bad)
    ids = sorted(a_rows)
    assert s.n_shared == len(ids) == 30
    right_a = [a_rows[i]["predicted"] == a_rows[i]["expected"] for i in ids]
    right_b = [b_rows[i]["predicted"] == b_rows[i]["expected"] for i in ids]
    broken = [i for i, x, y in zip(ids, right_a, right_b, strict=True) if x and not y]
    fixed = [i for i, x, y in zip(ids, right_a, right_b, strict=True) if y and not x]
    assert [c.id for c in s.flips.broken] == broken and len(broken) >= 8
    assert [c.id for c in s.flips.fixed] == fixed
    assert all(c.expected == "password" or c.predicted_a == "password" for c in s.flips.broken)
    first = s.flips.broken[0]
    assert first.input == a_rows[first.id]["input"]
    assert first.output_a == a_rows[first.id]["raw_output"]
    assert first.output_b == b_rows[first.id]["raw_output"]

    # independent references: scikit-learn and scipy on the two results files
    y_true = [str(a_rows[i]["expected"]) for i in ids]

    def as_label(value: object) -> str:
        return str(value) if value in LABELS else "invalid"

    pred_a = [as_label(a_rows[i]["predicted"]) for i in ids]
    pred_b = [as_label(b_rows[i]["predicted"]) for i in ids]
    f1 = {d.metric: d for d in s.metrics}
    ref_f1_a = f1_score(y_true, pred_a, labels=list(LABELS), average="macro", zero_division=0)
    ref_f1_b = f1_score(y_true, pred_b, labels=list(LABELS), average="macro", zero_division=0)
    assert f1["macro_f1"].a == pytest.approx(ref_f1_a)
    assert f1["macro_f1"].diff == pytest.approx(ref_f1_b - ref_f1_a)
    ref_acc = accuracy_score(y_true, pred_b) - accuracy_score(y_true, pred_a)
    assert f1["accuracy"].diff == pytest.approx(ref_acc)
    assert f1["macro_f1"].high < 0 and f1["accuracy"].high < 0
    ref_p = binomtest(len(broken), len(broken) + len(fixed), 0.5).pvalue
    assert s.mcnemar.broken == len(broken) and s.mcnemar.p_value == pytest.approx(ref_p)
    assert s.verdict.status == "regressed" and s.verdict.p_value < 0.05
    password = next(d for d in s.per_class if d.label == "password")
    assert password.b.recall < password.a.recall

    md = (bad / "comparison.md").read_text()
    assert f"### Broken ({len(broken)})" in md
    assert all(f"| {i} |" in md for i in broken)
    assert "replace('password', 'pass word')" in md  # the prompt diff
    assert "**changed**" in md and "router@1.1.0" in md
    html = (bad / "comparison.html").read_text()
    assert broken[0] in html and "<script" not in html and "http-equiv" in html


def test_a_run_compared_with_itself_passes_with_zero_deltas(
    good_and_bad: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    good, _ = good_and_bad
    code, out, _ = cli(
        ["compare", str(good), str(good), "--out", str(tmp_path / "self")], monkeypatch, capsys
    )
    assert code == 0 and out.startswith("PASS: no significant difference")
    s = _comparison(tmp_path / "self")
    assert all(d.diff == 0 and d.low == 0 and d.high == 0 for d in s.metrics)
    assert s.paired_bootstrap.p_value == 1.0 and s.mcnemar.p_value == 1.0
    assert not s.flips.broken and not s.flips.fixed and not s.prompt.changed
    assert not s.evalset.changed and not any(row.changed for row in s.setup)


def test_an_unchanged_prompt_rerun_passes(
    project: Path, server: FakeOpenAIServer, tmp_path: Path
) -> None:
    first = run(server, project / "runs" / "one").out_dir
    second = run(server, project / "runs" / "two").out_dir
    s = compare_paths(first, second)
    assert s.exit_code == 0 and s.verdict.status == "no_significant_change"
    assert s.n_shared == 30 and s.metrics[0].diff == 0


def test_an_improvement_passes(good_and_bad: tuple[Path, Path]) -> None:
    good, bad = good_and_bad
    s = compare_paths(bad, good)
    assert s.verdict.status == "improved" and s.exit_code == 0
    # the degraded prompt also hides one wrong "password" mention: a real flip the other way
    assert len(s.flips.fixed) == 8 and [c.id for c in s.flips.broken] == ["test-delivery-5"]


def test_a_changed_evalset_is_reported_first(
    project: Path, server: FakeOpenAIServer, tmp_path: Path
) -> None:
    good = run(server, project / "runs" / "good").out_dir
    rows = cases()
    test_rows = [r for r in rows if r["split"] == "test"]
    dropped = {str(test_rows[0]["id"]), str(test_rows[1]["id"])}
    relabelled = str(test_rows[2]["id"])
    kept = [r for r in rows if r["id"] not in dropped]
    for r in kept:
        if r["id"] == relabelled:
            r["expected"] = "password" if r["expected"] != "password" else "refund"
    kept.append(
        {"id": "test-new-1", "input": {"message": "delivery: parcel late"}, "expected": "delivery"}
    )
    changed = project / "evalsets" / "router_v2.jsonl"
    changed.write_text("\n".join(json.dumps(r) for r in kept) + "\n", encoding="utf-8")
    other = run(server, project / "runs" / "other", evalset=changed).out_dir

    s = compare_paths(good, other)
    e = s.evalset
    assert e.changed and not e.same_file
    assert sorted(e.only_in_a) == sorted(dropped) and e.only_in_b == ["test-new-1"]
    assert e.relabelled == [relabelled] and s.n_shared == 30 - 3
    assert "2 case(s) only in A" in e.message and "1 relabelled" in e.message
    assert next(r for r in s.setup if r.name == "Evalset sha256").changed

    assert not (other / "comparison.md").exists()  # compare_paths alone writes nothing
    from promptops.regress.compare import write_comparison

    write_comparison(s, tmp_path / "cmp")
    md = (tmp_path / "cmp" / "comparison.md").read_text()
    verdict_at = md.index("## Verdict")
    warning_at = md.index("> **Warning: the evalset changed.**")
    assert verdict_at < warning_at < md.index("## Metrics on shared cases")
    assert "test-new-1" in md and relabelled in md


def test_identical_inputs_give_byte_identical_reports(
    good_and_bad: tuple[Path, Path], tmp_path: Path
) -> None:
    from promptops.regress.compare import write_comparison

    good, bad = good_and_bad
    write_comparison(compare_paths(good, bad), tmp_path / "x")
    write_comparison(compare_paths(good, bad), tmp_path / "y")
    for name in ("comparison.md", "comparison.html", "comparison.json"):
        assert (tmp_path / "x" / name).read_bytes() == (tmp_path / "y" / name).read_bytes()
    md = (tmp_path / "x" / "comparison.md").read_text()
    assert md.endswith("\n") and not md.endswith("\n\n")
    assert not any(line != line.rstrip() for line in md.splitlines())


def test_failing_its_own_threshold_fails_even_without_a_regression(
    project: Path, server: FakeOpenAIServer, tmp_path: Path
) -> None:
    from _eval_util import SUITE

    make_project(project, suite=SUITE.replace("macro_f1: {min: 0.5}", "macro_f1: {min: 0.95}"))
    strict = run(server, project / "runs" / "strict").out_dir
    s = compare_paths(strict, strict)
    assert s.verdict.status == "no_significant_change" and not s.verdict.b_passed
    assert s.exit_code == 1 and "B fails 1 of its own thresholds" in s.verdict.explanation


def test_bad_inputs_exit_2(
    good_and_bad: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    good, _ = good_and_bad
    code, _, err = cli(["compare", str(good), str(tmp_path / "nowhere")], monkeypatch, capsys)
    assert code == 2 and "nowhere" in err
    bogus = tmp_path / "bogus.json"
    bogus.write_text('{"kind": "summary"}')
    code, _, err = cli(
        ["compare", str(bogus), str(good), "--out", str(tmp_path / "o")], monkeypatch, capsys
    )
    assert code == 2 and "not a baseline record" in err
    code, _, err = cli(["compare", str(good), str(good), "--alpha", "2"], monkeypatch, capsys)
    assert code == 2 and "alpha" in err
