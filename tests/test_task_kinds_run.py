"""`promptops eval` end to end for extraction and generation suites: the run lifecycle with
the real openai SDK against the fake server, on small copies of the shipped sets."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from _regress_util import cli
from promptops.lifecycle import EvalOptions, run_eval
from promptops.testing.openai_server import FakeOpenAIServer, last_user_message

ROOT = Path(__file__).resolve().parent.parent


def _rows(name: str) -> list[dict[str, Any]]:
    path = ROOT / "evalsets" / name / f"{name}.jsonl"
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


SLOTS = [r for r in _rows("slots") if r["split"] == "test"][:12] + [
    r for r in _rows("slots") if r["split"] == "train"
][:150]
E2E = [r for r in _rows("e2e") if r["split"] == "test"][:10] + [
    r for r in _rows("e2e") if r["split"] == "train"
][:80]
GOLD = {r["input"]["utterance"]: r["expected"] for r in SLOTS}
DEGRADED = {"on": False}  # a worse model: drops fields and truncates descriptions
REFS = {r["input"]["mr"]: r["expected"] for r in E2E}


def _answer(body: dict[str, Any]) -> str:
    """Gold slots for most utterances (one wrong, one not JSON), the last reference for most
    MRs, and a judge that answers PASS, FAIL or something unreadable."""
    text = last_user_message(body)
    if text.startswith("Meaning representation:"):
        return ("PASS", "FAIL", "it depends")[len(text) % 3]
    if text in GOLD:
        index = list(GOLD).index(text)
        if index == 3:
            return "I cannot do that"
        gold = dict(GOLD[text])
        if DEGRADED["on"]:
            gold = dict(list(gold.items())[:1])
        if index == 5:
            gold = {k: "wrong" for k in gold}
        return json.dumps(gold)
    if text in REFS:
        if DEGRADED["on"]:
            return " ".join(REFS[text][-1].split()[:4])
        return REFS[text][-1] if list(REFS).index(text) != 2 else ""
    return "?"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "evalsets").mkdir()
    for name in ("extract_slots", "describe_restaurant", "judge_e2e"):
        shutil.copy(ROOT / "prompts" / f"{name}.yaml", tmp_path / "prompts")
    for name, rows in (("slots", SLOTS), ("e2e", E2E)):
        text = (ROOT / "evalsets" / f"{name}.yaml").read_text("utf-8")
        text = text.replace(f"evalset: {name}/{name}.jsonl", f"evalset: {name}.jsonl")
        text = text.replace("bootstrap_samples: 2000", "bootstrap_samples: 200")
        (tmp_path / "evalsets" / f"{name}.yaml").write_text(text, "utf-8")
        lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        (tmp_path / "evalsets" / f"{name}.jsonl").write_text(lines, "utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _options(server: FakeOpenAIServer, out: Path) -> EvalOptions:
    return EvalOptions(base_url=server.base_url, model="fake-model", out=out)


def test_extraction_suite_runs_to_summary_results_and_reports(project: Path) -> None:
    with FakeOpenAIServer(answer=_answer) as server:
        outcome = run_eval("slots", _options(server, project / "run"))
        again = run_eval("slots", _options(server, project / "again"))
    summary = json.loads((project / "run" / "summary.json").read_text())
    assert summary["kind"] == "extraction" and summary["n_cases"] == 12
    m = summary["metrics"]
    assert m["parse_error_rate"] == pytest.approx(1 / 12)
    assert m["exact_match"] == pytest.approx(10 / 12)
    assert {"field_f1", "field_f1_macro", "schema_valid_rate", "fields"} <= set(m)
    assert summary["baselines"][0]["name"] == "gazetteer"
    rows = [json.loads(x) for x in (project / "run" / "results.jsonl").read_text().splitlines()]
    first = next(r for r in rows if r["id"] == SLOTS[0]["id"])
    assert first["predicted"] == SLOTS[0]["expected"]
    assert json.loads(first["expected"]) == SLOTS[0]["expected"]
    bad = next(r for r in rows if r["id"] == SLOTS[3]["id"])
    assert bad["invalid"] and bad["raw_output"] == "I cannot do that" and bad["parse_error"]
    report = (project / "run" / "report.md").read_text()
    assert "Per-field scores" in report and "I cannot do that" in report
    assert report == (project / "again" / "report.md").read_text()  # byte-stable
    assert (project / "run" / "report.html").stat().st_size > 1000
    assert outcome.summary.passed == again.summary.passed


def test_generation_suite_runs_with_judge_and_assertions(project: Path) -> None:
    with FakeOpenAIServer(answer=_answer) as server:
        run_eval("e2e", _options(server, project / "run"))
        judged = sum(1 for r in server.requests if "Grade:" in last_user_message(r))
    summary = json.loads((project / "run" / "summary.json").read_text())
    assert summary["kind"] == "generation" and summary["n_cases"] == 10
    assert judged == 10
    m = summary["metrics"]
    assert {"rouge1", "rouge2", "rouge_l", "bleu", "chrf", "semantic_similarity"} <= set(m)
    judge = summary["judge"]
    assert judge["graded"] + judge["errors"] == 10 and judge["errors"] > 0
    names = {a["name"] for a in summary["assertions"]}
    assert {"max-chars:300", "starts-with-capital", "similar>=0.7"} <= names
    latency = next(a for a in summary["assertions"] if a["name"].startswith("max-latency"))
    assert latency["passed"] == 10
    report = (project / "run" / "report.md").read_text()
    assert "Rubric judge" in report and "nearest_reference" in report
    assert "embedding cosine" in report


@pytest.mark.parametrize("suite", ["slots", "e2e"])
def test_regression_against_a_saved_baseline_exits_1(
    suite: str,
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PROMPTOPS_CACHE_DIR", str(project / "cache"))
    if suite == "e2e":  # no judge here: the regression is on the reference metric
        path = project / "evalsets" / "e2e.yaml"
        text = path.read_text("utf-8")
        path.write_text(text[: text.index("  judge:")], "utf-8")
    with FakeOpenAIServer(answer=_answer) as server:

        def args(out: str, *extra: str) -> list[str]:
            flags = ["--base-url", server.base_url, "--model", "fake-model", "--out", out]
            return ["eval", suite, *flags, *extra]

        assert cli(args("base"), monkeypatch, capsys)[0] == 0
        code, out, _ = cli(["baseline", "save", "base"], monkeypatch, capsys)
        assert code == 0 and f"baselines/{suite}.json" in out
        record = json.loads((project / "baselines" / f"{suite}.json").read_text())
        assert record["kind"] == "task_baseline" and len(record["cases"]) == len(
            [r for r in (SLOTS if suite == "slots" else E2E) if r["split"] == "test"]
        )
        code, out, _ = cli(args("same", "--against-baseline"), monkeypatch, capsys)
        assert code == 0 and "no significant change" in out
        DEGRADED["on"] = True
        try:
            code, out, _ = cli(
                args("worse", "--against-baseline", "--no-cache"), monkeypatch, capsys
            )
        finally:
            DEGRADED["on"] = False
    assert code == 1 and "REGRESSION" in out, out
    assert "current minus saved" in out
    code, out, _ = cli(["compare", "base", "worse"], monkeypatch, capsys)
    assert code == 1 and "B minus A" in out and "REGRESSION" in out
    assert cli(["compare", "base", "same"], monkeypatch, capsys)[0] == 0


def test_repeated_answers_report_their_agreement(project: Path) -> None:
    calls: dict[str, int] = {}

    def varying(body: dict[str, Any]) -> str:
        """Every third utterance gets a different answer on its second sample."""
        text = last_user_message(body)
        calls[text] = calls.get(text, 0) + 1
        index = list(GOLD).index(text) if text in GOLD else -1
        if calls[text] > 1 and index % 3 == 0:
            return "{}"
        return _answer(body)

    with FakeOpenAIServer(answer=varying) as server:
        options = EvalOptions(
            base_url=server.base_url, model="fake-model", out=project / "run", repeat=2
        )
        summary = run_eval("slots", options).summary
    flaky = [SLOTS[i]["id"] for i in range(0, 12, 3) if SLOTS[i]["split"] == "test"]
    assert summary.n_cases == 12
    repeats = summary.repeats  # type: ignore[attr-defined]
    assert repeats["k"] == 2 and repeats["flaky_cases"] == sorted(flaky)
    assert repeats["mean_agreement"] == pytest.approx(1 - 0.5 * len(flaky) / 12)
    assert "Repeated answers" in (project / "run" / "report.md").read_text()
