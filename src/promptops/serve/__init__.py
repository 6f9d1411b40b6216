"""`promptops serve`: a versioned prompt as an HTTP endpoint that is safe to release."""

from __future__ import annotations

from promptops.serve.app import create_app
from promptops.serve.config import ServeConfig, is_loopback

__all__ = ["ServeConfig", "create_app", "is_loopback"]
