"""Context-overflow guard: make retrieved chunks fit the model's context window, visibly.

    limit   = context window - max_tokens (the room the reply needs)
    budget  = limit - tokens of the prompt rendered with an empty context
    fits    = tokens of the prompt rendered with the chosen chunks <= limit

The whole chat prompt is counted every time, not the chunks alone, so the count is what the
endpoint sees (BPE merges across the context's edges and the chat-format overhead included).
Chunks arrive ranked best first; policies:

- `drop`: keep the longest best-first run of chunks that fits; drop the rest.
- `truncate`: as `drop`, then also keep the longest prefix of the first chunk that did not
  fit, cut at a token boundary (tiktoken, the model family's encoding); a chunk of which
  nothing fits is dropped instead.
- `fail`: raise `ContextOverflowError` naming the budget and the need.

A prompt that is over the limit even without context raises `ContextOverflowError` whatever
the policy: dropping chunks cannot fix it.

Nothing is silent: the result lists every dropped chunk id, the truncated one and the tokens.

Which tokenizer counts:
- By default `promptops.tokens.count_chat_tokens(messages, model)`: tiktoken with the model
  family's encoding (tiktoken's model table; models it does not know get o200k_base) plus the
  OpenAI chat framing. Exact for OpenAI chat endpoints, an estimate for anything else.
- Pass `count_tokens` (messages -> prompt tokens) for a model with its own tokenizer. The
  embedded SmolLM2-135M is not a tiktoken model: `embedded_model_counter()` counts with its
  tokenizer and chat template exactly as the embedded engine builds the prompt (its window is
  8,192 tokens). Use it whenever the endpoint is the embedded model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import tiktoken

from promptops.errors import ContextOverflowError
from promptops.rag.chunking import Chunk
from promptops.rag.citations import number_passages
from promptops.tokens import count_chat_tokens, encoding_for_model

Policy = Literal["drop", "truncate", "fail"]
POLICIES: tuple[Policy, ...] = ("drop", "truncate", "fail")

Messages = Sequence[Mapping[str, str]]
CountTokens = Callable[[Messages], int]
"""Chat messages -> prompt tokens, as the model's endpoint counts them."""
RenderPrompt = Callable[[str], Messages]
"""Context text -> the chat messages of the prompt with that context filled in."""


@dataclass(frozen=True)
class GuardResult:
    """What went into the context and what did not, with the token arithmetic."""

    kept: tuple[Chunk, ...]
    dropped: tuple[str, ...]
    truncated: str | None
    overflowed: bool
    policy: Policy
    limit: int  # context window - max_tokens
    budget: int  # limit - prompt tokens without context
    needed: int  # context tokens all chunks would take
    used: int  # context tokens of the kept chunks
    prompt_tokens: int  # whole prompt with the kept context
    counter: str  # which tokenizer counted
    context: str = field(repr=False, default="")

    def to_record(self) -> dict[str, Any]:
        """A JSON-ready summary (chunk ids, not chunk texts)."""
        return {
            "kept": [c.chunk_id for c in self.kept],
            "dropped": list(self.dropped),
            "truncated": self.truncated,
            "overflowed": self.overflowed,
            "policy": self.policy,
            "limit": self.limit,
            "budget": self.budget,
            "needed": self.needed,
            "used": self.used,
            "prompt_tokens": self.prompt_tokens,
            "counter": self.counter,
        }


def embedded_model_counter() -> CountTokens:
    """Prompt tokens exactly as the embedded engine builds them (SmolLM2's chat template)."""
    from promptops.local.engine import prompt_ids
    from promptops.local.model import get_model

    def count(messages: Messages) -> int:
        return len(prompt_ids(get_model(), messages))

    return count


def _largest_fitting(n: int, fits: Callable[[int], bool]) -> int:
    """The largest k in 0..n with fits(k), for fits monotone (true, then false)."""
    low, high = 0, n
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low


def fit_context(
    chunks: Sequence[Chunk],
    render: RenderPrompt,
    *,
    model: str,
    context_window: int,
    max_tokens: int,
    policy: Policy = "drop",
    count_tokens: CountTokens | None = None,
    format_context: Callable[[Sequence[str]], str] = number_passages,
) -> GuardResult:
    """Choose the chunks (best first) whose rendered prompt fits; see the module doc."""
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; expected one of {POLICIES}")
    encoding = encoding_for_model(model)
    counter = "custom" if count_tokens is not None else f"tiktoken:{encoding.name}"

    def prompt_tokens(texts: Sequence[str]) -> int:
        messages = render(format_context(texts) if texts else "")
        if count_tokens is not None:
            return count_tokens(messages)
        return count_chat_tokens(messages, model)

    limit = context_window - max_tokens
    base = prompt_tokens([])
    texts = [c.text for c in chunks]
    full = prompt_tokens(texts)

    def finish(kept: Sequence[Chunk], truncated: str | None, prompt: int) -> GuardResult:
        kept_texts = [c.text for c in kept]
        return GuardResult(
            kept=tuple(kept),
            dropped=tuple(c.chunk_id for c in chunks[len(kept) :]),
            truncated=truncated,
            overflowed=full > limit,
            policy=policy,
            limit=limit,
            budget=limit - base,
            needed=full - base,
            used=prompt - base,
            prompt_tokens=prompt,
            counter=counter,
            context=format_context(kept_texts) if kept_texts else "",
        )

    if full <= limit:
        return finish(chunks, None, full)
    if base > limit:
        raise ContextOverflowError(
            f"the prompt without any context takes {base} tokens, over the limit of {limit} "
            f"(context window {context_window} - max_tokens {max_tokens}; counted with "
            f"{counter}); no chunk policy can make it fit",
            where="prompt",
        )
    if policy == "fail":
        raise ContextOverflowError(
            f"the context needs {full - base} tokens but the budget is {limit - base} "
            f"(context window {context_window} - max_tokens {max_tokens} - "
            f"{base} prompt tokens without context; counted with {counter})",
            where=f"{len(chunks)} chunks",
        )
    k = _largest_fitting(len(chunks), lambda n: prompt_tokens(texts[:n]) <= limit)
    kept = list(chunks[:k])
    truncated: str | None = None
    if policy == "truncate" and k < len(chunks):
        cut = _truncate(chunks[k], texts[:k], limit, prompt_tokens, encoding)
        if cut is not None:
            kept.append(cut)
            truncated = cut.chunk_id
    return finish(kept, truncated, prompt_tokens([c.text for c in kept]))


def _truncate(
    chunk: Chunk,
    before: Sequence[str],
    limit: int,
    prompt_tokens: Callable[[Sequence[str]], int],
    encoding: tiktoken.Encoding,
) -> Chunk | None:
    """The longest token-boundary prefix of `chunk` that still fits after `before`, or None."""
    tokens = encoding.encode_ordinary(chunk.text)
    _, offsets = encoding.decode_with_offsets(tokens)
    # Character offsets where a token starts, past the first: the candidate cut points.
    cuts = sorted({o for o in offsets if 0 < o < len(chunk.text)})
    n = _largest_fitting(
        len(cuts), lambda i: prompt_tokens([*before, chunk.text[: cuts[i - 1]]]) <= limit
    )
    if n == 0:
        return None
    text = chunk.text[: cuts[n - 1]]
    return replace(
        chunk,
        text=text,
        end_char=chunk.start_char + len(text),
        token_count=len(encoding.encode_ordinary(text)),
    )
