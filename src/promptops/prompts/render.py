"""Rendering a prompt into the exact request sent: one function for eval, CI, run and serve.

Templates are Jinja2 in a sandboxed environment with StrictUndefined: a missing variable is an
error naming it, never an empty string, and a value is inserted as text, never evaluated as a
template. Inputs the prompt does not use are errors too: a typo in a variable name must not
silently produce a different prompt.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import jinja2
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment

from promptops.errors import RenderError
from promptops.llm.types import ChatRequest
from promptops.prompts.model import CONSTRAINED_TASKS, Prompt, Variable

# Names every template may use without declaring them.
BUILTINS = frozenset({"labels"})


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(
        undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True
    )


@lru_cache(maxsize=1024)
def template_variables(source: str) -> frozenset[str]:
    """Variables a template reads, less the built-ins. Raises TemplateSyntaxError."""
    ast = environment().parse(source)
    return frozenset(meta.find_undeclared_variables(ast)) - BUILTINS


@lru_cache(maxsize=1024)
def _compiled(source: str) -> jinja2.Template:
    """Templates are compiled once per process: an eval renders the same few thousands of
    times, and compiling dominated the client-side cost per case."""
    return environment().from_string(source)


def used_variables(prompt: Prompt) -> set[str]:
    names: set[str] = set()
    for message in prompt.messages:
        names |= template_variables(message.content)
    return names


def declared_variables(prompt: Prompt) -> dict[str, Variable]:
    """Declared variables, or those the templates use (as plain strings) when none are declared."""
    if prompt.variables is not None:
        return dict(prompt.variables)
    return {name: Variable() for name in sorted(used_variables(prompt))}


def _coerce(name: str, spec: Variable, value: Any) -> Any:
    try:
        if spec.type == "integer":
            return int(value)
        if spec.type == "number":
            return float(value)
        if spec.type == "boolean":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in {"true", "1", "yes"}:
                return True
            if text in {"false", "0", "no"}:
                return False
            raise ValueError(text)
    except (TypeError, ValueError) as exc:
        raise RenderError(
            f"expected {spec.type}, got {value!r}", where=f"variable {name!r}"
        ) from exc
    text = value if isinstance(value, str) else str(value)
    if spec.max_chars is not None and len(text) > spec.max_chars:
        raise RenderError(
            f"{len(text)} characters, over the declared limit of {spec.max_chars}",
            where=f"variable {name!r}",
        )
    return text


def check_variables(prompt: Prompt, values: Mapping[str, Any]) -> dict[str, Any]:
    """Validate and coerce input values: every problem is reported in one error."""
    specs = declared_variables(prompt)
    missing = sorted(
        name
        for name, spec in specs.items()
        if name not in values and (spec.required and spec.default is None)
    )
    unknown = sorted(set(values) - set(specs))
    problems = []
    if missing:
        problems.append(f"missing variable(s): {', '.join(missing)}")
    if unknown:
        problems.append(f"variable(s) not used by the prompt: {', '.join(unknown)}")
    if problems:
        raise RenderError("; ".join(problems), where=prompt.identity)
    out: dict[str, Any] = {}
    for name, spec in specs.items():
        if name in values:
            out[name] = _coerce(name, spec, values[name])
        elif spec.default is not None:
            out[name] = _coerce(name, spec, spec.default)
        else:
            out[name] = ""  # optional and absent: an explicit empty string, by declaration
    return out


def _render(source: str, context: Mapping[str, Any], where: str) -> str:
    try:
        return _compiled(source).render(**context)
    except jinja2.UndefinedError as exc:
        raise RenderError(f"undefined variable: {exc.message}", where=where) from exc
    except jinja2.TemplateError as exc:
        raise RenderError(f"template error: {exc}", where=where) from exc


def render_messages(prompt: Prompt, values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The (role, content) messages for one input, few-shot examples included.

    Examples go right before the last message, each as the last message's template rendered
    with the example's input, followed by the example's output as the assistant's turn.
    """
    context = {"labels": list(prompt.labels or ()), **check_variables(prompt, values)}
    *head, last = prompt.messages
    messages: list[tuple[str, str]] = [
        (m.role, _render(m.content, context, f"{prompt.identity}: messages[{i}]"))
        for i, m in enumerate(head)
    ]
    for j, example in enumerate(prompt.examples):
        ex_context = {"labels": context["labels"], **check_variables(prompt, example.input)}
        where = f"{prompt.identity}: examples[{j}]"
        messages.append((last.role, _render(last.content, ex_context, where)))
        messages.append(("assistant", example.output))
    where = f"{prompt.identity}: messages[{len(head)}]"
    messages.append((last.role, _render(last.content, context, where)))
    return messages


def build_request(
    prompt: Prompt, values: Mapping[str, Any], *, sample_index: int = 0
) -> ChatRequest:
    """The request for one input: the single place a prompt becomes what is sent."""
    params = prompt.model
    return ChatRequest(
        messages=tuple(render_messages(prompt, values)),
        temperature=params.temperature,
        max_tokens=params.max_tokens,
        labels=prompt.labels if prompt.task in CONSTRAINED_TASKS else None,
        top_p=params.top_p,
        stop=params.stop,
        seed=params.seed,
        sample_index=sample_index,
    )
