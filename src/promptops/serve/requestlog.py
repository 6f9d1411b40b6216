"""The request log: one JSON line per answered request (and per candidate call), rotated by
size. It is what the `monitor` reads, so it carries identities and hashes, not raw text:
the input appears only with `--log-inputs`, and then with PII redacted (`promptops.pii`).
Secrets never reach it: the bearer token and API key are not part of any record.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from datetime import UTC, datetime
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any


def input_hash(inputs: dict[str, Any]) -> str:
    """sha256 of the inputs as canonical JSON: equal inputs are recognisable in the log
    without their text being there."""
    blob = json.dumps(inputs, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def worker_path(path: Path, workers: int) -> Path:
    """With several worker processes each writes its own file (`log.<pid>.jsonl`): one
    rotating file shared by processes would lose lines at rotation."""
    if workers <= 1:
        return path
    return path.with_name(f"{path.stem}.{os.getpid()}{path.suffix}")


class RequestLog:
    def __init__(self, path: Path, max_bytes: int, backups: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._logger = logging.getLogger(f"promptops.serve.requests.{id(self)}")
        self._logger.propagate = False
        self._logger.setLevel(logging.INFO)
        self._handler = RotatingFileHandler(
            path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
        )
        self._handler.setFormatter(logging.Formatter("%(message)s"))
        self._logger.addHandler(self._handler)

    def write(self, record: dict[str, Any]) -> None:
        line = {"time": datetime.now(UTC).isoformat(timespec="milliseconds"), **record}
        self._logger.info(json.dumps(line, ensure_ascii=False, separators=(",", ":")))

    def close(self) -> None:
        self._logger.removeHandler(self._handler)
        self._handler.close()
