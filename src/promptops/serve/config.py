"""What `promptops serve` was asked to do, as one validated, JSON-serialisable object.

Uvicorn starts each worker process afresh, so the configuration travels to the workers as
JSON in an environment variable and every worker builds the same app from it.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from promptops.errors import ConfigError

CONFIG_ENV = "PROMPTOPS_SERVE_CONFIG"
DEFAULT_MAX_BODY_BYTES = 65_536


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ServeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt: str
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    workers: int = Field(1, ge=1)
    profile: str | None = None
    base_url: str | None = None
    model: str | None = None
    timeout: float | None = Field(None, gt=0, description="per-request deadline, seconds")
    max_retries: int | None = Field(None, ge=0)
    concurrency: int | None = Field(None, ge=1, description="upstream calls in flight, per worker")
    profiles_path: Path = Path("profiles.yaml")
    token_env: str | None = None
    log: Path | None = None
    log_max_bytes: int = Field(10_000_000, gt=0)
    log_backups: int = Field(5, ge=0)
    log_inputs: bool = False
    max_body_bytes: int = Field(DEFAULT_MAX_BODY_BYTES, ge=256)
    shadow: str | None = None
    canary: str | None = None
    canary_share: float = Field(0.1, ge=0, le=1)
    seed: int = 0
    fallback: Literal["none", "baseline"] = "none"
    suite: str | None = None
    fallback_baseline: str = "tfidf_lr"
    kill_file: Path | None = None
    max_shadow_in_flight: int = Field(64, ge=1)

    @model_validator(mode="after")
    def _one_candidate(self) -> ServeConfig:
        if self.shadow is not None and self.canary is not None:
            raise ValueError("give --shadow or --canary, not both")
        return self

    @property
    def candidate(self) -> str | None:
        return self.shadow or self.canary

    def check_bind(self) -> None:
        """Anything but loopback needs a token: the endpoint spends money on every call."""
        if not is_loopback(self.host) and self.token_env is None:
            raise ConfigError(
                f"{self.host} is not a loopback address; pass --token-env NAME so that "
                "callers must send `Authorization: Bearer <token>`",
                where="--host",
            )
        if self.token_env is not None and not os.environ.get(self.token_env):
            raise ConfigError(
                f"environment variable {self.token_env} is not set or empty", where="--token-env"
            )

    def token(self) -> str | None:
        return os.environ.get(self.token_env) if self.token_env else None
