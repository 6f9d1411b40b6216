"""A lean core: importing promptops, `--help` and an HTTP eval never load the model stack.

Each check runs in a fresh interpreter, since this test process has long imported torch
through other tests; what counts is `sys.modules` in the child once the work is done.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from _eval_util import make_project
from promptops.testing import FakeOpenAIServer

HEAVY = ("torch", "transformers", "sentence_transformers", "faiss")

# Runs the CLI in-process with the given arguments, then prints which heavy modules it loaded.
CLI_DRIVER = """
import json, sys
from promptops.cli import main
args, watched = json.loads(sys.argv[1]), json.loads(sys.argv[2])
sys.argv = ["promptops", *args]
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code
heavy = sorted(name for name in watched if name in sys.modules)
print("LEAN " + json.dumps({"code": code, "heavy": heavy}))
"""


def child(code: str, *args: str, cwd: Path | None = None) -> dict[str, object]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("LEAN ")]
    assert lines, f"no result from the child (rc {done.returncode}):\n{done.stderr[-3000:]}"
    result: dict[str, object] = json.loads(lines[-1].removeprefix("LEAN "))
    return result


def run_cli(args: list[str], cwd: Path | None = None) -> dict[str, object]:
    return child(CLI_DRIVER, json.dumps(args), json.dumps(HEAVY), cwd=cwd)


def test_import_promptops_loads_no_model_stack() -> None:
    code = (
        "import json, sys, promptops\n"
        f"print('LEAN ' + json.dumps({{'heavy': [n for n in {HEAVY!r} if n in sys.modules]}}))"
    )
    assert child(code) == {"heavy": []}


def test_help_loads_no_model_stack() -> None:
    assert run_cli(["--help"]) == {"code": 0, "heavy": []}


def test_http_eval_with_plain_baselines_loads_no_model_stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The suite's baselines are majority and tfidf_lr; the endpoint is an HTTP server."""
    make_project(tmp_path)
    monkeypatch.setenv("PROMPTOPS_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "run"
    with FakeOpenAIServer() as server:
        args = ["eval", "router", "--base-url", server.base_url, "--model", "fake-model"]
        result = run_cli([*args, "--out", str(out)], cwd=tmp_path)
        sent = len(server.requests)
    assert result == {"code": 0, "heavy": []}
    assert sent == 30  # the eval really ran against the server
    summary = json.loads((out / "summary.json").read_text())
    assert {b["name"] for b in summary["baselines"]} == {"majority", "tfidf_lr"}
