"""The typed form of a prompt file.

A prompt is code: its identity is `name@version` plus a content hash of everything that
decides what is sent to the model (messages, parameters, labels, variables, examples,
calibration, output schema). Two files with the same content hash send the same requests,
whatever their names, versions or descriptions say.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.\-]*$")
_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.\-]+)?$")

Role = Literal["system", "user", "assistant"]
# The task types a prompt file may declare; `promptops.tasks` registers one scorer per name.
TaskName = Literal["classification", "binary", "scoring", "extraction", "generation"]
TASK_NAMES: tuple[str, ...] = get_args(TaskName)
LABELLED_TASKS = frozenset({"classification", "binary"})
# tasks whose answer the request may constrain to `labels` (scoring: optional number labels)
CONSTRAINED_TASKS = LABELLED_TASKS | {"scoring"}
VarType = Literal["string", "integer", "number", "boolean"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ModelParams(_Strict):
    """Sampling parameters and where to send the request."""

    name: str | None = Field(None, description="model name; overrides the profile's")
    profile: str | None = Field(None, description="endpoint profile from profiles.yaml")
    temperature: float = Field(0.0, ge=0, le=2)
    max_tokens: int | None = Field(None, gt=0)
    top_p: float | None = Field(None, gt=0, le=1)
    seed: int | None = None
    stop: tuple[str, ...] | None = None
    context_window: int | None = Field(None, gt=0, description="tokens; overrides the profile")


class Message(_Strict):
    role: Role
    content: str


class Variable(_Strict):
    """A declared input variable: type and size limits are checked before rendering."""

    type: VarType = "string"
    description: str | None = None
    max_chars: int | None = Field(None, gt=0)
    required: bool = True
    default: str | int | float | bool | None = None


class Example(_Strict):
    """A few-shot example: rendered through the last message template, then its output."""

    input: dict[str, Any]
    output: str


class Calibration(_Strict):
    """Contextual calibration (Zhao et al. 2021) against content-free inputs."""

    method: Literal["none", "contextual"] = "contextual"
    content_free: tuple[str, ...] = ("N/A", "", "[MASK]")


PiiEntity = Literal[
    "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "US_SSN"
]


class InputFilter(_Strict):
    """Content a caller may not send to this prompt; `serve` refuses such input (422) before
    anything is sent. PII is found by Presidio's pattern-and-checksum recognisers, offline,
    which do not detect names."""

    refuse_pii: tuple[PiiEntity, ...] = ()


class Prompt(_Strict):
    name: str
    version: str
    description: str = ""
    task: TaskName = "generation"
    labels: tuple[str, ...] | None = None
    positive_label: str | None = Field(None, description="binary: the label scored as positive")
    score_range: tuple[float, float] | None = Field(
        None, alias="range", description="scoring: [lo, hi] an answer must fall within"
    )
    model: ModelParams = Field(default_factory=ModelParams)
    variables: dict[str, Variable] | None = None
    examples: tuple[Example, ...] = ()
    calibration: Calibration | None = None
    output_schema: dict[str, Any] | None = None
    input_filter: InputFilter | None = None
    messages: tuple[Message, ...] = Field(min_length=1)

    _source: str | None = PrivateAttr(default=None)

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("use lowercase letters, digits, '_', '-' or '.', e.g. classify_intent")
        return value

    @field_validator("version", mode="before")
    @classmethod
    def _check_version(cls, value: object) -> str:
        text = str(value)
        if not _SEMVER.match(text):
            raise ValueError(f"{text!r} is not a semantic version like 1.0.0")
        return text

    @field_validator("labels")
    @classmethod
    def _check_labels(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return value
        dupes = sorted(label for label, n in Counter(value).items() if n > 1)
        if dupes:
            raise ValueError(f"duplicate labels: {', '.join(dupes)}")
        if any(not label.strip() for label in value):
            raise ValueError("labels must be non-empty strings")
        return value

    @model_validator(mode="after")
    def _check_task(self) -> Prompt:
        self._check_binary_and_scoring()
        if self.task == "scoring":
            if self.output_schema is not None:
                raise ValueError("output_schema is for generation/extraction prompts")
            if self.calibration is not None:
                raise ValueError("calibration is only for classification or binary prompts")
        elif self.task in LABELLED_TASKS:
            if not self.labels or len(self.labels) < 2:
                raise ValueError(f"a {self.task} prompt needs at least two labels")
            if self.output_schema is not None:
                raise ValueError("output_schema is for generation/extraction prompts, not labels")
            bad = [ex.output for ex in self.examples if ex.output not in self.labels]
            if bad:
                raise ValueError(f"examples use outputs that are not labels: {sorted(set(bad))}")
        else:
            if self.labels is not None:
                raise ValueError("labels are only for classification, binary or scoring prompts")
            if self.calibration is not None:
                raise ValueError("calibration is only for classification or binary prompts")
        if self.messages[-1].role != "user":
            raise ValueError("the last message must have role 'user'")
        return self

    def _check_binary_and_scoring(self) -> None:
        if self.task == "binary":
            if not self.labels or len(self.labels) != 2:
                raise ValueError("a binary prompt needs exactly two labels, e.g. [yes, no]")
            if self.positive_label not in self.labels:
                raise ValueError(
                    f"a binary prompt needs positive_label, one of {list(self.labels)}"
                )
        elif self.positive_label is not None:
            raise ValueError("positive_label is only for binary prompts")
        if self.task == "scoring":
            if self.score_range is None:
                raise ValueError("a scoring prompt needs range: [lo, hi]")
            lo, hi = self.score_range
            if not lo < hi:
                raise ValueError(f"range {list(self.score_range)}: lo must be below hi")
            for label in self.labels or ():  # optional: the answer constrained to these numbers
                try:
                    inside = lo <= float(label) <= hi
                except ValueError:
                    inside = False
                if not inside:
                    raise ValueError(f"scoring label {label!r} is not a number within the range")
        elif self.score_range is not None:
            raise ValueError("range is only for scoring prompts")

    @property
    def identity(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def source(self) -> str | None:
        """The file this prompt was loaded from, if any."""
        return self._source

    def canonical_content(self) -> dict[str, Any]:
        """Everything that decides the requests sent: what the content hash covers."""
        content = self.model_dump(mode="json", exclude={"name", "version", "description"})
        for late in ("input_filter", "positive_label", "score_range"):
            if content.get(late) is None:  # added later: absent keeps old hashes
                content.pop(late, None)
        return content

    @property
    def content_hash(self) -> str:
        blob = json.dumps(self.canonical_content(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    @property
    def short_hash(self) -> str:
        return self.content_hash[:12]
