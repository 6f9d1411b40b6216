"""Prompts as code: versioned YAML files loaded into typed, hashed objects and rendered safely."""

from __future__ import annotations

from promptops.prompts.diff import canonical_lines, diff_prompts
from promptops.prompts.loader import load_prompt
from promptops.prompts.model import Calibration, Example, Message, ModelParams, Prompt, Variable
from promptops.prompts.render import (
    build_request,
    check_variables,
    declared_variables,
    render_messages,
)
from promptops.prompts.store import PromptStore, prompts_dir, resolve_prompt

__all__ = [
    "Calibration",
    "Example",
    "Message",
    "ModelParams",
    "Prompt",
    "PromptStore",
    "Variable",
    "build_request",
    "canonical_lines",
    "check_variables",
    "declared_variables",
    "diff_prompts",
    "load_prompt",
    "prompts_dir",
    "render_messages",
    "resolve_prompt",
]
