"""Response cache: hits on repeats, misses on any change that matters, never stores the key."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from _llm_util import LABELS, labelled_case, profile_for
from promptops.llm.cache import CACHE_DIR_ENV, ResponseCache, cache_key, default_cache_path
from promptops.llm.client import LLMClient
from promptops.llm.types import ChatRequest, Completion, TokenCounts
from promptops.testing import FakeOpenAIServer, FaultPlan

SECRET = "sk-test-5ecret-DO-NOT-STORE-9f8e7d"


def test_default_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "c"))
    assert default_cache_path() == tmp_path / "c" / "responses.sqlite3"
    monkeypatch.delenv(CACHE_DIR_ENV)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_cache_path() == tmp_path / ".cache" / "promptops" / "responses.sqlite3"
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "env"))
    with ResponseCache() as cache:
        assert cache.path.exists() and cache.path.parent == tmp_path / "env"


def test_round_trip_keeps_every_answer_field(tmp_path: Path) -> None:
    stored = Completion(
        text='{"label": "beta"}',
        label="beta",
        label_probs={"alpha": 0.1, "beta": 0.9},
        finish_reason="stop",
        usage=TokenCounts(12, 3),
        cost_usd=0.0042,
        latency_s=0.25,
        model="m-1",
    )
    with ResponseCache(tmp_path / "r.sqlite3") as cache:
        cache.put("k1", stored)
        cache.put("bad", Completion(text=None, error="boom", error_kind="server_error"))
        got = cache.get("k1")
        assert cache.get("bad") is None and cache.get("nope") is None
        assert (cache.hits, cache.misses, len(cache)) == (1, 2, 1)
        mode = cache._db.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    assert got == dataclasses.replace(stored, cached=True, attempts=0)


def test_key_covers_each_determining_field() -> None:
    body: dict[str, Any] = {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "temperature": 0.0,
    }
    base = cache_key("http://a/v1", body, labels=LABELS, sample_index=0)
    assert base == cache_key(
        "http://a/v1", dict(reversed(body.items())), labels=LABELS, sample_index=0
    )
    variants = [
        cache_key("http://b/v1", body, labels=LABELS, sample_index=0),
        cache_key(None, body, labels=LABELS, sample_index=0),
        cache_key("http://a/v1", body, labels=None, sample_index=0),
        cache_key("http://a/v1", body, labels=LABELS[::-1], sample_index=0),
        cache_key("http://a/v1", body, labels=LABELS, sample_index=1),
    ]
    for field, value in [
        ("model", "m2"),
        ("messages", [{"role": "user", "content": "hi!"}]),
        ("temperature", 0.7),
        ("max_tokens", 5),
        ("top_p", 0.5),
        ("stop", ["\n"]),
        ("seed", 3),
        ("response_format", {"type": "json_object"}),
        ("logprobs", True),
    ]:
        variants.append(
            cache_key("http://a/v1", {**body, field: value}, labels=LABELS, sample_index=0)
        )
    assert len({base, *variants}) == len(variants) + 1


def _db_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def test_client_cache_end_to_end(tmp_path: Path) -> None:
    req, expected = labelled_case(3)
    changed = [
        dataclasses.replace(req, temperature=0.5),
        dataclasses.replace(req, max_tokens=9),
        dataclasses.replace(req, top_p=0.9),
        dataclasses.replace(req, stop=("END",)),
        dataclasses.replace(req, seed=1),
        dataclasses.replace(req, labels=(*LABELS, "epsilon")),
        dataclasses.replace(req, messages=(*req.messages[:-1], ("user", "case 3: delta"))),
        dataclasses.replace(req, sample_index=1),
        dataclasses.replace(req, sample_index=2),
    ]
    path = tmp_path / "responses.sqlite3"
    with FakeOpenAIServer() as srv, ResponseCache(path) as cache:

        async def scenario() -> tuple[list[Completion], LLMClient]:
            async with LLMClient(profile_for(srv), cache=cache, api_key=SECRET) as client:
                out = [await client.complete(req)]
                sent = len(srv.requests)
                out.append(await client.complete(req))
                assert len(srv.requests) == sent, "a cache hit must not reach the server"
                out += [await client.complete(r) for r in changed]
                # Repeats of every variant are hits now.
                before = len(srv.requests)
                out += [await client.complete(r) for r in changed]
                assert len(srv.requests) == before
            for overrides in ({"model": "other-model"}, {"logprobs": True}):
                async with LLMClient(
                    profile_for(srv, **overrides), cache=cache, api_key=SECRET
                ) as other:
                    out.append(await other.complete(req))
            return out, client

        results, client = asyncio.run(scenario())
        entries = len(cache)
        hits, misses = cache.hits, cache.misses
        served = len(srv.requests)
    first, again = results[0], results[1]
    assert (first.cached, again.cached) == (False, True)
    assert (first.label, again.label) == (expected, expected)
    assert (again.text, again.usage) == (first.text, first.usage)
    assert (again.attempts, again.cost_usd) == (0, 0.0)
    assert not any(c.cached for c in results[2 : 2 + len(changed)])
    assert all(c.cached for c in results[2 + len(changed) : 2 + 2 * len(changed)])
    assert not any(c.cached for c in results[-2:])
    # 1 original + 9 variants (3 of them distinct only by sample_index) + 2 profile changes.
    assert entries == served == 12
    assert (hits, misses) == (1 + len(changed), 12)
    assert (client.stats.cache_hits, client.stats.cache_misses) == (1 + len(changed), 10)
    assert client.stats.requests == 2 + 2 * len(changed)
    assert SECRET.encode() not in _db_bytes(path)


def test_failures_are_not_cached(tmp_path: Path) -> None:
    req = ChatRequest((("user", "hello"),))
    with (
        FakeOpenAIServer(faults=FaultPlan(persistent=True, kinds=("500",))) as srv,
        ResponseCache(tmp_path / "c.sqlite3") as cache,
    ):

        async def scenario() -> list[Completion]:
            async with LLMClient(profile_for(srv, max_retries=0), cache=cache) as client:
                return [await client.complete(req), await client.complete(req)]

        results = asyncio.run(scenario())
        assert len(cache) == 0 and len(srv.requests) == 2
    assert [c.error_kind for c in results] == ["server_error", "server_error"]


_WRITER = """
import sys
from pathlib import Path
from promptops.llm.cache import ResponseCache
from promptops.llm.types import Completion
with ResponseCache(Path(sys.argv[1])) as cache:
    for i in range(150):
        cache.put(f"{sys.argv[2]}-{i}", Completion(text=f"answer {i}"))
        assert cache.get(f"{sys.argv[2]}-{i}") is not None
"""


def test_concurrent_processes_share_one_file(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    ResponseCache(path).close()
    src = str(Path(__file__).resolve().parents[1] / "src")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(path), name],
            env={"PYTHONPATH": src, "PATH": "/usr/bin:/bin"},
            stderr=subprocess.PIPE,
        )
        for name in ("a", "b", "c")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
    with sqlite3.connect(path) as db:
        (count,) = db.execute("SELECT COUNT(*) FROM responses").fetchone()
    assert count == 450
