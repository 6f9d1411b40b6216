"""The request body, built from the prompt's declared variables: exactly those, typed, with
their `max_chars` as a length limit, so a wrong body is refused before any work is done and
the error names the field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, create_model

from promptops.prompts import Prompt, declared_variables
from promptops.prompts.model import Variable

REQUEST_ID = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:\-]+$")
]


def _field_type(spec: Variable) -> Any:
    if spec.type == "integer":
        return int
    if spec.type == "number":
        return float
    if spec.type == "boolean":
        return bool
    return Annotated[str, StringConstraints(max_length=spec.max_chars)]


def body_model(prompt: Prompt, variables: Mapping[str, Variable] | None = None) -> type[BaseModel]:
    """`{"inputs": {VAR: value, ...}, "request_id"?: str}` for this prompt's `variables`
    (default: all it declares; a RAG suite's retrieval fills `context`); unknown keys are
    errors at both levels."""
    fields: dict[str, Any] = {}
    served = declared_variables(prompt) if variables is None else variables
    for name, spec in served.items():
        kind = _field_type(spec)
        if spec.required and spec.default is None:
            fields[name] = (kind, Field(..., description=spec.description))
        else:
            fields[name] = (kind | None, Field(None, description=spec.description))
    strict = ConfigDict(extra="forbid", strict=True)
    inputs = create_model(f"{prompt.name}_inputs", __config__=strict, **fields)
    return create_model(
        "PredictBody",
        __config__=ConfigDict(extra="forbid"),
        inputs=(inputs, ...),
        request_id=(REQUEST_ID | None, None),
    )


def error_details(
    exc: ValidationError, prompt: Prompt, variables: Mapping[str, Variable] | None = None
) -> list[dict[str, Any]]:
    """Pydantic's errors as `{field, message, type}`, worded for a caller of this prompt."""
    declared = ", ".join(declared_variables(prompt) if variables is None else variables)
    out = []
    for err in exc.errors(include_url=False, include_context=False, include_input=False):
        where = ".".join(str(part) for part in err["loc"]) or "body"
        message = err["msg"]
        if err["type"] == "extra_forbidden" and err["loc"][:1] == ("inputs",):
            message = f"not a variable of {prompt.identity} (declared: {declared})"
        elif err["type"] == "missing" and err["loc"][:1] == ("inputs",):
            message = f"missing variable of {prompt.identity}"
        out.append({"field": where, "message": message, "type": err["type"]})
    return out
