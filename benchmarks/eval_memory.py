"""Peak memory of `promptops eval` with 1,000 and with 100,000 cases.

Results stream to `results.jsonl` as they land and the summary reads them back once into
compact columns, so a run 100x larger should not need materially more memory. Each size runs
the generated benchmark project (see `_eval_bench.py`: `baselines: [majority]`) against the
local server at zero latency in its own process, with `--no-cache`; the peak resident set of
the `promptops eval` process (its own `wait4` rusage, not the server's) is reported.

Target: the largest run's peak is at most TOLERANCE times the smallest run's.

    .venv/bin/python benchmarks/eval_memory.py [--sizes 1000,100000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _eval_bench import LocalServer, eval_command, write_project

SEED = 20240611
TOLERANCE = 1.25


def peak_rss_mb(size: int, concurrency: int) -> tuple[float, float]:
    """(peak RSS in MiB, wall seconds) of one `promptops eval` over `size` test cases."""
    with tempfile.TemporaryDirectory(prefix="promptops-eval-mem-") as tmp:
        root = Path(tmp)
        write_project(root, size, SEED)
        with LocalServer(0.0) as server:
            command = eval_command(server.base_url, concurrency, root / "run")
            started = time.perf_counter()
            child = subprocess.Popen(
                command, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
            )
            assert child.stderr is not None
            tail = child.stderr.read()[-3000:]
            _, status, usage = os.wait4(child.pid, 0)
            elapsed = time.perf_counter() - started
            child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            raise RuntimeError(f"promptops eval exited {child.returncode}:\n{tail}")
        summary = json.loads((root / "run" / "summary.json").read_text(encoding="utf-8"))
        if summary["n_cases"] != size:
            raise RuntimeError(f"the summary counts {summary['n_cases']} cases, not {size}")
    return usage.ru_maxrss / 1024, elapsed  # ru_maxrss is in KiB on Linux


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,100000", help="comma-separated case counts")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sizes = sorted(int(x) for x in args.sizes.split(","))
    rows = []
    for size in sizes:
        peak, elapsed = peak_rss_mb(size, args.concurrency)
        rows.append({"cases": size, "peak_rss_mib": round(peak, 1), "wall_s": round(elapsed, 1)})
        print(f"{size:>8} cases: peak RSS {peak:7.1f} MiB, {elapsed:7.1f} s", flush=True)
    if args.json:
        print(json.dumps(rows, indent=2))
    if len(rows) < 2:
        return 0
    ratio = rows[-1]["peak_rss_mib"] / rows[0]["peak_rss_mib"]
    ok = ratio <= TOLERANCE
    print(
        f"{'PASS' if ok else 'FAIL'}  peak at {sizes[-1]} cases is {ratio:.2f}x the peak at "
        f"{sizes[0]} (target <= {TOLERANCE:g}x)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
