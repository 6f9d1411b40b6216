"""`promptops serve`: a versioned prompt as an HTTP endpoint that is safe to release.

The app itself is `promptops.serve.app.create_app`; it is not imported here, so the CLI can
read the configuration without loading FastAPI.
"""

from __future__ import annotations

from promptops.serve.config import ServeConfig, is_loopback

__all__ = ["ServeConfig", "is_loopback"]
