"""Shared test settings."""

from __future__ import annotations

import os

# The embedded models ship inside installed packages; nothing may be fetched from a hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
