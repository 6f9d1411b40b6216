"""Context-overflow guard: every policy against independent token counts of the final prompt."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from promptops.errors import ContextOverflowError
from promptops.rag.chunking import Chunk, ChunkingConfig, chunk_document
from promptops.rag.citations import number_passages
from promptops.rag.corpus import load_jsonl_corpus
from promptops.rag.guard import CountTokens, GuardResult, embedded_model_counter, fit_context
from promptops.tokens import count_chat_tokens, get_encoding

CORPUS = Path(__file__).resolve().parent.parent / "evalsets" / "covid_qa" / "corpus.jsonl"
MODEL = "gpt-4o"


def render(context: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": "Answer from the numbered context; cite passages as [n]."},
        {"role": "user", "content": f"Context:\n{context}\n\nQuestion: What causes MTCT?"},
    ]


def tokens(context: str, model: str = MODEL) -> int:
    return count_chat_tokens(render(context), model)


@pytest.fixture(scope="module")
def doc_chunks() -> tuple[str, list[Chunk]]:
    doc = load_jsonl_corpus(CORPUS)[0]
    chunks = chunk_document(doc, ChunkingConfig(size=120, overlap=0))[:6]
    return doc.text, chunks


def guard(
    chunks: Sequence[Chunk],
    window: int,
    policy: str = "drop",
    model: str = MODEL,
    count_tokens: CountTokens | None = None,
) -> GuardResult:
    return fit_context(
        chunks,
        render,
        model=model,
        context_window=window,
        max_tokens=200,
        policy=policy,  # type: ignore[arg-type]  # unchecked on purpose: bad names are tested
        count_tokens=count_tokens,
    )


def test_everything_fits_nothing_changes(doc_chunks: tuple[str, list[Chunk]]) -> None:
    _, chunks = doc_chunks
    result = guard(chunks, 100_000, "fail")
    assert not result.overflowed
    assert result.kept == tuple(chunks) and result.dropped == () and result.truncated is None
    context = number_passages([c.text for c in chunks])
    assert result.context == context
    assert result.prompt_tokens == tokens(context)
    assert result.used == tokens(context) - tokens("") == result.needed
    assert result.limit == 100_000 - 200 and result.budget == result.limit - tokens("")
    assert result.counter == "tiktoken:o200k_base"


def _window_for(chunks: Sequence[Chunk], n: int, extra: int) -> int:
    """A context window in which the first n chunks fit, with `extra` tokens to spare."""
    return tokens(number_passages([c.text for c in chunks[:n]])) + 200 + extra


def test_drop_keeps_the_best_ranked_run_that_fits(doc_chunks: tuple[str, list[Chunk]]) -> None:
    _, chunks = doc_chunks
    window = _window_for(chunks, 3, extra=40)
    result = guard(chunks, window, "drop")
    assert result.overflowed
    assert result.kept == tuple(chunks[:3])
    assert result.dropped == tuple(c.chunk_id for c in chunks[3:])
    assert result.truncated is None
    assert result.prompt_tokens == tokens(result.context) <= result.limit
    assert tokens(number_passages([c.text for c in chunks[:4]])) > result.limit
    assert result.needed > result.budget >= result.used
    json.dumps(result.to_record(), allow_nan=False)


def test_truncate_fills_the_budget_with_a_token_cut(doc_chunks: tuple[str, list[Chunk]]) -> None:
    doc_text, chunks = doc_chunks
    window = _window_for(chunks, 3, extra=40)
    result = guard(chunks, window, "truncate")
    assert result.kept[:3] == tuple(chunks[:3])
    cut = result.kept[3]
    assert result.truncated == cut.chunk_id == chunks[3].chunk_id
    assert result.dropped == tuple(c.chunk_id for c in chunks[4:])
    assert chunks[3].text.startswith(cut.text) and 0 < len(cut.text) < len(chunks[3].text)
    assert doc_text[cut.start_char : cut.end_char] == cut.text
    enc = get_encoding("o200k_base")
    assert cut.token_count == len(enc.encode_ordinary(cut.text))
    assert result.prompt_tokens == tokens(result.context) <= result.limit
    # maximal: one more token of the chunk would not fit
    whole = enc.encode_ordinary(chunks[3].text)
    n = len(enc.encode_ordinary(cut.text))
    longer = enc.decode(whole[: n + 1])
    assert tokens(number_passages([*(c.text for c in chunks[:3]), longer])) > result.limit
    assert result.limit - result.prompt_tokens < 10


def test_truncate_drops_a_chunk_when_not_even_a_token_fits(
    doc_chunks: tuple[str, list[Chunk]],
) -> None:
    _, chunks = doc_chunks
    window = _window_for(chunks, 2, extra=2)
    result = guard(chunks, window, "truncate")
    assert result.kept == tuple(chunks[:2])
    assert result.truncated is None
    assert result.dropped == tuple(c.chunk_id for c in chunks[2:])


def test_fail_names_budget_and_need(doc_chunks: tuple[str, list[Chunk]]) -> None:
    _, chunks = doc_chunks
    window = _window_for(chunks, 2, extra=0)
    need = tokens(number_passages([c.text for c in chunks])) - tokens("")
    budget = window - 200 - tokens("")
    with pytest.raises(ContextOverflowError) as info:
        guard(chunks, window, "fail")
    assert f"needs {need} tokens but the budget is {budget}" in info.value.reason
    assert info.value.where == "6 chunks"
    assert info.value.exit_code == 2


@pytest.mark.parametrize("policy", ["drop", "truncate", "fail"])
def test_prompt_alone_over_the_limit_always_raises(
    doc_chunks: tuple[str, list[Chunk]], policy: str
) -> None:
    _, chunks = doc_chunks
    with pytest.raises(ContextOverflowError, match="without any context"):
        guard(chunks, tokens("") + 200 - 1, policy)


def test_encoding_follows_the_model_family(doc_chunks: tuple[str, list[Chunk]]) -> None:
    _, chunks = doc_chunks
    window = _window_for(chunks, 3, extra=40)
    old = guard(chunks, window, "truncate", model="gpt-4")
    assert old.counter == "tiktoken:cl100k_base"
    assert old.prompt_tokens == count_chat_tokens(render(old.context), "gpt-4") <= old.limit
    assert old.prompt_tokens != tokens(old.context, MODEL)


def test_custom_counter_is_used_for_every_count(doc_chunks: tuple[str, list[Chunk]]) -> None:
    _, chunks = doc_chunks
    calls: list[int] = []

    def words(messages: Sequence[Mapping[str, str]]) -> int:
        calls.append(1)
        return sum(len(m["content"].split()) + 4 for m in messages)

    window = words(render(number_passages([c.text for c in chunks[:4]]))) + 200
    calls.clear()
    result = guard(chunks, window, "drop", count_tokens=words)
    assert result.counter == "custom"
    assert calls
    assert result.kept == tuple(chunks[:4])
    assert result.prompt_tokens == words(render(result.context)) <= result.limit


def test_unknown_policy_is_rejected(doc_chunks: tuple[str, list[Chunk]]) -> None:
    with pytest.raises(ValueError, match="unknown policy"):
        guard(doc_chunks[1], 10_000, "squeeze")


@pytest.mark.slow
def test_embedded_model_counter_matches_the_engine(doc_chunks: tuple[str, list[Chunk]]) -> None:
    from promptops.local.engine import prompt_ids
    from promptops.local.model import get_model

    _, chunks = doc_chunks
    count = embedded_model_counter()
    smol = count(render(number_passages([c.text for c in chunks[:3]])))
    result = guard(chunks, smol + 200 + 10, "truncate", count_tokens=count)
    assert result.counter == "custom"
    assert result.kept[:3] == tuple(chunks[:3]) and result.truncated == chunks[3].chunk_id
    engine_tokens = len(prompt_ids(get_model(), render(result.context)))
    assert result.prompt_tokens == engine_tokens <= result.limit
    # SmolLM2's tokenizer is not tiktoken: the two counts of the same prompt differ
    assert engine_tokens != tokens(result.context)
