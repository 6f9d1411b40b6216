"""Endpoint profiles: where requests go and how the endpoint may be asked.

A profile without `base_url` is the embedded local model, served in-process through the same
OpenAI SDK path as a remote endpoint. Capabilities (`structured_output`, `logprobs`) say what
the endpoint offers; the client falls back to parsing text where they are off.
The API key is read from the environment variable `api_key_env` at call time and is never
stored in a profile, cache, report or log.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from promptops.embedded import EMBEDDED_MODEL
from promptops.errors import ConfigError


class Prices(BaseModel):
    """USD per million tokens."""

    model_config = ConfigDict(extra="forbid")

    input_per_mtok: float = Field(0.0, ge=0)
    output_per_mtok: float = Field(0.0, ge=0)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (
            prompt_tokens * self.input_per_mtok + completion_tokens * self.output_per_mtok
        ) / 1_000_000


class EndpointProfile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = "embedded"
    base_url: str | None = None
    model: str = EMBEDDED_MODEL
    api_key_env: str = "OPENAI_API_KEY"
    timeout: float = Field(120.0, gt=0)
    max_retries: int = Field(6, ge=0)
    concurrency: int = Field(8, ge=1)
    # Known rate limits, for providers that send no x-ratelimit headers; waiting for a rate
    # limit is bounded by `max_wait` seconds a case and never spends `max_retries`.
    rpm: float | None = Field(None, gt=0)
    tpm: float | None = Field(None, gt=0)
    max_wait: float = Field(300.0, gt=0)
    structured_output: bool = True
    logprobs: bool = False
    context_window: int | None = Field(8192, gt=0)
    prices: Prices = Field(default_factory=Prices)

    @property
    def embedded(self) -> bool:
        return self.base_url is None


class EndpointOverrides(BaseModel):
    """Fields a suite file or the command line may change on a profile."""

    model_config = ConfigDict(extra="forbid")

    base_url: str | None = None
    model: str | None = None
    api_key_env: str | None = None
    timeout: float | None = Field(None, gt=0)
    max_retries: int | None = Field(None, ge=0)
    concurrency: int | None = Field(None, ge=1)
    rpm: float | None = Field(None, gt=0)
    tpm: float | None = Field(None, gt=0)
    max_wait: float | None = Field(None, gt=0)
    structured_output: bool | None = None
    logprobs: bool | None = None


def apply_overrides(profile: EndpointProfile, overrides: EndpointOverrides) -> EndpointProfile:
    """A copy of `profile` with every set override applied; a base_url makes it remote."""
    changes = overrides.model_dump(exclude_none=True)
    if "base_url" in changes:
        changes.setdefault("name", "custom")
    return profile.model_copy(update=changes)


def resolve_profile(
    name: str, *overrides: EndpointOverrides, path: Path = Path("profiles.yaml")
) -> EndpointProfile:
    """The named profile from `path` (or the built-in embedded one), overrides applied in order."""
    profiles = load_profiles(path)
    if name not in profiles:
        raise ConfigError(
            f"unknown profile {name!r}; known: {', '.join(sorted(profiles))}", where=str(path)
        )
    profile = profiles[name]
    for layer in overrides:
        profile = apply_overrides(profile, layer)
    return profile


def embedded_profile() -> EndpointProfile:
    return EndpointProfile()


def load_profiles(path: Path) -> dict[str, EndpointProfile]:
    """Read a `profiles.yaml` mapping of name -> profile fields; the embedded one is built in."""
    profiles = {"embedded": embedded_profile()}
    if not path.exists():
        return profiles
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", where=str(path)) from exc
    if not isinstance(raw, dict):
        raise ConfigError("expected a mapping of profile name to settings", where=str(path))
    for name, fields in raw.items():
        try:
            profiles[str(name)] = EndpointProfile(name=str(name), **(fields or {}))
        except (ValidationError, TypeError) as exc:
            raise ConfigError(str(exc), where=f"{path}: {name}") from exc
    return profiles
