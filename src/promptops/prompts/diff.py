"""A readable diff of two prompts: parameters, labels, variables, examples and messages.

Both prompts are written out in one canonical, line-oriented form and compared with difflib,
so the same diff appears in the terminal, in `compare` reports and in CI summaries.
"""

from __future__ import annotations

import difflib
import json

from promptops.prompts.model import Prompt


def canonical_lines(prompt: Prompt) -> list[str]:
    lines = [
        f"task: {prompt.task}",
        f"content_hash: {prompt.short_hash}",
    ]
    for key, value in prompt.model.model_dump(mode="json").items():
        if value is not None:
            lines.append(f"model.{key}: {json.dumps(value)}")
    if prompt.labels:
        lines.append("labels:")
        lines.extend(f"  - {label}" for label in prompt.labels)
    if prompt.positive_label is not None:
        lines.append(f"positive_label: {prompt.positive_label}")
    if prompt.score_range is not None:
        lines.append(f"range: {json.dumps(list(prompt.score_range))}")
    if prompt.variables:
        for name, spec in sorted(prompt.variables.items()):
            fields = {k: v for k, v in spec.model_dump(mode="json").items() if v is not None}
            lines.append(f"variable.{name}: {json.dumps(fields, sort_keys=True)}")
    if prompt.calibration:
        lines.append(f"calibration: {json.dumps(prompt.calibration.model_dump(mode='json'))}")
    if prompt.input_filter:
        lines.append(f"input_filter: {json.dumps(prompt.input_filter.model_dump(mode='json'))}")
    if prompt.output_schema:
        lines.append("output_schema:")
        lines.extend(
            "  " + line
            for line in json.dumps(prompt.output_schema, indent=2, sort_keys=True).splitlines()
        )
    for i, example in enumerate(prompt.examples):
        lines.append(
            f"example[{i}]: {json.dumps(example.input, sort_keys=True)} -> {example.output}"
        )
    for i, message in enumerate(prompt.messages):
        lines.append(f"message[{i}] ({message.role}):")
        lines.extend(f"  | {line}" for line in message.content.splitlines() or [""])
    return lines


def diff_prompts(a: Prompt, b: Prompt, context: int = 3) -> str:
    """Unified diff from `a` to `b`; empty when their content is identical."""
    if a.content_hash == b.content_hash:
        return ""
    return "\n".join(
        difflib.unified_diff(
            canonical_lines(a),
            canonical_lines(b),
            fromfile=f"{a.identity} ({a.source or 'memory'})",
            tofile=f"{b.identity} ({b.source or 'memory'})",
            n=context,
            lineterm="",
        )
    )
