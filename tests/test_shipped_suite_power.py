"""The shipped suite's report states its minimum detectable difference (issue #11).

The embedded model's answers committed in `baselines/intent.json` are replayed through the
real runner on `evalsets/intent.yaml` by the local OpenAI-compatible server (so no model is
loaded), with every baseline the suite names fitted as in a real run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from promptops.lifecycle import EvalOptions, run_eval
from promptops.metrics.power import connor_mde
from promptops.testing.openai_server import FakeOpenAIServer, last_user_message

ROOT = Path(__file__).resolve().parent.parent


def _replay() -> dict[str, str]:
    record = json.loads((ROOT / "baselines" / "intent.json").read_text(encoding="utf-8"))
    answers = {c["id"]: c["predicted"] for c in record["cases"]}
    out = {}
    for line in (ROOT / "evalsets" / "banking77" / "intent.jsonl").read_text().splitlines():
        case = json.loads(line)
        if case["split"] == "test":
            out[case["input"]["message"].strip()] = answers[case["id"]] or "no label"
    return out


@pytest.mark.slow
def test_shipped_suite_report_shows_its_mde(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("PROMPTOPS_CACHE_DIR", str(tmp_path / "cache"))
    replay = _replay()

    def answer(body: dict[str, Any]) -> str:
        question = last_user_message(body)
        label = next((a for text, a in replay.items() if text and text in question), "no label")
        return json.dumps({"label": label})

    with FakeOpenAIServer(answer=answer) as server:
        outcome = run_eval(
            "intent",
            EvalOptions(
                base_url=server.base_url, model="replay", out=tmp_path / "run", no_cache=True
            ),
        )
    s = outcome.summary
    record = json.loads((ROOT / "baselines" / "intent.json").read_text(encoding="utf-8"))
    assert s.n_cases == 240
    assert s.metrics.macro_f1 == pytest.approx(record["metrics"]["macro_f1"], abs=1e-6)
    v = s.sensitivity
    assert v is not None and v.metric == "macro_f1" and v.n == 240 and v.mde is not None
    best = next(b for b in s.baselines if b.name == v.against)
    assert best.mcnemar is not None
    # the macro-F1 MDE sits near the accuracy one Connor gives at the same discordance
    psi = (best.mcnemar.b + best.mcnemar.c) / 240
    assert v.mde == pytest.approx(connor_mde(psi, 240), rel=0.3)
    majority = next(b for b in s.baselines if b.name == "majority")
    assert majority.decision is not None and majority.decision.outcome == "significant"
    assert s.passed  # must_beat: majority, by the sign-flip test
    report = (tmp_path / "run" / "report.md").read_text(encoding="utf-8")
    assert (
        f"Minimum detectable difference (80% power, alpha 0.05, 240 cases, against the "
        f"{v.against} baseline): {v.mde:.3f} in Macro-F1" in report
    )
    assert f"{v.mde:.3f} in Macro-F1" in (tmp_path / "run" / "report.html").read_text()
