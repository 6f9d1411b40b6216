"""On-disk cache of model answers, so re-running an unchanged eval costs nothing.

The key hashes everything that determines an answer (endpoint, the exact request body, the
label set, the sample index) and nothing else: never the API key, which is not part of the
body. SQLite in WAL mode with a busy timeout lets several processes share one cache file.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from promptops.errors import ConfigError
from promptops.llm.types import Completion, TokenCounts

CACHE_DIR_ENV = "PROMPTOPS_CACHE_DIR"
CACHE_FILE = "responses.sqlite3"
_KEY_VERSION = 1
_BUSY_TIMEOUT_S = 30.0


def default_cache_path() -> Path:
    """`$PROMPTOPS_CACHE_DIR/responses.sqlite3`, else `~/.cache/promptops/responses.sqlite3`."""
    root = os.environ.get(CACHE_DIR_ENV)
    return (Path(root) if root else Path.home() / ".cache" / "promptops") / CACHE_FILE


def cache_key(
    base_url: str | None,
    body: Mapping[str, Any],
    *,
    labels: Sequence[str] | None,
    sample_index: int,
) -> str:
    """sha256 of canonical JSON; `body` is the request as sent (model, messages, sampling
    parameters, response_format, logprobs flags). `labels` is separate because a plain-text
    classification call parses against them without sending them."""
    payload = {
        "v": _KEY_VERSION,
        "base_url": base_url or "embedded",
        "body": body,
        "labels": list(labels) if labels is not None else None,
        "sample_index": sample_index,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ResponseCache:
    """Successful completions by key; `hits` and `misses` count lookups by this instance."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_cache_path()
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path,
                timeout=_BUSY_TIMEOUT_S,
                isolation_level=None,
                check_same_thread=False,
            )
            self._db.execute(f"PRAGMA busy_timeout={int(_BUSY_TIMEOUT_S * 1000)}")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS responses ("
                "key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL NOT NULL)"
            )
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(
                f"cannot open the response cache: {exc}", where=str(self.path)
            ) from exc

    def get(self, key: str) -> Completion | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM responses WHERE key = ?", (key,)).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        return _decode(row[0])

    def put(self, key: str, completion: Completion) -> None:
        """Store a successful completion; failures are never cached."""
        if not completion.ok:
            return
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO responses (key, value, created) VALUES (?, ?, ?)",
                (key, _encode(completion), time.time()),
            )

    def __len__(self) -> int:
        with self._lock:
            (count,) = self._db.execute("SELECT COUNT(*) FROM responses").fetchone()
        return int(count)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _encode(completion: Completion) -> str:
    return json.dumps(
        {
            "text": completion.text,
            "label": completion.label,
            "label_probs": completion.label_probs,
            "invalid": completion.invalid,
            "finish_reason": completion.finish_reason,
            "prompt_tokens": completion.usage.prompt_tokens,
            "completion_tokens": completion.usage.completion_tokens,
            "cost_usd": completion.cost_usd,
            "latency_s": completion.latency_s,
            "model": completion.model,
        },
        ensure_ascii=False,
    )


def _decode(value: str) -> Completion:
    data = json.loads(value)
    return Completion(
        text=data["text"],
        label=data["label"],
        label_probs=data["label_probs"],
        invalid=data["invalid"],
        finish_reason=data["finish_reason"],
        usage=TokenCounts(data["prompt_tokens"], data["completion_tokens"]),
        cost_usd=data["cost_usd"],
        latency_s=data["latency_s"],
        cached=True,
        attempts=0,
        model=data["model"],
    )
