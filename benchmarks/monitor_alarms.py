"""False alarms and detections of `promptops monitor`, per signal, and its peak memory.

Reference: an eval run over the shipped BANKING77 evalset (540 messages, 6 intents) with a
seeded noisy classifier (right 85% of the time, 1% invalid; `tests/_monitor_util.py`). Each
trial is one window of N requests drawn with replacement, its signals computed by the
monitor's own code (`monitor.window`, `monitor.signals`), a fresh seed per trial:

    reference        drawn from the reference's own messages: every alert is a false alarm
    class shift      one intent (a different one per trial) gains 20 points of predictions
    longer inputs    messages drawn from the longest third (tag length:long)
    other domain     COVID-QA questions (../shared/data/covid_qa, else the shipped 80)
    25% other domain a quarter of the window from COVID-QA
    errors 1%        1% of requests answered 502 (the reference case has 0.05%)
    invalid 5%       5% of answers outside the label set
    worse answers    accuracy 85% -> 65% (with feedback labels for every request)

Targets: at most 5% false alarms per window on the reference, at least 95% detection by the
signal made for each shift. Memory: peak RSS of `promptops monitor` (its own wait4 rusage)
on synthetic logs of 10k and 1M lines.

    .venv/bin/python benchmarks/monitor_alarms.py [--trials 200] [--sizes 500,1000]
        [--rss 10000,1000000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _monitor_util import ACCURACY, INVALID, Case, banking_cases, covid_texts, labels_of, predict
from promptops.monitor.logread import LogLine
from promptops.monitor.mmd import Embedder
from promptops.monitor.reference import Reference, load_reference
from promptops.monitor.runner import ReferenceVectors, window_signals
from promptops.monitor.window import WindowFactory
from promptops.runs.monitor_config import MonitorConfig
from promptops.tokens import count_tokens

ROOT = Path(__file__).resolve().parents[1]
COVID_JSON = ROOT.parent / "shared" / "data" / "covid_qa" / "200423_covidQA.json"
SHIFT = 0.20
SIGNALS = (
    "predictions",
    "psi:input_chars",
    "psi:input_tokens",
    "embeddings",
    "error_rate:server_error",
    "invalid_rate",
    "feedback_macro_f1",
)
INTENDED = {
    "class shift +20 pts": "predictions",
    "longer inputs": "psi:input_chars",
    "other domain": "embeddings",
    "25% other domain": "embeddings",
    "errors 1%": "error_rate:server_error",
    "invalid 5%": "invalid_rate",
    "worse answers": "feedback_macro_f1",
}


def other_domain() -> list[str]:
    if COVID_JSON.is_file():
        data = json.loads(COVID_JSON.read_text(encoding="utf-8"))
        qs = [q["question"] for a in data["data"] for p in a["paragraphs"] for q in p["qas"]]
        return sorted(set(qs))
    return covid_texts()


class Traffic:
    """Draws one window's requests for a scenario as (LogLine, true label)."""

    def __init__(self, cases: list[Case], labels: list[str], foreign: list[str]) -> None:
        self.cases = cases
        self.labels = labels
        self.foreign = foreign
        self.long = [c for c in cases if "length:long" in c.tags]
        self.by_label = {x: [c for c in cases if c.expected == x] for x in labels}
        self.others = {x: [c for c in cases if c.expected != x] for x in labels}
        self.measure: dict[str, tuple[int, int]] = {}

    def sizes(self, text: str) -> tuple[int, int]:
        if text not in self.measure:
            self.measure[text] = (len(text), count_tokens(text))
        return self.measure[text]

    def line(
        self, i: int, text: str, label: str | None, rng: random.Random, status: int, with_text: bool
    ) -> LogLine:
        chars, tokens = self.sizes(text)
        return LogLine(
            time=float(i),
            status=status,
            latency_ms=rng.lognormvariate(5, 0.3),
            request_id=f"r{i}",
            label=label if status == 200 else None,
            input_chars=chars,
            input_tokens=tokens,
            text=text if with_text else None,
        )

    def window(
        self, scenario: str, n: int, rng: random.Random, with_text: bool
    ) -> list[tuple[LogLine, str]]:
        out = []
        boosted = rng.choice(self.labels)
        # traffic share q of the boosted intent so its expected share of predictions rises 20
        # points: q * ACCURACY + (1 - q) * wrong-into-it = reference share + 0.20
        into = (1 - ACCURACY - INVALID) / (len(self.labels) - 1)
        ref_share = (1 / len(self.labels)) * (ACCURACY + (len(self.labels) - 1) * into)
        q = (ref_share + SHIFT - into) / (ACCURACY - into)
        for i in range(n):
            status = 200
            if scenario == "class shift +20 pts" and rng.random() < q:
                case = rng.choice(self.by_label[boosted])
            elif scenario == "class shift +20 pts":
                case = rng.choice(self.others[boosted])
            elif scenario == "longer inputs":
                case = rng.choice(self.long)
            else:
                case = rng.choice(self.cases)
            foreign = scenario == "other domain" or (
                scenario == "25% other domain" and rng.random() < 0.25
            )
            if foreign:
                text, truth = rng.choice(self.foreign), rng.choice(self.labels)
                label: str | None = rng.choice(self.labels)
            else:
                text, truth = case.message, case.expected
                label = predict(case, self.labels, rng)
            if scenario == "invalid 5%" and rng.random() < 0.05:
                label = None
            if scenario == "worse answers" and label == truth and rng.random() < 0.235:
                label = rng.choice([x for x in self.labels if x != truth])
            error_rate = 0.01 if scenario == "errors 1%" else 0.0005
            if rng.random() < error_rate:
                status = 502
            out.append((self.line(i, text, label, rng, status, with_text), truth))
        return out


def run_trials(
    ref: Reference,
    traffic: Traffic,
    scenario: str,
    n: int,
    trials: int,
    config: MonitorConfig,
    embed: Embedder,
    *,
    with_text: bool,
) -> dict[str, list[str]]:
    """Signal statuses over `trials` windows; inputs are "logged" only with `with_text` (the
    embedding test is the slow one, so it runs on fewer trials)."""
    vectors = ReferenceVectors(ref, embed)
    make = WindowFactory(
        [float(x) for x in ref.chars_edges],
        [float(x) for x in ref.tokens_edges],
        config.embedding_sample,
        config.seed,
    )
    statuses: dict[str, list[str]] = defaultdict(list)
    for t in range(trials):
        rng = random.Random(f"{scenario}/{n}/{t}/{with_text}")
        w = make(t, 0.0)
        for line, truth in traffic.window(scenario, n, rng, with_text):
            w.add(line, truth)
        for s in window_signals(w, ref, config, embed, vectors, has_feedback=True):
            statuses[s.name].append(s.status)
    return statuses


def dump_windows(path: Path, sizes: list[int], trials: int) -> None:
    """The reference run and `trials` windows per scenario and size as JSON lines, for
    `monitor_evidently.py` to run Evidently's default tests on the very same data."""
    from _monitor_util import write_reference_run

    cases = banking_cases()
    traffic = Traffic(cases, labels_of(cases), other_domain())
    with tempfile.TemporaryDirectory(prefix="promptops-monitor-dump-") as tmp:
        run = write_reference_run(Path(tmp) / "run", cases)
        results = [json.loads(x) for x in (run / "results.jsonl").read_text().splitlines()]
    reference = [(r["input"]["message"], r["predicted"]) for r in results]
    with path.open("w", encoding="utf-8") as out:
        head = {"scenario": "__reference__", "columns": _columns(traffic, reference)}
        out.write(json.dumps(head) + "\n")
        for scenario in ("reference", *INTENDED):
            for n in sizes:
                for t in range(trials):
                    window = traffic.window(
                        scenario, n, random.Random(f"dump/{scenario}/{n}/{t}"), True
                    )
                    pairs = [(line.text or "", line.label) for line, _ in window]
                    record = {
                        "scenario": scenario,
                        "window": n,
                        "trial": t,
                        "columns": _columns(traffic, pairs),
                    }
                    out.write(json.dumps(record) + "\n")


def _columns(traffic: Traffic, pairs: list[tuple[str, str | None]]) -> dict[str, list[object]]:
    return {
        "prediction": [label if label is not None else "invalid" for _, label in pairs],
        "input_chars": [traffic.sizes(text)[0] for text, _ in pairs],
        "input_tokens": [traffic.sizes(text)[1] for text, _ in pairs],
        "text": [text for text, _ in pairs],
    }


def alarm_table(trials: int, sizes: list[int], embed_trials: int) -> list[dict[str, object]]:
    from _monitor_util import write_reference_run

    cases = banking_cases()
    labels = labels_of(cases)
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="promptops-monitor-bench-") as tmp:
        run = write_reference_run(Path(tmp) / "run", cases)
        config = MonitorConfig()
        ref = load_reference(run, config)
        traffic = Traffic(cases, labels, other_domain())
        embedder = Embedder()
        embedder(ref.texts + traffic.foreign)  # every text the trials can draw, embedded once
        for scenario in ("reference", *INTENDED):
            for n in sizes:
                started = time.perf_counter()
                stat = run_trials(
                    ref, traffic, scenario, n, trials, config, embedder, with_text=False
                )
                emb = run_trials(
                    ref, traffic, scenario, n, embed_trials, config, embedder, with_text=True
                )
                stat["embeddings"] = emb["embeddings"]
                for name in SIGNALS:
                    got = stat.get(name, [])
                    measured = [x for x in got if x in ("ok", "alert")]
                    rows.append(
                        {
                            "scenario": scenario,
                            "window": n,
                            "signal": name,
                            "trials": len(got),
                            "measured": len(measured),
                            "alert_rate": (sum(x == "alert" for x in got) / len(got))
                            if got
                            else None,
                            "intended": INTENDED.get(scenario) == name,
                        }
                    )
                print(f"  {scenario} n={n}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return rows


def synthetic_log(path: Path, n: int, seed: int = 1) -> None:
    """n lines in serve's format, one every 0.1 s (1-hour windows hold 36,000 lines)."""
    from _monitor_util import START

    cases = banking_cases()
    labels = labels_of(cases)
    sizes = {c.message: (len(c.message), count_tokens(c.message)) for c in cases}
    rng = random.Random(seed)
    base = START.timestamp()
    with path.open("w", encoding="utf-8") as out:
        for i in range(n):
            case = rng.choice(cases)
            chars, tokens = sizes[case.message]
            label = predict(case, labels, rng)
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(base + i // 10))
            out.write(
                json.dumps(
                    {
                        "time": f"{stamp}.{(i % 10) * 100:03d}+00:00",
                        "request_id": f"r{i}",
                        "arm": "primary",
                        "prompt": "classify_intent@1",
                        "prompt_hash": "x",
                        "model": "m",
                        "input_chars": chars,
                        "input_tokens": tokens,
                        "input_hash": "h",
                        "error_kind": None,
                        "upstream_latency_ms": 1.0,
                        "attempts": 1,
                        "status": 200,
                        "output": label,
                        "label": label,
                        "confidence": 0.9,
                        "fallback": False,
                        "latency_ms": round(rng.lognormvariate(5, 0.3), 3),
                    }
                )
                + "\n"
            )


def peak_rss(n: int) -> tuple[float, float]:
    """(peak RSS MiB, seconds) of `promptops monitor` over an n-line log, 1-hour windows."""
    from _monitor_util import write_reference_run

    with tempfile.TemporaryDirectory(prefix="promptops-monitor-rss-") as tmp:
        root = Path(tmp)
        run = write_reference_run(root / "run", banking_cases())
        synthetic_log(root / "log.jsonl", n)
        env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
        command = [
            sys.executable,
            "-m",
            "promptops",
            "monitor",
            str(root / "log.jsonl"),
            "--reference",
            str(run),
            "--window",
            "1h",
            "--out",
            str(root / "out"),
        ]
        started = time.perf_counter()
        child = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        assert child.stderr is not None
        tail = child.stderr.read()[-2000:]
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) not in (0, 1):
            raise SystemExit(f"monitor failed on {n} lines: {tail}")
        return usage.ru_maxrss / 1024, elapsed


def render(rows: list[dict[str, object]], sizes: list[int]) -> str:
    """One row per scenario and signal: every signal on the reference (false alarms), the
    intended signal on each shift (detections), and the other signals that fired there."""
    cells: dict[tuple[str, str], dict[int, dict[str, object]]] = defaultdict(dict)
    for r in rows:
        cells[(str(r["scenario"]), str(r["signal"]))][int(str(r["window"]))] = r
    trials = max(int(str(r["trials"])) for r in rows if r["signal"] != "embeddings")
    embed = max(int(str(r["trials"])) for r in rows if r["signal"] == "embeddings")
    lines = [
        f"Alert rate per window ({trials} windows per cell, {embed} for embeddings); "
        "* = the signal made for that shift",
        "",
        "| scenario | signal | " + " | ".join(f"n={n}" for n in sizes) + " | target |",
        "|---|---|" + "---|" * len(sizes) + "---|",
    ]
    for (scenario, signal), by_n in cells.items():
        intended = INTENDED.get(scenario) == signal
        if scenario != "reference" and not intended:
            continue
        values = [_rate(by_n[n]) for n in sizes]
        target = "<= 5%" if scenario == "reference" else ">= 95%"
        mark = "*" if intended else ""
        lines.append(f"| {scenario} | {signal}{mark} | " + " | ".join(values) + f" | {target} |")
    lines += ["", f"Other signals alerting on a shift (n={sizes[-1]}):", ""]
    for scenario in INTENDED:
        others = [
            f"{signal} {_rate(by_n[sizes[-1]])}"
            for (sc, signal), by_n in cells.items()
            if sc == scenario
            and INTENDED[scenario] != signal
            and float(str(by_n[sizes[-1]]["alert_rate"] or 0)) > 0
        ]
        lines.append(f"- {scenario}: {', '.join(others) or 'none'}")
    return "\n".join(lines)


def _rate(r: dict[str, object]) -> str:
    rate = r["alert_rate"]
    text = f"{100 * float(str(rate)):.1f}%" if rate is not None else "n/a"
    if r["measured"] != r["trials"]:
        text += f" ({r['measured']}/{r['trials']} measured)"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--embed-trials", type=int, default=100)
    parser.add_argument("--sizes", default="500,1000")
    parser.add_argument("--rss", default="10000,1000000")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--dump-windows", type=Path, help="only write windows for monitor_evidently.py here"
    )
    parser.add_argument("--from-json", type=Path, help="print the tables of an earlier --json run")
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",") if x]
    if args.from_json is not None:
        saved = json.loads(args.from_json.read_text(encoding="utf-8"))
        sizes = sorted({int(r["window"]) for r in saved["alarms"]})
        print(render(saved["alarms"], sizes))
        return
    if args.dump_windows is not None:
        dump_windows(args.dump_windows, sizes, args.trials)
        return
    rows = alarm_table(args.trials, sizes, args.embed_trials) if args.trials else []
    rss = {}
    for n in [int(x) for x in args.rss.split(",") if x]:
        mib, seconds = peak_rss(n)
        rss[n] = {"peak_rss_mib": round(mib, 1), "seconds": round(seconds, 1)}
        print(f"  rss n={n}: {mib:.1f} MiB, {seconds:.1f} s", file=sys.stderr)
    if args.json:
        print(json.dumps({"alarms": rows, "rss": rss}, indent=2))
        return
    if rows:
        print(render(rows, sizes))
    if rss:
        print()
        print("| log lines | peak RSS | time |")
        print("|---|---|---|")
        for n, r in rss.items():
            print(f"| {n:,} | {r['peak_rss_mib']} MiB | {r['seconds']} s |")
        if len(rss) > 1:
            peaks = [r["peak_rss_mib"] for r in rss.values()]
            print(f"\nlargest / smallest peak: {max(peaks) / min(peaks):.2f}x")


if __name__ == "__main__":
    main()
