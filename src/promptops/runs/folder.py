"""A run folder: results written as each case completes, so an interrupted run resumes.

    <out>/manifest.json   what this run is (prompt hash, evalset hash, model, settings)
    <out>/prompt.json     the prompt as run (for diffs between runs)
    <out>/results.jsonl   one line per finished case, appended and flushed as it lands
    <out>/summary.json    written once at the end (atomically)
    <out>/report.md, report.html

A restart with the same `--out` reads `results.jsonl`, drops a torn last line left by a
crash, and sends only the cases not yet there, plus (unless told not to) those whose result
is a transient error: a rate limit, timeout or 5xx that outlasted the last run is no answer.
A restart with different settings is refused rather than mixing two runs in one file.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from promptops.errors import UserInputError
from promptops.prompts.model import Prompt

RESULTS = "results.jsonl"
MANIFEST = "manifest.json"
SUMMARY = "summary.json"
PROMPT = "prompt.json"

M = TypeVar("M", bound=BaseModel)


def write_atomic(path: Path, text: str) -> None:
    """Write UTF-8 text with "\n" line ends via a temp file and a rename, so a reader never
    sees half a file; the file gets the usual permissions (umask), not the temp file's 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_json(path: Path, payload: Any) -> None:
    write_atomic(path, json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


class RunFolder:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.results_path = path / RESULTS
        self._handle: Any = None

    def open(self, fingerprint: dict[str, Any]) -> None:
        """Start or resume; refuse a folder holding a run with a different fingerprint."""
        self.path.mkdir(parents=True, exist_ok=True)
        manifest = self.path / MANIFEST
        if manifest.exists():
            old = json.loads(manifest.read_text(encoding="utf-8"))
            if old != fingerprint:
                changed = sorted(
                    k for k in set(old) | set(fingerprint) if old.get(k) != fingerprint.get(k)
                )
                raise UserInputError(
                    f"holds a run with different settings ({', '.join(changed)}); "
                    "use another --out to start a new run",
                    where=str(self.path),
                )
        else:
            write_json(manifest, fingerprint)
        self._repair_tail()
        self._handle = self.results_path.open("a", encoding="utf-8")

    def save_prompt(self, prompt: Prompt) -> None:
        """A snapshot of the prompt as run, so `compare` can diff two runs' prompts later."""
        payload = {"identity": prompt.identity, "content_hash": prompt.content_hash}
        write_json(self.path / PROMPT, {**payload, **prompt.model_dump(mode="json")})

    def _repair_tail(self) -> None:
        """Drop a torn last line (a crash mid-write) so every kept line is a whole record."""
        if not self.results_path.exists():
            return
        data = self.results_path.read_bytes()
        if not data or data.endswith(b"\n"):
            return
        cut = data.rfind(b"\n") + 1
        with self.results_path.open("r+b") as handle:
            handle.truncate(cut)

    def records(self) -> Iterator[dict[str, Any]]:
        """Every finished record, streamed from disk."""
        if not self.results_path.exists():
            return
        with self.results_path.open(encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    yield json.loads(line)

    def rows(self, model: type[M]) -> Iterator[M]:
        """Every finished result as the run kind's row model, streamed from disk."""
        if not self.results_path.exists():
            return
        with self.results_path.open("rb") as handle:
            for line in handle:
                if line.strip():
                    yield model.model_validate_json(line)

    def forget_errors(self, kinds: frozenset[str]) -> set[tuple[str, int]]:
        """Drop the results that failed with one of `kinds`, so that they are sent again;
        returns their (id, sample) keys. The file is rewritten through a temporary file and
        a rename: a crash leaves either the old file or the new one, never half of one."""
        dropped: set[tuple[str, int]] = set()
        if not self.results_path.exists():
            return dropped
        fd, tmp = tempfile.mkstemp(dir=self.path, prefix=f".{RESULTS}.", suffix=".tmp")
        try:
            with (
                os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out,
                self.results_path.open(encoding="utf-8") as source,
            ):
                for line in source:
                    record = json.loads(line) if line.strip() else None
                    if record and record.get("error") and record.get("error_kind") in kinds:
                        dropped.add((str(record["id"]), int(record.get("sample", 0))))
                    else:
                        out.write(line)
                out.flush()
                os.fsync(out.fileno())
            if not dropped:
                Path(tmp).unlink()
                return dropped
            reopen = self._handle is not None
            self.close()
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, self.results_path)
            if reopen:
                self._handle = self.results_path.open("a", encoding="utf-8")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return dropped

    def done_keys(self) -> set[tuple[str, int]]:
        return {(str(r["id"]), int(r.get("sample", 0))) for r in self.records()}

    def append(self, record: dict[str, Any]) -> None:
        if self._handle is None:
            raise RuntimeError("RunFolder.open() must be called first")
        self._handle.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
        self._handle.flush()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
            self._handle = None
