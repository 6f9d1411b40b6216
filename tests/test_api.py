"""The Python API: the README's example, run as written, and what each call promises."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

import promptops
from _eval_util import make_project
from promptops.cli import app
from promptops.errors import PromptFileError, UserInputError
from promptops.testing import FakeOpenAIServer

ROOT = Path(__file__).resolve().parents[1]
README_PORT = "http://127.0.0.1:8000/v1"


def readme_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- python-api-example -->\n```python\n(.*?)```", text, re.S)
    assert found, "README lost its Python API example"
    return found.group(1)


@pytest.fixture(scope="module")
def server() -> FakeOpenAIServer:
    with FakeOpenAIServer() as srv:
        yield srv


@pytest.fixture
def shipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory that sees the shipped prompts and suites, with its own cache."""
    (tmp_path / "prompts").symlink_to(ROOT / "prompts")
    (tmp_path / "evalsets").symlink_to(ROOT / "evalsets")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROMPTOPS_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def test_readme_example_runs_and_agrees_with_the_cli(
    shipped: Path, server: FakeOpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code = readme_example()
    assert README_PORT in code
    exec(compile(code.replace(README_PORT, server.base_url), "README.md", "exec"), {})
    printed = capsys.readouterr().out.splitlines()

    # The answer is the one `promptops run` gives for the same prompt and input.
    cli = CliRunner().invoke(
        app,
        [
            "run",
            "classify_intent",
            "--var",
            "message=My new card still has not arrived",
            "--base-url",
            server.base_url,
            "--model",
            "smollm2-135m-instruct",
            "--json",
        ],
    )
    assert cli.exit_code == 0, cli.output
    answer = json.loads(cli.stdout)
    assert printed[0] == f"classify_intent@1.0.0 -> {answer['label']} {answer['label_probs']}"

    # The run is `promptops eval intent`'s: its folder, summary and reports.
    folder = shipped / "reports" / "runs" / "api-example"
    saved = json.loads((folder / "summary.json").read_text())
    assert saved["n_cases"] == 240
    passed = "True" if saved["passed"] else "False"
    macro_f1 = saved["metrics"]["macro_f1"]
    assert printed[1] == f"macro-F1 {macro_f1:.3f}, passed {passed}: reports/runs/api-example"
    assert (folder / "report.md").exists() and (folder / "report.html").exists()


def test_run_suite_returns_the_typed_summary_and_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: FakeOpenAIServer
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROMPTOPS_CACHE_DIR", str(tmp_path / "cache"))
    make_project(tmp_path)
    run = promptops.run_suite("router", base_url=server.base_url, model="m", out="run")
    assert run.folder == Path("run") and run.passed and run.exit_code == 0
    assert run.summary.n_cases == 30
    assert run.summary.metrics.accuracy == pytest.approx(0.8)
    sent = len(server.requests)
    again = promptops.run_suite("router", base_url=server.base_url, model="m", out="run")
    assert len(server.requests) == sent  # resumed from the folder: nothing sent again
    assert again.summary.metrics == run.summary.metrics


def test_client_async_and_sync_give_the_same_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: FakeOpenAIServer
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROMPTOPS_CACHE_DIR", str(tmp_path / "cache"))
    make_project(tmp_path)
    client = promptops.Client(base_url=server.base_url, model="m", cache=False)
    variables = {"message": "where is my delivery"}
    sync = client.complete_sync("router", variables)

    async def both() -> tuple[str | None, str | None]:
        one_off = await client.complete(tmp_path / "prompts" / "router.yaml", variables)
        async with promptops.Client(base_url=server.base_url, model="m") as shared:
            first = await shared.complete("router", {"message": "refund please"})
            with pytest.raises(UserInputError, match="inside an event loop"):
                shared.complete_sync("router", variables)
        return one_off.label, first.label

    assert sync.ok and sync.label == "delivery"
    assert asyncio.run(both()) == ("delivery", "refund")


def test_load_prompt_by_name_version_or_path(tmp_path: Path) -> None:
    make_project(tmp_path)
    by_name = promptops.load_prompt("router@1.0.0", prompts_dir=tmp_path / "prompts")
    by_path = promptops.load_prompt(tmp_path / "prompts" / "router.yaml")
    assert by_name.content_hash == by_path.content_hash and by_name.identity == "router@1.0.0"
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nversion: 1.0.0\nmessages: []\nnope: 1\n")
    with pytest.raises(PromptFileError, match=r"bad\.yaml"):
        promptops.load_prompt(bad)
