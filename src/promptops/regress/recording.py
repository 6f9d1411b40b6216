"""Record and replay chat-completion calls at the HTTP layer, for prompt tests in CI.

`RecordReplayTransport` sits under the real OpenAI SDK client (as its httpx2 transport), so a
replayed test runs the same code path as a live call: request building, the SDK, response
parsing, label validation. Only the bytes on the wire come from a file.

- A request is keyed by the SHA-256 of its canonical form: method, URL path and the JSON
  body with sorted keys. Headers are never part of the key and never stored, so no API key
  can reach a recording; the host is left out too, so the same recording serves any URL of
  the same endpoint.
- Replay: the response comes from the recordings file. A request with no recording is
  answered with HTTP 404 (not retried by the client) and noted in `misses`, so the caller
  can fail the test naming the prompt and the case; nothing is ever sent anywhere.
- Record: the request goes to the real transport (the embedded model in-process, or a
  remote endpoint), and a successful (2xx) JSON response is stored. Its volatile fields
  (`id`, `created`) are replaced with values derived from the key, so recording the same
  answers again rewrites the same bytes.

The file is JSONL, one exchange per line, sorted by key: `{"key", "request": {"method",
"path", "body"}, "response": {"status", "body"}}`, readable in review and in diffs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx2

from promptops.errors import UserInputError
from promptops.runs.folder import write_atomic

Mode = Literal["replay", "record"]
MISSING_STATUS = 404
MISSING_TYPE = "promptops_recording_missing"
_DROPPED_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


def _parse(body: bytes) -> Any:
    """The body as JSON when it is JSON, else as text (so any request can be keyed)."""
    try:
        return json.loads(body) if body else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        return body.decode("utf-8", errors="replace")


def request_key(method: str, path: str, body: Any) -> str:
    canonical = json.dumps(
        {"method": method.upper(), "path": path, "body": body},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _stable(body: Any, key: str) -> Any:
    """A recorded completion with its per-call id and timestamp made reproducible."""
    if not isinstance(body, dict):
        return body
    out = dict(body)
    if "id" in out:
        out["id"] = f"recorded-{key[:24]}"
    if "created" in out:
        out["created"] = 0
    return out


@dataclass
class Recordings:
    """One recordings file: loaded once, changed in memory, saved back in key order."""

    path: Path
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    changed: bool = False

    @classmethod
    def load(cls, path: Path) -> Recordings:
        recordings = cls(path)
        if not path.is_file():
            return recordings
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                recordings.entries[str(entry["key"])] = entry
            except (json.JSONDecodeError, KeyError, TypeError):
                raise UserInputError(
                    "not a recording line (expected JSON with a key); record again",
                    where=f"{path}:{number}",
                ) from None
        return recordings

    def get(self, key: str) -> dict[str, Any] | None:
        return self.entries.get(key)

    def put(self, entry: dict[str, Any]) -> None:
        if self.entries.get(entry["key"]) != entry:
            self.entries[entry["key"]] = entry
            self.changed = True

    def save(self) -> bool:
        """Write the file if anything changed; True when it was written."""
        if not self.changed:
            return False
        lines = [
            json.dumps(self.entries[key], sort_keys=True, ensure_ascii=False)
            for key in sorted(self.entries)
        ]
        write_atomic(self.path, "\n".join(lines) + "\n")
        self.changed = False
        return True


class RecordReplayTransport(httpx2.AsyncBaseTransport):
    """Answers from `recordings` (replay) or forwards to `upstream` and records (record)."""

    def __init__(
        self,
        recordings: Recordings,
        mode: Mode,
        upstream: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        if mode == "record" and upstream is None:
            raise ValueError("record mode needs the real transport to forward to")
        self.recordings = recordings
        self.mode = mode
        self.upstream = upstream
        self.misses: list[Any] = []  # request bodies that had no recording
        self.recorded = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        body = _parse(await request.aread())
        key = request_key(request.method, request.url.path, body)
        if self.mode == "replay":
            entry = self.recordings.get(key)
            if entry is None:
                self.misses.append(body)
                message = f"no recorded response for this request (key {key[:16]})"
                error = {"error": {"message": message, "type": MISSING_TYPE}}
                return httpx2.Response(MISSING_STATUS, json=error, request=request)
            response = entry["response"]
            return httpx2.Response(int(response["status"]), json=response["body"], request=request)
        assert self.upstream is not None
        live = await self.upstream.handle_async_request(request)
        content = await live.aread()
        await live.aclose()
        if 200 <= live.status_code < 300:
            self.recordings.put(
                {
                    "key": key,
                    "request": {"method": request.method, "path": request.url.path, "body": body},
                    "response": {"status": live.status_code, "body": _stable(_parse(content), key)},
                }
            )
            self.recorded += 1
        headers = [
            (name, value)
            for name, value in live.headers.multi_items()
            if name.lower() not in _DROPPED_HEADERS
        ]
        return httpx2.Response(live.status_code, headers=headers, content=content, request=request)

    async def aclose(self) -> None:
        if self.upstream is not None:
            await self.upstream.aclose()
