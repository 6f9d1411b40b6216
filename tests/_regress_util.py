"""Helpers for the compare/baseline tests: eval runs against the local fake server, a
deliberately degraded prompt, and the real `promptops` entry point with its exit codes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from promptops.lifecycle import EvalOptions, EvalOutcome, run_eval
from promptops.testing.openai_server import FakeOpenAIServer

# The fake server answers the first label named in the message. Hiding the word "password"
# makes every password case (and every case that names it first) answer "refund" or another
# label: a prompt edit that silently breaks one intent.
DEGRADED_PROMPT = """\
name: router
version: 1.1.0
task: classification
labels: [refund, delivery, password]
model:
  temperature: 0
  max_tokens: 5
messages:
  - role: system
    content: "Pick one of {{ labels | join(', ') }}."
  - role: user
    content: "{{ message | replace('password', 'pass word') }}"
"""


def degraded_prompt(root: Path) -> Path:
    """Outside prompts/, so the suite's bare `router` still resolves to version 1.0.0."""
    path = root / "variants" / "router_degraded.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(DEGRADED_PROMPT, encoding="utf-8")
    return path


def run(
    server: FakeOpenAIServer,
    out: Path,
    *,
    prompt: Path | None = None,
    evalset: Path | None = None,
    suite: str = "router",
) -> EvalOutcome:
    options = EvalOptions(
        base_url=server.base_url,
        model="fake-model",
        out=out,
        prompt=str(prompt) if prompt else None,
        evalset=evalset,
    )
    return run_eval(suite, options)


def results(out: Path) -> dict[str, dict[str, object]]:
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    return {str(r["id"]): r for r in rows if r["sample"] == 0}


def cli(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    """Run `promptops ARGS` through `main()` (the real error mapping); (exit code, out, err)."""
    from promptops.cli import main

    monkeypatch.setattr(sys, "argv", ["promptops", *args])
    code: object = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code or 0
    captured = capsys.readouterr()
    return (code if isinstance(code, int) else 1), captured.out, captured.err
