"""Wall time of `promptops eval` against promptfoo and a bare async OpenAI SDK loop.

Every contender classifies the same seeded cases against the same local OpenAI-compatible
server (`promptops.testing.openai_server`, its own process) at the same concurrency, sending
the same messages with the same strict label schema, and is timed as a whole process by wall
clock, start-up included:

- promptops: `promptops eval SUITE --concurrency C --no-cache --out TMP` (majority baseline,
  bootstrap CIs, McNemar and paired bootstrap, results.jsonl, summary, Markdown and HTML reports);
- promptfoo: `promptfoo eval --max-concurrency C --no-cache` with its openai provider and a
  javascript assertion `label == expected` (it computes no baselines or intervals);
- bare SDK: `AsyncOpenAI` with a semaphore of C, one request per case, then the accuracy.

Each contender runs `--repeats` times per setting and the best time counts. Targets: at zero
latency promptops is at least 2x faster than promptfoo; at 100 ms latency it is at least 2.5x
faster than promptfoo and within 1.5 s of the bare SDK loop. Exit status 1 when a target is
missed. Also checked: all three get the same number of correct answers.

Setup once (promptfoo from the npm registry; then it runs offline):
    npm install --prefix benchmarks/.peers/promptfoo promptfoo@0.121.20
    .venv/bin/python benchmarks/eval_vs_promptfoo.py [--cases 1000] [--repeats 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _eval_bench import (
    MODEL,
    ROOT,
    SYSTEM,
    VENV_BIN,
    LocalServer,
    eval_command,
    response_format,
    write_project,
)

PROMPTFOO_DIR = ROOT / "benchmarks" / ".peers" / "promptfoo"
PROMPTFOO_VERSION = "0.121.20"
SEED = 20240611
ZERO_LATENCY_MIN_RATIO = 2.0
SLOW_MIN_RATIO = 2.5
SLOW_MAX_GAP_S = 1.5

BARE_SDK = """\
import asyncio, json, sys
from openai import AsyncOpenAI

async def main(base_url, cases_path, concurrency, system, response_format):
    cases = [json.loads(line) for line in open(cases_path, encoding="utf-8")]
    cases = [c for c in cases if c["split"] == "test"]
    client = AsyncOpenAI(base_url=base_url, api_key="dummy", max_retries=0)
    gate = asyncio.Semaphore(concurrency)

    async def one(case):
        async with gate:
            response = await client.chat.completions.create(
                model="{model}",
                messages=[
                    {{"role": "system", "content": system}},
                    {{"role": "user", "content": case["input"]["message"]}},
                ],
                temperature=0,
                max_tokens=5,
                response_format=response_format,
            )
        return json.loads(response.choices[0].message.content)["label"] == case["expected"]

    correct = sum(await asyncio.gather(*(one(c) for c in cases)))
    await client.close()
    print(json.dumps({{"correct": correct, "n": len(cases)}}))

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], json.loads(sys.argv[5])))
"""

ASSERTION = (
    "(typeof output === 'string' ? JSON.parse(output) : output).label === context.vars.expected"
)


@dataclass
class Timing:
    tool: str
    latency_ms: float
    best_s: float
    runs_s: list[float]
    cpu_s: list[float]
    correct: int


def promptfoo_bin() -> Path:
    path = PROMPTFOO_DIR / "node_modules" / ".bin" / "promptfoo"
    if not path.exists():
        sys.exit(
            f"promptfoo is not installed in {PROMPTFOO_DIR}; set it up once with\n  npm install "
            f"--prefix {PROMPTFOO_DIR.relative_to(ROOT)} promptfoo@{PROMPTFOO_VERSION}"
        )
    return path


def write_promptfoo(root: Path, rows: list[dict[str, object]]) -> None:
    """promptfoo's config, prompt and tests for the same test cases and request body."""
    chat = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "{{message}}"}]
    (root / "prompt.json").write_text(json.dumps(chat), encoding="utf-8")
    tests = [
        {"vars": {"message": r["input"]["message"], "expected": r["expected"]}}  # type: ignore[index]
        for r in rows
        if r["split"] == "test"
    ]
    (root / "tests.yaml").write_text(json.dumps(tests), encoding="utf-8")
    config = {
        "description": "eval benchmark",
        "prompts": ["file://prompt.json"],
        "providers": [
            {
                "id": f"openai:chat:{MODEL}",
                "config": {
                    "temperature": 0,
                    "max_tokens": 5,
                    "response_format": response_format(),
                },
            }
        ],
        "tests": "file://tests.yaml",
        "defaultTest": {"assert": [{"type": "javascript", "value": ASSERTION}]},
    }
    (root / "promptfooconfig.yaml").write_text(json.dumps(config, indent=1), encoding="utf-8")


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    """Wall seconds of the whole process; its CPU seconds go to `LAST_CPU_S`."""
    cpu = _children_cpu_s()
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    LAST_CPU_S[0] = _children_cpu_s() - cpu
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command[:3])} ... exited {done.returncode}:\n{done.stderr[-3000:]}"
        )
    return elapsed, done.stdout


def run_promptops(root: Path, base_url: str, concurrency: int, out: Path) -> tuple[float, int]:
    elapsed, _ = timed(eval_command(base_url, concurrency, out), root, dict(os.environ))
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return elapsed, round(summary["metrics"]["accuracy"] * summary["n_cases"])


def promptfoo_env(base_url: str, out: Path) -> dict[str, str]:
    """promptfoo pointed at `base_url`, offline: no telemetry, sharing, updates or cache."""
    env = dict(os.environ)
    env.update(
        OPENAI_API_KEY="dummy",
        OPENAI_BASE_URL=base_url,
        OPENAI_API_BASE_URL=base_url,
        PROMPTFOO_CONFIG_DIR=str(out / "config"),
        PROMPTFOO_DISABLE_TELEMETRY="1",
        PROMPTFOO_DISABLE_UPDATE="1",
        PROMPTFOO_DISABLE_SHARING="1",
        PROMPTFOO_CACHE_ENABLED="false",
        PROMPTFOO_DISABLE_REMOTE_GENERATION="true",
        PROMPTFOO_FAILED_TEST_EXIT_CODE="0",  # about 15% of the cases fail by design
        NO_COLOR="1",
    )
    return env


def promptfoo_command(concurrency: int, out: Path) -> list[str]:
    return [
        str(promptfoo_bin()),
        "eval",
        "-c",
        "promptfooconfig.yaml",
        "--max-concurrency",
        str(concurrency),
        "--no-cache",
        "--no-table",
        "--no-progress-bar",
        "--no-share",
        "-o",
        str(out / "results.json"),
    ]


def run_promptfoo(root: Path, base_url: str, concurrency: int, out: Path) -> tuple[float, int]:
    elapsed, _ = timed(promptfoo_command(concurrency, out), root, promptfoo_env(base_url, out))
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    return elapsed, int(results["results"]["stats"]["successes"])


def run_bare(root: Path, base_url: str, concurrency: int, out: Path) -> tuple[float, int]:
    script = root / "bare_sdk.py"
    script.write_text(BARE_SDK.format(model=MODEL), encoding="utf-8")
    elapsed, stdout = timed(
        [
            str(VENV_BIN / "python"),
            str(script),
            base_url,
            str(root / "evalsets" / "bench.jsonl"),
            str(concurrency),
            SYSTEM,
            json.dumps(response_format()),
        ],
        root,
        dict(os.environ),
    )
    return elapsed, int(json.loads(stdout.strip().splitlines()[-1])["correct"])


LAST_CPU_S = [0.0]
CONTENDERS = {"promptops": run_promptops, "promptfoo": run_promptfoo, "bare_sdk": run_bare}


def measure(
    root: Path, latency_ms: float, concurrency: int, repeats: int, tools: list[str]
) -> list[Timing]:
    timings: dict[str, Timing] = {}
    with LocalServer(latency_ms) as server:
        for i in range(repeats):  # interleaved, so a load spike hits every contender alike
            for tool in tools:
                out = root / f"out-{tool}-{latency_ms:g}-{i}"
                elapsed, correct = CONTENDERS[tool](root, server.base_url, concurrency, out)
                t = timings.setdefault(tool, Timing(tool, latency_ms, elapsed, [], [], correct))
                t.runs_s.append(round(elapsed, 3))
                t.cpu_s.append(round(LAST_CPU_S[0], 3))
                t.best_s = round(min(t.runs_s), 3)
                if correct != t.correct:
                    raise RuntimeError(f"{tool}: {correct} correct, before {t.correct}")
    return list(timings.values())


def verdicts(timings: list[Timing]) -> list[tuple[bool, str]]:
    best = {(t.tool, t.latency_ms): t.best_s for t in timings}
    out = []
    for latency in sorted({t.latency_ms for t in timings}):
        ours, peer, bare = (best.get((k, latency)) for k in CONTENDERS)
        if ours is None or peer is None or bare is None:
            continue
        ratio = peer / ours
        need = ZERO_LATENCY_MIN_RATIO if latency == 0 else SLOW_MIN_RATIO
        out.append(
            (
                ratio >= need,
                f"{latency:g} ms: promptfoo/promptops = {ratio:.2f}x (target >= {need:g}x)",
            )
        )
        if latency > 0:
            gap = ours - bare
            out.append(
                (
                    gap <= SLOW_MAX_GAP_S,
                    f"{latency:g} ms: promptops - bare SDK = {gap:+.2f} s "
                    f"(target <= {SLOW_MAX_GAP_S:g} s)",
                )
            )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latencies-ms", default="0,100", help="comma-separated server latencies")
    parser.add_argument("--repeats", type=int, default=3, help="runs per contender (best counts)")
    parser.add_argument("--tools", default=",".join(CONTENDERS), help="subset to run")
    parser.add_argument("--json", action="store_true", help="print the timings as JSON")
    args = parser.parse_args()
    tools = [t for t in args.tools.split(",") if t]
    unknown = sorted(set(tools) - set(CONTENDERS))
    if unknown:
        parser.error(f"unknown tools {unknown}; known: {sorted(CONTENDERS)}")
    if "promptfoo" in tools:
        promptfoo_bin()
    timings: list[Timing] = []
    with tempfile.TemporaryDirectory(prefix="promptops-eval-bench-") as tmp:
        root = Path(tmp)
        rows = write_project(root, args.cases, SEED)
        write_promptfoo(root, rows)
        for latency in (float(x) for x in args.latencies_ms.split(",")):
            timings += measure(root, latency, args.concurrency, args.repeats, tools)
    if args.json:
        print(json.dumps([asdict(t) for t in timings], indent=2))
    load = os.getloadavg()[0]
    print(
        f"\n{args.cases} cases, concurrency {args.concurrency}, best of {args.repeats}, "
        f"{os.cpu_count()} CPUs, load average {load:.1f} at the end"
    )
    print(
        f"{'latency':>8}  {'tool':<10} {'best s':>7}  {'wall s (runs)':<22} "
        f"{'CPU s (runs)':<22} {'correct':>7}"
    )
    for t in timings:
        runs = ", ".join(f"{x:.2f}" for x in t.runs_s)
        cpu = ", ".join(f"{x:.2f}" for x in t.cpu_s)
        print(
            f"{t.latency_ms:>6g}ms  {t.tool:<10} {t.best_s:>7.2f}  {runs:<22} {cpu:<22} "
            f"{t.correct:>7}"
        )
    correct = {t.correct for t in timings}
    checks = verdicts(timings)
    if len(correct) > 1:
        checks.append((False, f"the contenders disagree on the number correct: {sorted(correct)}"))
    for ok, line in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {line}")
    if not all(ok for ok, _ in checks):
        print("a target was missed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
