"""A real `promptops serve` app under uvicorn on 127.0.0.1, in a background thread, and a
small project (prompts, suite with a train split, endpoint profiles) for it to serve."""

from __future__ import annotations

import socket
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
import uvicorn

from _eval_util import make_project
from promptops.serve import ServeConfig
from promptops.serve.app import create_app
from promptops.testing.openai_server import FakeOpenAIServer, last_user_message

LABELS = ("refund", "delivery", "password")

# `router` with declared, size-limited input and contextual calibration.
ROUTER = """\
name: router
version: 1.0.0
task: classification
labels: [refund, delivery, password]
model:
  temperature: 0
  max_tokens: 5
  profile: {profile}
variables:
  message:
    type: string
    max_chars: 200
calibration:
  method: contextual
  content_free: ["N/A", ""]
messages:
  - role: system
    content: "Pick one of {{{{ labels | join(', ') }}}}."
  - role: user
    content: "{{{{ message }}}}"
"""

CANDIDATE = ROUTER.replace("version: 1.0.0", "version: 1.1.0").replace(
    "name: router", "name: router_v2"
)


def biased_probs(body: dict[str, Any], text: str) -> dict[str, Any]:
    """Label probabilities leaning to `refund`: 0.5 on content-free input, and the label the
    message names first gets +0.15: too little to beat the lean uncalibrated, enough after
    calibration, so calibration decides some answers."""
    message = last_user_message(body).lower()
    probs = {"refund": 0.5, "delivery": 0.3, "password": 0.2}
    named = [(message.find(label), label) for label in LABELS if label in message]
    if named:
        probs[min(named)[1]] += 0.15
    total = sum(probs.values())
    return {"label_probs": {k: v / total for k, v in probs.items()}}


def make_serve_project(root: Path, fast: str, slow: str | None = None) -> Path:
    """The eval project of `_eval_util` with calibrated, size-limited prompts; `router` uses
    profile `fast` and `router_v2` profile `slow` (a second upstream, when given)."""
    make_project(root)
    (root / "prompts" / "router.yaml").write_text(ROUTER.format(profile="fast"), "utf-8")
    (root / "prompts" / "router_v2.yaml").write_text(
        CANDIDATE.format(profile="slow"), encoding="utf-8"
    )
    profiles = f"""\
    fast: {{base_url: "{fast}", model: fake-model, max_retries: 2}}
    slow: {{base_url: "{slow or fast}", model: fake-model, max_retries: 2}}
    """
    (root / "profiles.yaml").write_text(textwrap.dedent(profiles), encoding="utf-8")
    return root


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(config: ServeConfig, ready_timeout: float = 90.0) -> Iterator[str]:
    """Serve `config` with uvicorn until the block ends; yields the base URL once /readyz
    says ready."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config.model_copy(update={"port": port})),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_timeout
        while True:
            try:
                if httpx2.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("served app never became ready")
            time.sleep(0.05)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def fake_server(**kw: Any) -> FakeOpenAIServer:
    return FakeOpenAIServer(choice_extra=biased_probs, **kw)
