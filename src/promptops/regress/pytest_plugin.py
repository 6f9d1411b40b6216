"""pytest plugin: prompt regression tests as ordinary tests, replayed offline in CI.

Registered as the `promptops` entry point in the `pytest11` group, so it is active wherever
promptops is installed. It adds one fixture and one switch:

    def test_card_arrival(prompt_runner):
        result = prompt_runner.run("classify_intent", message="Where is my new card?")
        assert result.label == "card_arrival"

    def test_intents(prompt_runner):
        report = prompt_runner.evaluate("classify_intent", CASES)
        assert report.macro_f1 >= 0.5, report.describe()

- Replay (the default): every HTTP call is answered from the module's recordings file,
  `<rootdir>/tests/recordings/<test module name>.jsonl` (ini option `promptops_recordings`
  changes the folder). No key, no network, no model. A call with no recording FAILS the
  test, naming the prompt, the case and the command that records it.
- Record: `pytest --promptops-record` (or `PROMPTOPS_RECORD=1`) sends the calls to the real
  endpoint (the prompt's profile; the embedded model by default; `--promptops-base-url`
  and `--promptops-model` point elsewhere) and writes the responses into the file, merged
  with the ones already there. Delete the file first to drop recordings no test uses.

Endpoint settings are part of what is recorded (the model name is in the request body), so
pass the same `--promptops-base-url`/`--promptops-model` when replaying as when recording.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest

if TYPE_CHECKING:
    from promptops.regress.runner import PromptRunner

RECORD_ENV = "PROMPTOPS_RECORD"
_SAVED = pytest.StashKey[list[tuple[Path, int]]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("promptops", "prompt regression tests (promptops)")
    group.addoption(
        "--promptops-record",
        action="store_true",
        default=False,
        help=f"call the real endpoint and record its responses (also: {RECORD_ENV}=1)",
    )
    group.addoption(
        "--promptops-base-url",
        default=None,
        help="OpenAI-compatible endpoint for prompt tests (default: the prompt's profile)",
    )
    group.addoption("--promptops-model", default=None, help="model name for prompt tests")
    parser.addini(
        "promptops_recordings",
        "folder of recorded responses, relative to rootdir",
        default="tests/recordings",
    )
    parser.addini("promptops_prompts", "prompts folder, relative to rootdir", default="prompts")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_SAVED] = []


def recording(config: pytest.Config) -> bool:
    """Record mode: the command-line switch, or PROMPTOPS_RECORD set to a true value."""
    env = os.environ.get(RECORD_ENV, "").strip().lower()
    return bool(config.getoption("promptops_record")) or env in {"1", "true", "yes", "on"}


def recordings_path(config: pytest.Config, module: Path) -> Path:
    return config.rootpath / str(config.getini("promptops_recordings")) / f"{module.stem}.jsonl"


def _fail(message: str) -> NoReturn:
    pytest.fail(message, pytrace=False)


@pytest.fixture(scope="module")
def prompt_runner(request: pytest.FixtureRequest) -> Iterator[PromptRunner]:
    """Runs prompts in this test module through recorded (or, when recording, live) HTTP."""
    from promptops.llm.profile import EndpointOverrides
    from promptops.regress.recording import Recordings
    from promptops.regress.runner import PromptRunner

    config = request.config
    module = Path(str(request.path))
    path = recordings_path(config, module)
    recordings = Recordings.load(path)
    record = recording(config)
    try:
        shown = module.relative_to(config.rootpath)
    except ValueError:
        shown = module
    runner = PromptRunner(
        recordings=recordings,
        mode="record" if record else "replay",
        root=config.rootpath,
        prompts_dir=config.rootpath / str(config.getini("promptops_prompts")),
        overrides=EndpointOverrides(
            base_url=config.getoption("promptops_base_url"),
            model=config.getoption("promptops_model"),
        ),
        record_hint=f"pytest {shown} --promptops-record (or {RECORD_ENV}=1)",
        on_missing=_fail,
    )
    yield runner
    if record and recordings.save():
        config.stash[_SAVED].append((path, len(recordings.entries)))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    saved = terminalreporter.config.stash.get(_SAVED, [])
    for path, count in saved:
        terminalreporter.write_line(f"promptops: wrote {count} recorded response(s) to {path}")
