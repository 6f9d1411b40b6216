"""`promptops monitor` end to end on BANKING77 traffic: no alert for traffic like the evalset,
alerts for traffic from two intents, for slow or failing requests and for another domain's
texts; bad log lines exit 2 with their line; memory does not grow with the log."""

from __future__ import annotations

import json
import random
import re
import tracemalloc
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest

from _monitor_util import (
    banking_cases,
    covid_texts,
    labels_of,
    log_record,
    traffic,
    write_log,
    write_reference_run,
)
from _regress_util import cli
from promptops.monitor import MonitorConfig, parse_window, run_monitor
from promptops.monitor.stats import exact_quantiles

CASES = banking_cases()
LABELS = labels_of(CASES)


@pytest.fixture(scope="module")
def ref(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_reference_run(tmp_path_factory.mktemp("ref") / "run", CASES)


def statuses(summary: object, name: str) -> list[str]:
    return [s.status for w in summary.windows for s in w.signals if s.name == name]  # type: ignore[attr-defined]


def test_traffic_like_the_evalset_raises_no_alert(
    ref: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    log = write_log(
        tmp_path / "log.jsonl", traffic(CASES, 3000, 11, labels=LABELS), tmp_path / "fb.jsonl"
    )
    code, out, _ = cli(
        [
            "monitor",
            str(log),
            "--reference",
            str(ref),
            "--window",
            "500",
            "--feedback",
            str(tmp_path / "fb.jsonl"),
            "--out",
            str(tmp_path / "out"),
        ],
        monkeypatch,
        capsys,
    )
    assert code == 0, out
    assert out.startswith("OK: 0 alerts in 0 of 6 windows")
    assert json.loads((tmp_path / "out" / "alerts.json").read_text()) == []
    summary = json.loads((tmp_path / "out" / "monitor.json").read_text())
    signals = {s["name"]: s for s in summary["windows"][0]["signals"]}
    assert signals["predictions"]["status"] == "ok" and signals["predictions"]["value"] < 0.15
    assert signals["psi:input_chars"]["status"] == "ok"
    assert signals["feedback_macro_f1"]["status"] == "ok"
    assert signals["embeddings"]["status"] == "unavailable"
    lines = [json.loads(x) for x in log.read_text().splitlines()[:500]]
    mean_tokens = sum(x["input_tokens"] for x in lines) / 500
    assert signals["usage"]["value"] == pytest.approx(mean_tokens)
    assert "OK: no alert in 6 windows" in (tmp_path / "out" / "report.md").read_text()


def test_traffic_from_two_intents_alerts_in_every_window(
    ref: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    two = [c for c in CASES if c.expected in LABELS[:2]]
    log = write_log(
        tmp_path / "log.jsonl", traffic(two, 2000, 12, labels=LABELS), tmp_path / "fb.jsonl"
    )
    code, out, _ = cli(
        [
            "monitor",
            str(log),
            "--reference",
            str(ref),
            "--window",
            "500",
            "--feedback",
            str(tmp_path / "fb.jsonl"),
            "--out",
            str(tmp_path / "out"),
        ],
        monkeypatch,
        capsys,
    )
    assert code == 1 and out.startswith("ALERT")
    alerts = json.loads((tmp_path / "out" / "alerts.json").read_text())
    assert {a["window"] for a in alerts if a["signal"] == "predictions"} == {0, 1, 2, 3}
    # the answers are as good as before: a class shift alone is no quality alert
    assert not [a for a in alerts if a["signal"] == "feedback_macro_f1"]
    html = (tmp_path / "out" / "report.html").read_text()
    assert 'class="threshold"' in html and 'class="alert"' in html
    charts = re.findall(r"<svg .*?</svg>", html, flags=re.S)
    assert len(charts) >= 8
    for markup in charts:
        ElementTree.fromstring(markup)  # each chart is a well-formed SVG document
    md = (tmp_path / "out" / "report.md").read_text()
    assert "ALERT: " in md and "Prediction shares" in md


def test_worse_answers_alert_on_feedback_f1(ref: Path, tmp_path: Path) -> None:
    rng = random.Random(3)
    rows = []
    for record, truth in traffic(CASES, 600, 13, labels=LABELS):
        if rng.random() < 0.3:  # 30% of answers flip to another label
            record["label"] = rng.choice([x for x in LABELS if x != truth])
        rows.append((record, truth))
    log = write_log(tmp_path / "log.jsonl", iter(rows), tmp_path / "fb.jsonl")
    s = run_monitor(
        [log], ref, parse_window("600"), MonitorConfig(), feedback_path=tmp_path / "fb.jsonl"
    )
    (f1,) = [sig for sig in s.windows[0].signals if sig.name == "feedback_macro_f1"]
    assert f1.status == "alert" and f1.extra["high"] is not None
    assert f1.extra["high"] < f1.threshold  # type: ignore[operator]


def test_latency_p99_is_exact_and_alerts_over_the_slo(ref: Path, tmp_path: Path) -> None:
    rng = random.Random(4)
    latencies = [rng.lognormvariate(5, 0.6) for _ in range(400)]
    rows = [
        (
            log_record(
                i,
                CASES[i % 540].message,
                CASES[i % 540].expected,
                seconds=i,
                log_inputs=False,
                rng=rng,
                latency_ms=latencies[i],
            ),
            "",
        )
        for i in range(400)
    ]
    log = write_log(tmp_path / "log.jsonl", iter(rows))
    p50, p95, p99 = exact_quantiles(np.array(latencies), (0.5, 0.95, 0.99))
    slo = float(np.sort(latencies)[390])  # below p99 (the 396th smallest)
    config = MonitorConfig(slo_p99_ms=slo)
    s = run_monitor([log], ref, parse_window("400"), config)
    (lat,) = [sig for sig in s.windows[0].signals if sig.name == "latency_p99_ms"]
    assert (lat.value, lat.extra["p50"], lat.extra["p95"]) == (p99, p50, p95)
    assert lat.status == "alert"
    ok = run_monitor([log], ref, parse_window("400"), MonitorConfig(slo_p99_ms=p99))
    assert statuses(ok, "latency_p99_ms") == ["ok"]


def test_errors_are_tested_per_kind_with_the_window_size_stated(ref: Path, tmp_path: Path) -> None:
    rng = random.Random(5)
    rows = []
    for i in range(2000):
        case = CASES[i % 540]
        status = 502 if i % 50 == 0 else 504 if i == 7 else 200  # 2% 5xx, one timeout
        rows.append(
            (
                log_record(
                    i,
                    case.message,
                    case.expected,
                    seconds=i,
                    log_inputs=False,
                    rng=rng,
                    status=status,
                ),
                "",
            )
        )
    log = write_log(tmp_path / "log.jsonl", iter(rows))
    s = run_monitor([log], ref, parse_window("2000"), MonitorConfig())
    sig = {x.name: x for x in s.windows[0].signals}
    assert sig["error_rate:server_error"].status == "alert"
    assert sig["error_rate:server_error"].value == pytest.approx(40 / 2000)
    assert sig["error_rate:timeout"].status == "ok"  # 1 in 2,000 is consistent with 0.1%
    assert sig["error_rate:validation"].value == 0
    assert "this window can flag rates of" in sig["error_rate:timeout"].detail
    assert any("needs windows of at least" in note for note in s.notes)


def test_another_domains_texts_drift_in_embeddings(ref: Path, tmp_path: Path) -> None:
    """MiniLM on small windows: 40 BANKING77 messages pass, 40 COVID-QA questions alert."""
    rng = random.Random(6)
    same = [CASES[i] for i in rng.sample(range(540), 40)]
    rows = [
        (log_record(i, c.message, c.expected, seconds=i, log_inputs=True, rng=rng), "")
        for i, c in enumerate(same)
    ]
    rows += [
        (log_record(40 + i, t, LABELS[0], seconds=40 + i, log_inputs=True, rng=rng), "")
        for i, t in enumerate(covid_texts()[:40])
    ]
    log = write_log(tmp_path / "log.jsonl", iter(rows))
    config = MonitorConfig(
        min_inputs=30,
        embedding_sample=40,
        reference_sample=100,
        permutations=200,
        min_predictions=30,
    )
    s = run_monitor([log], ref, parse_window("40"), config)
    emb = [next(x for x in w.signals if x.name == "embeddings") for w in s.windows]
    assert [e.status for e in emb] == ["ok", "alert"]
    assert emb[1].value is not None and emb[1].value < 0.01 < emb[0].value  # type: ignore[operator]


def test_shadow_agreement_and_paired_difference(ref: Path, tmp_path: Path) -> None:
    rows = []
    agree = 0
    for i, (record, truth) in enumerate(traffic(CASES, 300, 14, labels=LABELS)):
        shadow = dict(record, arm="shadow", label=truth)  # the candidate is always right
        agree += record["label"] == truth
        pair = (
            [(shadow, truth), (record, truth)] if i % 3 == 0 else [(record, truth), (shadow, truth)]
        )
        rows.extend(pair)  # the shadow line may be logged before the primary's
    log = write_log(tmp_path / "log.jsonl", iter(rows), tmp_path / "fb.jsonl")
    s = run_monitor(
        [log], ref, parse_window("300"), MonitorConfig(), feedback_path=tmp_path / "fb.jsonl"
    )
    sig = {x.name: x for x in s.windows[0].signals}
    valid = sum(1 for r, _ in rows if r["arm"] == "primary" and r["label"] is not None)
    assert sig["agreement:shadow"].n == valid
    assert sig["agreement:shadow"].value == pytest.approx(agree / valid)
    diff = sig["f1_difference:shadow"]
    assert diff.value is not None and diff.value > 0 and diff.extra["low"] > 0  # type: ignore[operator]
    assert not s.alerts


def test_time_windows_align_to_the_clock(ref: Path, tmp_path: Path) -> None:
    log = write_log(tmp_path / "log.jsonl", traffic(CASES, 1800, 15, labels=LABELS, every_s=2.0))
    s = run_monitor([log], ref, parse_window("10m"), MonitorConfig())
    assert len(s.windows) == 6 and [w.n_lines for w in s.windows] == [300] * 6
    assert all(w.end - w.start == 600 for w in s.windows)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "invalid JSON"),
        ('{"time": "2026-12-07T12:00:00.000+00:00", "status": 200}', "latency_ms: missing"),
        ('{"time": "yesterday", "status": 200, "latency_ms": 1}', "time: not an ISO 8601"),
        ('{"time": "2026-12-07T12:00:00+00:00", "status": "ok", "latency_ms": 1}', "status:"),
        (
            '{"time": "2026-12-07T12:00:00+00:00", "status": 200, "latency_ms": 1, "arm": "x"}',
            "arm:",
        ),
    ],
)
def test_a_bad_log_line_exits_2_with_its_line_number(
    ref: Path,
    tmp_path: Path,
    line: str,
    reason: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    good = json.dumps(
        log_record(0, "hello", LABELS[0], seconds=0, log_inputs=False, rng=random.Random(0))
    )
    log = tmp_path / "log.jsonl"
    log.write_text(f"{good}\n\n{good}\n{line}\n{good}\n")
    code, _, err = cli(
        ["monitor", str(log), "--reference", str(ref), "--out", str(tmp_path / "o")],
        monkeypatch,
        capsys,
    )
    assert code == 2
    assert f"{log}:4: " in err and reason in err


def test_memory_is_one_windows_worth(ref: Path, tmp_path: Path) -> None:
    """Peak Python allocations over 3,000 and 24,000 lines differ by the per-window results
    only (the benchmark measures RSS at 10k and 1M lines)."""
    peaks = []
    for n in (3_000, 24_000):
        log = write_log(tmp_path / f"log{n}.jsonl", traffic(CASES, n, 16, labels=LABELS))
        tracemalloc.start()
        run_monitor([log], ref, parse_window("1500"), MonitorConfig())
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < 1.3 * peaks[0], peaks


def test_a_suite_monitor_block_sets_the_thresholds(tmp_path: Path) -> None:
    from promptops.errors import EvalsetError
    from promptops.evals.suite import resolve_suite

    base = "name: x\nprompt: p\nevalset: e.jsonl\n"
    (tmp_path / "s.yaml").write_text(base + "monitor:\n  class_shift: 0.2\n  slo_p99_ms: 900\n")
    suite, _ = resolve_suite(str(tmp_path / "s.yaml"))
    assert suite.monitor is not None and suite.monitor.class_shift == 0.2
    assert suite.monitor.slo_p99_ms == 900 and suite.monitor.psi == 0.2
    (tmp_path / "t.yaml").write_text(base + "monitor:\n  class_shfit: 0.2\n")
    with pytest.raises(EvalsetError, match="class_shfit"):
        resolve_suite(str(tmp_path / "t.yaml"))


def test_a_reference_period_of_logs_works_like_an_eval_run(tmp_path: Path) -> None:
    ref_log = write_log(
        tmp_path / "ref.jsonl",
        traffic(CASES, 2000, 21, labels=LABELS, prefix="ref-"),
        tmp_path / "ref_fb.jsonl",
    )
    same = write_log(tmp_path / "same.jsonl", traffic(CASES, 1000, 22, labels=LABELS))
    s = run_monitor(
        [same],
        ref_log,
        parse_window("500"),
        MonitorConfig(),
        feedback_path=tmp_path / "ref_fb.jsonl",
    )
    assert s.reference["kind"] == "log" and s.reference["labels"] == LABELS
    assert 0.8 < s.reference["macro_f1"] < 0.9
    assert not s.alerts
    two = [c for c in CASES if c.expected in LABELS[2:4]]
    shifted = write_log(tmp_path / "two.jsonl", traffic(two, 1000, 23, labels=LABELS))
    s = run_monitor([shifted], ref_log, parse_window("500"), MonitorConfig())
    assert "predictions" in {a.signal for a in s.alerts}


def test_worker_logs_are_merged_by_time(ref: Path, tmp_path: Path) -> None:
    rows = list(traffic(CASES, 1200, 24, labels=LABELS))
    write_log(tmp_path / "a.jsonl", iter(rows[0::2]))
    write_log(tmp_path / "b.jsonl", iter(rows[1::2]))
    write_log(tmp_path / "all.jsonl", iter(rows))
    merged = run_monitor(
        [tmp_path / "a.jsonl", tmp_path / "b.jsonl"], ref, parse_window("5m"), MonitorConfig()
    )
    whole = run_monitor([tmp_path / "all.jsonl"], ref, parse_window("5m"), MonitorConfig())
    assert [w.n_lines for w in merged.windows] == [w.n_lines for w in whole.windows] == [300] * 4
    assert [w.signals for w in merged.windows] == [w.signals for w in whole.windows]
    assert sum(w.n_late for w in merged.windows) == 0


def test_conflicting_feedback_exits_2(
    ref: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    log = write_log(tmp_path / "log.jsonl", traffic(CASES, 10, 25, labels=LABELS))
    fb = tmp_path / "fb.jsonl"
    fb.write_text('{"request_id": "r1", "label": "a"}\n{"request_id": "r1", "label": "b"}\n')
    code, _, err = cli(
        [
            "monitor",
            str(log),
            "--reference",
            str(ref),
            "--feedback",
            str(fb),
            "--out",
            str(tmp_path / "o"),
        ],
        monkeypatch,
        capsys,
    )
    assert code == 2 and f"{fb}:2: " in err and "labelled both" in err


def test_a_refused_request_counts_as_a_validation_rejection(ref: Path, tmp_path: Path) -> None:
    """serve logs a request it refused (422) without latency or input sizes."""
    rows = list(traffic(CASES, 300, 26, labels=LABELS))
    refused = {
        "time": rows[10][0]["time"],
        "request_id": "bad",
        "arm": "primary",
        "prompt": "classify_intent@1",
        "prompt_hash": "x",
        "status": 422,
        "error_kind": "invalid_input",
        "fields": ["message"],
    }
    log = tmp_path / "log.jsonl"
    write_log(log, iter([*rows[:10], (refused, ""), *rows[10:]]))
    s = run_monitor([log], ref, parse_window("1000"), MonitorConfig())
    sig = {x.name: x for x in s.windows[0].signals}
    assert sig["error_rate:validation"].value == pytest.approx(1 / 301)
    assert sig["latency_p99_ms"].n == 300


def test_the_cli_takes_thresholds_from_a_suites_monitor_block(
    ref: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    two = [c for c in CASES if c.expected in LABELS[:2]]
    log = write_log(tmp_path / "log.jsonl", traffic(two, 500, 27, labels=LABELS))
    args = ["monitor", str(log), "--reference", str(ref), "--out", str(tmp_path / "o")]
    code, out, _ = cli(args, monkeypatch, capsys)
    assert code == 1 and "predictions" in out
    suite = tmp_path / "s.yaml"
    suite.write_text(
        "name: s\nprompt: p\nevalset: e.jsonl\nmonitor:\n  class_shift: 0.5\n  psi: 5.0\n"
    )
    code, out, _ = cli([*args, "--suite", str(suite)], monkeypatch, capsys)
    assert code == 0, out
    saved = json.loads((tmp_path / "o" / "monitor.json").read_text())
    assert saved["config"]["class_shift"] == 0.5


def test_rag_logs_report_grounding_support_and_overflow(tmp_path: Path) -> None:
    """serve's RAG lines: no label, `grounding_support` and an `overflow` object."""
    rng = random.Random(8)
    texts = covid_texts()

    def rag_log(path: Path, n: int) -> tuple[Path, list[float], list[bool]]:
        support = [round(rng.random(), 3) for _ in range(n)]
        over = [rng.random() < 0.2 for _ in range(n)]
        rows = []
        for i in range(n):
            record = log_record(
                i, texts[i % len(texts)], None, seconds=i, log_inputs=False, rng=rng
            )
            record.update(
                output="an answer [1]",
                grounding_support=support[i],
                overflow={"overflowed": over[i], "policy": "truncate"},
            )
            rows.append((record, ""))
        return write_log(path, iter(rows)), support, over

    ref_log, _, _ = rag_log(tmp_path / "ref.jsonl", 300)
    log, support, over = rag_log(tmp_path / "log.jsonl", 250)
    s = run_monitor([log], ref_log, parse_window("250"), MonitorConfig())
    sig = {x.name: x for x in s.windows[0].signals}
    assert sig["rag_grounding_support"].value == pytest.approx(sum(support) / 250)
    assert sig["rag_overflow_rate"].value == pytest.approx(sum(over) / 250)
    assert sig["predictions"].status == "unavailable"
    assert sig["invalid_rate"].status == "unavailable"
    assert sig["psi:input_chars"].status == "ok"
