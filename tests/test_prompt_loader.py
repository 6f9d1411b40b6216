"""Prompt files: the documented form loads exactly; a bad file names file, line and field."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from promptops.errors import PromptFileError, UserInputError
from promptops.prompts import PromptStore, diff_prompts, load_prompt, resolve_prompt

FIXTURES = Path(__file__).parent / "fixtures" / "prompts"

GOOD = """\
name: demo
version: 1.2.0
task: classification
labels: [positive, negative]
model:
  temperature: 0
  max_tokens: 5
variables:
  text: {type: string, max_chars: 50}
messages:
  - role: system
    content: "Answer {{ labels | join('/') }}."
  - role: user
    content: "{{ text }}"
"""


def write(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_issue_form_loads_exactly_as_written() -> None:
    prompt = load_prompt(FIXTURES / "issue_form.yaml")
    assert prompt.identity == "classify_intent@1.0.0"
    assert prompt.description == "Routes a support message to one intent"
    assert prompt.task == "classification"
    assert prompt.labels == ("billing", "technical", "general", "escalate")
    assert prompt.model.temperature == 0
    assert prompt.model.max_tokens == 10
    assert [m.role for m in prompt.messages] == ["system", "user"]
    assert prompt.messages[1].content == "{{ message }}"
    assert len(prompt.content_hash) == 64


def test_hash_covers_content_not_name_or_version(tmp_path: Path) -> None:
    a = load_prompt(write(tmp_path, GOOD, "a.yaml"))
    b = load_prompt(write(tmp_path, GOOD.replace("1.2.0", "1.3.0"), "b.yaml"))
    c = load_prompt(write(tmp_path, GOOD.replace("max_tokens: 5", "max_tokens: 6"), "c.yaml"))
    assert a.content_hash == b.content_hash
    assert a.content_hash != c.content_hash


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        (GOOD.replace("  max_tokens: 5", "  max_tokens: [5"), None, "YAML syntax"),
        (
            GOOD.replace("  max_tokens: 5", "  max_tokens: 5\n  temprature: 1"),
            8,
            "model.temprature: unknown key",
        ),
        (GOOD.replace("temperature: 0", "temperature: hot"), 6, "model.temperature"),
        (
            GOOD.replace("[positive, negative]", "[positive, negative, positive]"),
            4,
            "duplicate labels: positive",
        ),
        (GOOD.replace("{{ text }}", "{{ txet }}"), None, "undeclared variable(s): txet"),
        (GOOD.replace("version: 1.2.0", "version: one"), 2, "not a semantic version"),
        (
            GOOD.replace("  max_tokens: 5", "  max_tokens: 5\n  max_tokens: 6"),
            8,
            "duplicate key 'max_tokens'",
        ),
        (GOOD.replace("{{ text }}", "{{ text "), None, "template syntax"),
        (GOOD.replace("role: user", "role: robot"), 13, "messages.1.role"),
        (GOOD.replace("labels: [positive, negative]\n", ""), None, "at least two labels"),
    ],
)
def test_bad_files_name_file_line_and_reason(
    tmp_path: Path, text: str, line: int | None, needle: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(PromptFileError) as info:
        load_prompt(path)
    message = str(info.value)
    assert str(path) in message
    assert needle in message
    if line is not None:
        assert f"{path}:{line}" in message


def test_yaml_syntax_error_points_at_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("  max_tokens: 5", "  max_tokens: [5"))
    with pytest.raises(PromptFileError) as info:
        load_prompt(path)
    assert info.value.where is not None
    assert info.value.where.startswith(f"{path}:")
    assert int(info.value.where.rsplit(":", 1)[1]) >= 7


def test_several_problems_are_all_reported(tmp_path: Path) -> None:
    text = GOOD.replace("temperature: 0", "temperature: hot").replace(
        "[positive, negative]", "[positive, positive]"
    )
    with pytest.raises(PromptFileError) as info:
        load_prompt(write(tmp_path, text))
    assert "2 problems" in str(info.value)


def test_yaml_booleans_as_labels_get_a_hint(tmp_path: Path) -> None:
    with pytest.raises(PromptFileError, match="quote the value"):
        load_prompt(write(tmp_path, GOOD.replace("[positive, negative]", "[yes, no]")))


def test_declared_but_unused_variable_is_an_error(tmp_path: Path) -> None:
    text = GOOD.replace(
        "  text: {type: string, max_chars: 50}", "  text: {type: string}\n  extra: {}"
    )
    with pytest.raises(PromptFileError, match="declared but unused: extra"):
        load_prompt(write(tmp_path, text))


def test_example_outputs_must_be_labels(tmp_path: Path) -> None:
    text = GOOD + "examples:\n  - input: {text: hi}\n    output: maybe\n"
    with pytest.raises(PromptFileError, match="not labels"):
        load_prompt(write(tmp_path, text))


def test_store_resolves_latest_version_and_exact_versions(tmp_path: Path) -> None:
    write(tmp_path, GOOD, "a.yaml")
    write(
        tmp_path,
        GOOD.replace("1.2.0", "1.10.0").replace("max_tokens: 5", "max_tokens: 7"),
        "b.yaml",
    )
    store = PromptStore.scan(tmp_path)
    assert store.get("demo").version == "1.10.0"
    assert store.get("demo@1.2.0").model.max_tokens == 5
    with pytest.raises(UserInputError, match=re.escape("have: 1.2.0, 1.10.0")):
        store.get("demo@9.9.9")
    with pytest.raises(UserInputError, match="known: demo"):
        store.get("other")


def test_store_reports_duplicate_identity(tmp_path: Path) -> None:
    write(tmp_path, GOOD, "a.yaml")
    write(tmp_path, GOOD, "b.yaml")
    store = PromptStore.scan(tmp_path)
    assert len(store.prompts) == 1
    assert "also defined in" in str(store.errors[0])


def test_diff_shows_changed_parameters_and_messages(tmp_path: Path) -> None:
    a = load_prompt(write(tmp_path, GOOD, "a.yaml"))
    b = load_prompt(
        write(
            tmp_path,
            GOOD.replace("max_tokens: 5", "max_tokens: 8").replace("Answer", "Reply"),
            "b.yaml",
        )
    )
    text = diff_prompts(a, b)
    assert "-model.max_tokens: 5" in text
    assert "+model.max_tokens: 8" in text
    assert "+  | Reply {{ labels | join('/') }}." in text
    assert diff_prompts(a, a) == ""


def test_resolve_prompt_accepts_paths(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    assert resolve_prompt(str(path)).name == "demo"
    with pytest.raises(UserInputError, match="not found"):
        resolve_prompt(str(tmp_path / "missing.yaml"))


def test_cli_bad_file_exits_2_without_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("temperature: 0", "temperature: hot"))
    proc = subprocess.run(
        [sys.executable, "-m", "promptops", "prompts", "show", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert f"{path}:6" in proc.stderr
    assert "model.temperature" in proc.stderr
