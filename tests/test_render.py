"""Rendering: strict about variables, literal about values, one request builder everywhere."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptops.errors import RenderError
from promptops.prompts import Prompt, build_request, render_messages


def make_prompt(**overrides: object) -> Prompt:
    data: dict[str, object] = {
        "name": "demo",
        "version": "1.0.0",
        "task": "classification",
        "labels": ["alpha", "beta"],
        "model": {"temperature": 0.2, "max_tokens": 4},
        "messages": [
            {"role": "system", "content": "Pick one of {{ labels | join(', ') }}."},
            {"role": "user", "content": "Text: {{ text }}"},
        ],
    }
    data.update(overrides)
    return Prompt.model_validate(data)


def test_missing_variable_is_named() -> None:
    with pytest.raises(RenderError, match="missing variable\\(s\\): text"):
        render_messages(make_prompt(), {})


def test_unused_input_variable_is_reported() -> None:
    with pytest.raises(RenderError, match="not used by the prompt: txt"):
        render_messages(make_prompt(), {"text": "a", "txt": "b"})


def test_oversize_input_is_refused() -> None:
    prompt = make_prompt(variables={"text": {"max_chars": 5}})
    with pytest.raises(RenderError, match="6 characters, over the declared limit of 5"):
        render_messages(prompt, {"text": "abcdef"})


def test_typed_variables_are_coerced_or_refused() -> None:
    prompt = make_prompt(
        variables={"text": {}, "n": {"type": "integer"}},
        messages=[{"role": "user", "content": "{{ text }} x{{ n + 1 }}"}],
    )
    assert render_messages(prompt, {"text": "a", "n": "2"})[-1] == ("user", "a x3")
    with pytest.raises(RenderError, match="expected integer"):
        render_messages(prompt, {"text": "a", "n": "two"})


def test_few_shot_examples_render_as_turns_before_the_input() -> None:
    prompt = make_prompt(examples=[{"input": {"text": "one"}, "output": "alpha"}])
    messages = render_messages(prompt, {"text": "two"})
    assert messages == [
        ("system", "Pick one of alpha, beta."),
        ("user", "Text: one"),
        ("assistant", "alpha"),
        ("user", "Text: two"),
    ]


def test_sandbox_blocks_unsafe_attribute_access() -> None:
    prompt = make_prompt(
        messages=[{"role": "user", "content": "{{ text.__class__.__mro__[1].__subclasses__() }}"}]
    )
    with pytest.raises(RenderError):
        render_messages(prompt, {"text": "x"})


def test_build_request_carries_parameters_and_labels() -> None:
    req = build_request(make_prompt(), {"text": "hi"}, sample_index=3)
    assert req.labels == ("alpha", "beta")
    assert req.temperature == 0.2
    assert req.max_tokens == 4
    assert req.sample_index == 3
    assert req.messages[-1] == ("user", "Text: hi")


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_values_are_inserted_literally(value: str) -> None:
    """Whatever the input (braces, Jinja syntax, unicode), it appears verbatim, never evaluated."""
    messages = render_messages(make_prompt(), {"text": value})
    assert messages[-1] == ("user", f"Text: {value}")


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(st.from_regex(r"[a-z]{1,8}", fullmatch=True), st.text(max_size=20), max_size=4)
)
def test_rendering_fails_exactly_when_inputs_differ_from_the_variables(
    values: dict[str, str],
) -> None:
    if set(values) == {"text"}:
        assert render_messages(make_prompt(), values)[-1][1] == f"Text: {values['text']}"
    else:
        with pytest.raises(RenderError):
            render_messages(make_prompt(), values)
