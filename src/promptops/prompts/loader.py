"""Loading prompt files: every problem is reported with the file, the line and the field."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import jinja2
from pydantic import ValidationError

from promptops.errors import PromptFileError
from promptops.prompts.model import Prompt
from promptops.prompts.render import template_variables
from promptops.yamlio import YamlDoc, read_yaml, validation_errors


def _raise(problems: list[tuple[str, str]]) -> NoReturn:
    if len(problems) == 1:
        where, reason = problems[0]
        raise PromptFileError(reason, where=where)
    lines = "\n".join(f"  {where}: {reason}" for where, reason in problems)
    raise PromptFileError(f"{len(problems)} problems:\n{lines}", where=problems[0][0])


def _check_templates(doc: YamlDoc, prompt: Prompt) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    used: set[str] = set()
    for i, message in enumerate(prompt.messages):
        loc: tuple[str | int, ...] = ("messages", i, "content")
        try:
            used |= template_variables(message.content)
        except jinja2.TemplateSyntaxError as exc:
            problems.append(
                (doc.where(loc), f"messages[{i}].content: template syntax: {exc.message}")
            )
    if prompt.variables is not None:
        undeclared = sorted(used - set(prompt.variables))
        unused = sorted(set(prompt.variables) - used)
        if undeclared:
            problems.append(
                (
                    doc.where(("messages",)),
                    f"messages: undeclared variable(s): {', '.join(undeclared)}",
                )
            )
        if unused:
            problems.append(
                (doc.where(("variables",)), f"variables: declared but unused: {', '.join(unused)}")
            )
    names = set(prompt.variables) if prompt.variables is not None else used
    for j, example in enumerate(prompt.examples):
        keys = set(example.input)
        if keys != names:
            diff = sorted(keys ^ names)
            problems.append(
                (
                    doc.where(("examples", j, "input")),
                    f"examples[{j}].input: keys must be the prompt's variables; "
                    f"differ in: {', '.join(diff)}",
                )
            )
    return problems


def load_prompt(path: Path | str) -> Prompt:
    path = Path(path)
    doc = read_yaml(path, PromptFileError)
    if not isinstance(doc.data, dict):
        raise PromptFileError("expected a mapping (name, version, messages, ...)", where=str(path))
    try:
        prompt = Prompt.model_validate(doc.data)
    except ValidationError as exc:
        _raise(validation_errors(doc, exc))
    problems = _check_templates(doc, prompt)
    if problems:
        _raise(problems)
    prompt._source = str(path)
    return prompt
