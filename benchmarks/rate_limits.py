"""`promptops eval` against a provider that enforces a rate limit, beside promptfoo.

The local OpenAI-compatible server (`promptops.testing.openai_server`, its own process)
enforces a token bucket of R requests a second with a burst of 5, as hosted providers do:
beyond it a 429 whose `retry-after-ms` is the time until the next token. With `headers` it
also sends OpenAI's `x-ratelimit-*` headers on every answer; without, only the 429s tell.
`halved` halves the limit once 500 answers have gone out. Every figure is the server's own
count (`GET /_limits`):

- lost: cases without an answer at the end (promptops: errors in summary.json);
- achieved: answers per second from the first request to the last answer, over the limit
  (for `halved`, the ideal time at the changing limit over the actual time);
- 429 share: refused requests over all requests.

Targets: 0 lost, achieved >= 0.90 and 429 share < 0.10 in every setting. promptfoo runs
with the same concurrency on the same server, stopped after `--promptfoo-cap` seconds if it
has not finished (its answered count is then what the server admitted).

Setup once (promptfoo from the npm registry; then it runs offline):
    npm install --prefix benchmarks/.peers/promptfoo promptfoo@0.121.20
    .venv/bin/python benchmarks/rate_limits.py [--cases 1000] [--promptfoo-cap 120] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _eval_bench import LocalServer, eval_command, write_project
from eval_vs_promptfoo import promptfoo_bin, promptfoo_command, promptfoo_env, write_promptfoo

SEED = 20261207
HALVE_AFTER = 500
MIN_ACHIEVED = 0.90
MAX_429_SHARE = 0.10


@dataclass(frozen=True)
class Setting:
    rps: float
    concurrency: int
    headers: bool
    halved: bool = False

    def server_args(self) -> tuple[str, ...]:
        args = ["--rps", f"{self.rps:g}", "--burst", "5"]
        if not self.headers:
            args.append("--no-limit-headers")
        if self.halved:
            args += ["--halve-after", str(HALVE_AFTER)]
        return tuple(args)

    def ideal_s(self, answered: int) -> float:
        if not self.halved or answered <= HALVE_AFTER:
            return answered / self.rps
        return HALVE_AFTER / self.rps + (answered - HALVE_AFTER) / (self.rps / 2)


@dataclass
class Row:
    tool: str
    rps: float
    concurrency: int
    headers: bool
    halved: bool
    cases: int
    answered: int
    lost: int
    wall_s: float
    achieved: float
    share_429: float
    requests: int
    finished: bool


def limits_report(base_url: str) -> dict[str, object]:
    url = base_url.removesuffix("/v1") + "/_limits"
    with urllib.request.urlopen(url, timeout=10) as response:  # the local server only
        report: dict[str, object] = json.loads(response.read())
    return report


def row_from(
    tool: str, setting: Setting, cases: int, lost: int, wall: float, done: bool, base: str
) -> Row:
    report = limits_report(base)
    answered = int(report["answered"])  # type: ignore[call-overload]
    refused = int(report["refused"])  # type: ignore[call-overload]
    span = float(report["span_s"])  # type: ignore[arg-type]
    requests = answered + refused
    return Row(
        tool=tool,
        rps=setting.rps,
        concurrency=setting.concurrency,
        headers=setting.headers,
        halved=setting.halved,
        cases=cases,
        answered=answered,
        lost=lost if done else cases - answered,
        wall_s=round(wall, 2),
        achieved=round(setting.ideal_s(answered) / span, 3) if span > 0 else 0.0,
        share_429=round(refused / requests, 4) if requests else 0.0,
        requests=requests,
        finished=done,
    )


def run_promptops(root: Path, setting: Setting, cases: int, out: Path) -> Row:
    with LocalServer(0.0, setting.server_args()) as server:
        started = time.perf_counter()
        subprocess.run(
            eval_command(server.base_url, setting.concurrency, out, "--max-retries", "20"),
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - started
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
        return row_from(
            "promptops", setting, cases, summary["n_errors"], wall, True, server.base_url
        )


def run_peer(root: Path, setting: Setting, cases: int, out: Path, cap_s: float) -> Row:
    """promptfoo on the same server, stopped after `cap_s` seconds if it has not finished
    (the server then says what it answered)."""
    with LocalServer(0.0, setting.server_args()) as server:
        started = time.perf_counter()
        try:
            subprocess.run(
                promptfoo_command(setting.concurrency, out),
                cwd=root,
                env=promptfoo_env(server.base_url, out),
                capture_output=True,
                text=True,
                check=False,
                timeout=cap_s,
            )
            done = (out / "results.json").exists()
        except subprocess.TimeoutExpired:
            done = False
        wall = time.perf_counter() - started
        lost = 0
        if done:
            stats = json.loads((out / "results.json").read_text(encoding="utf-8"))
            lost = int(stats["results"]["stats"].get("errors", 0))
        return row_from("promptfoo", setting, cases, lost, wall, done, server.base_url)


def settings(rates: list[float], concurrencies: list[int]) -> list[Setting]:
    grid = [Setting(r, c, h) for r in rates for c in concurrencies for h in (True, False)]
    middle = rates[len(rates) // 2]
    grid += [Setting(middle, c, h, halved=True) for c in concurrencies for h in (True, False)]
    return grid


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--rates", default="20,40,100")
    parser.add_argument("--concurrency", default="8,64")
    parser.add_argument("--promptfoo-cap", type=float, default=120.0)
    parser.add_argument(
        "--promptfoo", default="all", help="'all', 'none', or settings as RPS:C[:h|n][:halved]"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    grid = settings(
        [float(x) for x in args.rates.split(",")], [int(x) for x in args.concurrency.split(",")]
    )
    peers = _peer_settings(args.promptfoo, grid)
    if peers:
        promptfoo_bin()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="promptops-rl-") as tmp:
        root = Path(tmp)
        rows_in = write_project(root, args.cases, SEED)
        write_promptfoo(root, rows_in)
        for i, setting in enumerate(grid):
            rows.append(run_promptops(root, setting, args.cases, root / f"po-{i}"))
            _print_row(rows[-1])
            if setting in peers:
                rows.append(
                    run_peer(root, setting, args.cases, root / f"pf-{i}", args.promptfoo_cap)
                )
                _print_row(rows[-1])
    ours = [r for r in rows if r.tool == "promptops"]
    met = all(
        r.lost == 0 and r.achieved >= MIN_ACHIEVED and r.share_429 < MAX_429_SHARE for r in ours
    )
    if args.json:
        print(json.dumps({"rows": [asdict(r) for r in rows], "targets_met": met}, indent=1))
    print(
        f"targets (0 lost, achieved >= {MIN_ACHIEVED}, 429s < {MAX_429_SHARE}): "
        f"{'met' if met else 'NOT met'}"
    )
    return 0 if met else 1


def _peer_settings(spec: str, grid: list[Setting]) -> set[Setting]:
    if spec == "all":
        return set(grid)
    if spec == "none":
        return set()
    chosen = set()
    for item in spec.split(","):
        parts = item.split(":")
        rps, conc = float(parts[0]), int(parts[1])
        headers = len(parts) < 3 or parts[2] != "n"
        halved = len(parts) > 3 and parts[3] == "halved"
        chosen.add(Setting(rps, conc, headers, halved))
    return chosen


def _print_row(r: Row) -> None:
    headers = "yes" if r.headers else "no "
    halved = "halved " if r.halved else " " * 7
    print(
        f"{r.tool:9s} {r.rps:5g} rps  c={r.concurrency:<3d} headers={headers} {halved}"
        f"answered {r.answered:5d}/{r.cases}  lost {r.lost:4d}  "
        f"achieved {r.achieved:5.2f}  429s {r.share_429:6.1%}  wall {r.wall_s:6.1f}s"
        f"{'' if r.finished else '  (stopped at the cap)'}",
        flush=True,
    )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
