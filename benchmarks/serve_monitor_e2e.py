"""Eval -> serve -> log -> monitor, end to end, on the shipped `intent` suite.

1. `promptops eval intent` (or `--reference RUN`, an existing run folder) is the reference.
2. `promptops serve classify_intent --log LOG --log-inputs` answers on the embedded model (or
   `--base-url`), and this script sends it two streams of traffic, one after the other:
   - like the evalset: the evalset's train-split messages (same intents and wording, texts
     the reference never saw), in a seeded order;
   - drifted: messages of only two intents (train and test split).
   Each request id names its stream, so the one log is split into two files afterwards.
3. `promptops monitor` over each file with the eval run as reference: the first must report
   no alert (exit 0), the second must alert (exit 1) on the prediction distribution.

    .venv/bin/python benchmarks/serve_monitor_e2e.py [--requests 300] [--reference RUN]
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROMPTOPS = ROOT / ".venv" / "bin" / "promptops"
EVALSET = ROOT / "evalsets" / "banking77" / "intent.jsonl"
DRIFT_INTENTS = ("card_arrival", "lost_or_stolen_card")
SEED = 15


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def streams(n: int) -> dict[str, list[str]]:
    """`like`: train-split messages; `drift`: messages of two intents only (seeded)."""
    rows = [json.loads(line) for line in EVALSET.read_text(encoding="utf-8").splitlines()]
    rng = random.Random(SEED)
    like = [r["input"]["message"] for r in rows if r["split"] == "train"]
    drift = [r["input"]["message"] for r in rows if r["expected"] in DRIFT_INTENTS]
    return {
        "like": [rng.choice(like) for _ in range(n)],
        "drift": [rng.choice(drift) for _ in range(n)],
    }


def wait_ready(base: str, process: subprocess.Popen[str], limit_s: float = 600) -> None:
    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        if process.poll() is not None:
            raise RuntimeError(f"promptops serve exited with {process.returncode}")
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1)
    raise RuntimeError("promptops serve did not become ready")


def predict(base: str, message: str, request_id: str) -> int:
    body = json.dumps({"inputs": {"message": message}, "request_id": request_id}).encode()
    request = urllib.request.Request(
        base + "/v1/predict", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def serve_and_send(work: Path, n: int, base_url: str | None) -> dict[str, Path]:
    """Serve classify_intent, send both streams, split the log by stream."""
    port = free_port()
    log = work / "serve.jsonl"
    command = [str(PROMPTOPS), "serve", "classify_intent", "--port", str(port), "--log", str(log)]
    command.append("--log-inputs")
    if base_url:
        command += ["--base-url", base_url]
    server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, server)
        for name, messages in streams(n).items():
            started = time.perf_counter()
            statuses = [predict(base, m, f"{name}-{i}") for i, m in enumerate(messages)]
            ok = sum(s == 200 for s in statuses)
            took = time.perf_counter() - started
            print(f"sent {name}: {ok}/{len(statuses)} answered in {took:.0f} s")
    finally:
        server.terminate()
        server.wait(timeout=30)
    parts = {name: work / f"{name}.jsonl" for name in ("like", "drift")}
    handles = {name: path.open("w", encoding="utf-8") for name, path in parts.items()}
    with log.open(encoding="utf-8") as source:
        for line in source:
            stream = str(json.loads(line).get("request_id", "")).split("-", 1)[0]
            if stream in handles:
                handles[stream].write(line)
    for handle in handles.values():
        handle.close()
    return parts


def monitor(log: Path, reference: Path, out: Path, window: int) -> tuple[int, str]:
    done = subprocess.run(
        [
            str(PROMPTOPS),
            "monitor",
            str(log),
            "--reference",
            str(reference),
            "--window",
            str(window),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode, done.stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="per stream")
    parser.add_argument("--reference", type=Path, help="an eval run folder of the intent suite")
    parser.add_argument("--base-url", help="an OpenAI-compatible endpoint instead of embedded")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="promptops-e2e-") as tmp:
        work = Path(tmp)
        reference = args.reference
        if reference is None:
            reference = work / "intent-run"
            command = [str(PROMPTOPS), "eval", "intent", "--out", str(reference)]
            if args.base_url:
                command += ["--base-url", args.base_url]
            subprocess.run(command, cwd=ROOT, capture_output=True, check=False)
        parts = serve_and_send(work, args.requests, args.base_url)
        like_code, like_out = monitor(parts["like"], reference, work / "m-like", args.requests)
        drift_code, drift_out = monitor(parts["drift"], reference, work / "m-drift", args.requests)
    print(f"traffic like the evalset (exit {like_code}):\n{like_out}\n")
    print(f"traffic of two intents (exit {drift_code}):\n{drift_out}")
    passed = like_code == 0 and drift_code == 1
    print("end to end:", "as expected" if passed else "NOT as expected")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
