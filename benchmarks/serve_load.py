"""`promptops serve` under open-loop (constant-rate) load: latency percentiles and error rate.

Requests are scheduled at fixed times (`t0 + i / rate`) whatever the server does, and each
latency is measured from its *scheduled* send time, so a stalled server shows up in the tail
instead of slowing the generator down (the coordinated omission a closed loop such as wrk or
Locust's default users hides). The first `--warmup` seconds are excluded.

Setups: the fake OpenAI upstream (`promptops.testing.openai_server`, its own process) with
50 ms latency and 0% or 10% injected 500/503 answers, served by 1 or 2 uvicorn workers; and
the embedded SmolLM2 model (1 worker, a low rate: one CPU inference is ~0.9 s). The machine
has 2 cores shared by the generator, the upstream and the workers: read the 1-vs-2-worker
rows as what a second process buys *here*, not in general.

    python benchmarks/serve_load.py [--rates 50,100] [--duration 15] [--embedded-rate 0.5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
PROMPT = """\
name: bench_router
version: 1.0.0
task: classification
labels: [refund, delivery, password]
model: {temperature: 0, max_tokens: 5}
variables:
  message: {type: string, max_chars: 2000}
messages:
  - role: system
    content: "Pick one of {{ labels | join(', ') }}."
  - role: user
    content: "{{ message }}"
"""


@dataclass
class Row:
    upstream: str
    faults: str
    workers: int
    rate: float
    sent: int
    send_lag_p99_ms: float  # how late the generator itself sent (its own stalls)
    p50_ms: float
    p95_ms: float
    p99_ms: float
    error_rate: float


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def env() -> dict[str, str]:
    out = dict(os.environ)
    out["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), out.get("PYTHONPATH")]))
    return out


def start_upstream(fault_rate: float) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cmd = [sys.executable, "-m", "promptops.testing.openai_server", "--port", str(port)]
    cmd += ["--latency-ms", "50", "--fault-rate", str(fault_rate), "--fault-kinds", "500,503"]
    proc = subprocess.Popen(cmd, env=env(), stdout=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.readline()  # the base URL, printed once listening
    return proc, f"http://127.0.0.1:{port}/v1"


def start_serve(
    cwd: Path, prompt: str, workers: int, base_url: str | None, concurrency: int
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cmd = [sys.executable, "-m", "promptops", "serve", prompt, "--port", str(port)]
    cmd += ["--workers", str(workers), "--timeout", "30", "--concurrency", str(concurrency)]
    if base_url is not None:
        cmd += ["--base-url", base_url, "--model", "fake-model"]
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    ready = 0
    while ready < 2 * workers + 3:  # several ready answers in a row: every worker warmed up
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"serve did not become ready ({' '.join(cmd)})")
        try:
            ok = httpx2.get(f"{url}/readyz", timeout=2).status_code == 200
        except httpx2.TransportError:
            ok = False
        ready = ready + 1 if ok else 0
        time.sleep(0.2)
    return proc, url


class RawClient:
    """Keep-alive HTTP/1.1 POSTs on bare asyncio streams, a new connection whenever none is
    idle. The generator must cost far less per request than the server it measures (an
    httpx client fell behind its own schedule at 150 req/s here); its lag is reported."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def post(self, path: str, body: bytes) -> int | None:
        """The response status, or None when the exchange failed. A kept-alive connection
        the server closed while idle (uvicorn's 5 s keep-alive) is replaced, once."""
        while self.idle:
            reader, writer = self.idle.pop()
            status = await self._exchange(reader, writer, path, body)
            if status is not None:
                return status
        try:
            reader, writer = await asyncio.open_connection(self.host, self.port)
        except OSError:
            return None
        return await self._exchange(reader, writer, path, body)

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str, body: bytes
    ) -> int | None:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        try:
            writer.write(head.encode() + body)
            await writer.drain()
            status = int((await reader.readline()).split()[1])
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
            writer.close()
            return None
        self.idle.append((reader, writer))
        return status

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()


async def open_loop(
    url: str, rate: float, duration: float, warmup: float
) -> tuple[list[float | None], list[float]]:
    """Latency (s, from the scheduled send time) of each request after the warm-up, None for
    an error (non-200 or transport failure); and how late each was actually sent."""
    loop = asyncio.get_running_loop()
    host, port = url.removeprefix("http://").split(":")
    client = RawClient(host, int(port))
    lags: list[float] = []

    async def one(i: int, scheduled: float) -> float | None:
        lags.append(loop.time() - scheduled)
        body = json.dumps({"inputs": {"message": f"refund: order {i} for my lamp"}}).encode()
        status = await client.post("/v1/predict", body)
        return loop.time() - scheduled if status == 200 else None

    n = int(rate * (warmup + duration))
    t0 = loop.time() + 0.1
    tasks = []
    for i in range(n):
        scheduled = t0 + i / rate
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append((scheduled, asyncio.create_task(one(i, scheduled))))
    results = [(s, await t) for s, t in tasks]
    client.close()
    return [lat for s, lat in results if s >= t0 + warmup], lags


def measure(
    upstream: str,
    faults: str,
    workers: int,
    url: str,
    rate: float,
    duration: float,
    args: argparse.Namespace,
) -> Row:
    lat, lags = asyncio.run(open_loop(url, rate, duration, args.warmup))
    ok = np.array([x for x in lat if x is not None]) * 1000
    pct = np.percentile(ok, [50, 95, 99]) if len(ok) else np.full(3, np.nan)
    return Row(
        upstream,
        faults,
        workers,
        rate,
        len(lat),
        round(float(np.percentile(lags, 99)) * 1000, 1),
        *(round(float(p), 1) for p in pct),
        round(1 - len(ok) / max(len(lat), 1), 4),
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="50,100")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--faults", default="0,0.1")
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--embedded-rate", type=float, default=0.5, help="0 skips it")
    parser.add_argument("--embedded-duration", type=float, default=40.0)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=64,
        help="serve --concurrency: upstream calls in flight per worker (the profile's 8 caps "
        "one worker near 8 / 55 ms = 145 req/s)",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "prompts").mkdir()
        (root / "prompts" / "bench_router.yaml").write_text(PROMPT, encoding="utf-8")
        for fault_rate in (float(x) for x in args.faults.split(",")):
            upstream, base_url = start_upstream(fault_rate)
            try:
                for workers in (int(x) for x in args.workers.split(",")):
                    serve, url = start_serve(
                        root, "bench_router", workers, base_url, args.concurrency
                    )
                    try:
                        for rate in (float(x) for x in args.rates.split(",")):
                            rows.append(
                                measure(
                                    "fake 50 ms",
                                    f"{fault_rate:.0%} 5xx",
                                    workers,
                                    url,
                                    rate,
                                    args.duration,
                                    args,
                                )
                            )
                            print(rows[-1], file=sys.stderr, flush=True)
                    finally:
                        stop(serve)
            finally:
                stop(upstream)
    if args.embedded_rate > 0:
        serve, url = start_serve(REPO, "classify_intent", 1, None, 8)
        try:
            rows.append(
                measure(
                    "embedded SmolLM2",
                    "none",
                    1,
                    url,
                    args.embedded_rate,
                    args.embedded_duration,
                    args,
                )
            )
        finally:
            stop(serve)
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=2))
        return
    print(
        "| upstream | faults | workers | rate (req/s) | requests | send lag p99 ms "
        "| p50 ms | p95 ms | p99 ms | error rate |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r.upstream} | {r.faults} | {r.workers} | {r.rate:g} | {r.sent} | "
            f"{r.send_lag_p99_ms:g} | {r.p50_ms:g} | {r.p95_ms:g} | {r.p99_ms:g} | "
            f"{r.error_rate:.2%} |"
        )


if __name__ == "__main__":
    main()
