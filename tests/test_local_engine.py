"""The embedded model: conversion cache, generation, and KV-cached label scoring.

Tests that need the model share the process-wide instance (`get_model`); the first load on a
fresh machine converts the GGUF into the cache (PROMPTOPS_CACHE_DIR when set).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from promptops.errors import ContextOverflowError, UserInputError
from promptops.local import engine, model, scoring
from promptops.local.model import LoadedModel, get_model

LABELS = [
    "card_arrival",
    "change_pin",
    "exchange_rate",
    "lost_or_stolen_card",
    "terminate_account",
    "top_up_failed",
]
MESSAGES = [
    {"role": "system", "content": "Classify the message. Labels: " + ", ".join(LABELS)},
    {"role": "user", "content": "My new card still has not arrived, where is it?"},
]
QUESTION = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]


@pytest.fixture(scope="module")
def loaded() -> LoadedModel:
    return get_model()


# --- cache location and atomic conversion (no model needed) ---


def test_cache_root_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PROMPTOPS_CACHE_DIR", str(tmp_path / "explicit"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert model.cache_root() == tmp_path / "explicit"
    monkeypatch.delenv("PROMPTOPS_CACHE_DIR")
    assert model.cache_root() == tmp_path / "xdg" / "promptops"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert model.cache_root() == tmp_path / "home" / ".cache" / "promptops"


def test_converted_dir_follows_the_file_content(tmp_path: Path) -> None:
    first, second = tmp_path / "a.gguf", tmp_path / "b.gguf"
    first.write_bytes(b"x" * 100)
    second.write_bytes(b"x" * 101)
    root = tmp_path / "cache"
    name = model.converted_dir(first, root)
    assert name.parent == root / "models"
    assert name.name.startswith("smollm2-135m-instruct-")
    assert name == model.converted_dir(first, root)
    assert name != model.converted_dir(second, root)


def test_bundled_gguf_is_found() -> None:
    path = model.gguf_path()
    assert path.name == model.GGUF_FILE
    assert path.stat().st_size > 50_000_000


class _FakeTokenizer:
    """Stands in for the GGUF tokenizer (slow to parse); can fail while saving."""

    def __init__(self, fail: bool) -> None:
        self.fail = fail

    def save_pretrained(self, path: Path) -> None:
        if self.fail:
            raise KeyboardInterrupt  # as if the user pressed Ctrl-C mid-write
        (Path(path) / "tokenizer.json").write_text("{}")


def _fake_conversion(monkeypatch: pytest.MonkeyPatch, fail: bool) -> None:
    """A tiny random Llama instead of dequantizing the real GGUF, to keep the test fast."""
    import transformers

    tiny = transformers.LlamaConfig(
        vocab_size=32,
        hidden_size=8,
        intermediate_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
    )
    monkeypatch.setattr(
        transformers.AutoModelForCausalLM,
        "from_pretrained",
        lambda *a, **k: transformers.LlamaForCausalLM(tiny),
    )
    monkeypatch.setattr(
        transformers.AutoTokenizer, "from_pretrained", lambda *a, **k: _FakeTokenizer(fail)
    )


def test_conversion_is_atomic(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    target = tmp_path / "models" / "smollm2-135m-instruct-test"
    _fake_conversion(monkeypatch, fail=True)
    with pytest.raises(KeyboardInterrupt):  # the weights were already written when it broke
        model._convert(model.gguf_path(), target)
    assert list(target.parent.iterdir()) == []  # neither the target nor the staging dir

    _fake_conversion(monkeypatch, fail=False)
    model._convert(model.gguf_path(), target)
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {
        p.name for p in target.iterdir()
    }


# --- label scoring ---


def _naive_logprobs(
    loaded: LoadedModel, messages: list[dict[str, str]], labels: list[str] = LABELS
) -> dict[str, float]:
    """Independent reference: one full forward pass per prompt+label, no cache, no batching."""
    import torch

    prompt = engine.prompt_ids(loaded, messages)
    result = {}
    for label in labels:
        continuation = engine.label_ids(loaded, label)
        ids = torch.tensor([prompt + continuation])
        with torch.inference_mode():
            logits = loaded.model(input_ids=ids).logits[0].float()
        steps = torch.log_softmax(logits[len(prompt) - 1 : -1], dim=-1)
        result[label] = float(steps.gather(1, torch.tensor(continuation)[:, None]).sum())
    return result


def _case(message: str, system: str = MESSAGES[0]["content"]) -> list[dict[str, str]]:
    return [{"role": "system", "content": system}, {"role": "user", "content": message}]


CASES = [
    "My new card still has not arrived, where is it?",
    "How do I reset my PIN?",
    "what's the rate for euros today",
    "Close my account now!!",
]


@pytest.mark.slow
@pytest.mark.parametrize("batch", [16, 4])  # 4 splits the labels over two cache copies
def test_reference_scoring_matches_full_sequences(
    loaded: LoadedModel, monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    monkeypatch.setattr(scoring, "_LABEL_BATCH", batch)
    scores = engine.label_scores(MESSAGES, LABELS, reuse_prefix=False)
    reference = _naive_logprobs(loaded, MESSAGES)
    for label in LABELS:
        assert scores.logprobs[label] == pytest.approx(reference[label], abs=1e-4)
    assert scores.prompt_tokens == len(engine.prompt_ids(loaded, MESSAGES))


@pytest.mark.slow
def test_prefix_reuse_matches_full_sequences_and_the_previous_method(
    loaded: LoadedModel,
) -> None:
    """Cases sharing a system message: the prefix is run once, every case and label still
    scores as its own full sequence would (and as the previous per-prompt method did)."""
    engine.clear_prefix_cache()
    hits = engine._prefixes.hits
    for message in CASES:
        messages = _case(message)
        fast = engine.label_scores(messages, LABELS)
        before = engine.label_scores(messages, LABELS, reuse_prefix=False)
        reference = _naive_logprobs(loaded, messages)
        for label in LABELS:
            assert fast.logprobs[label] == pytest.approx(reference[label], abs=1e-4)
            assert fast.logprobs[label] == pytest.approx(before.logprobs[label], abs=1e-4)
            assert fast.probs[label] == pytest.approx(before.probs[label], abs=1e-4)
        assert fast.best == before.best
        assert fast.prompt_tokens == before.prompt_tokens
        assert fast.label_tokens == before.label_tokens
    assert len(engine._prefixes) == 1
    assert engine._prefixes.hits - hits == len(CASES) - 1


@pytest.mark.slow
def test_cached_prefix_is_never_written(loaded: LoadedModel) -> None:
    engine.clear_prefix_cache()
    engine.label_scores(_case(CASES[0]), LABELS)
    (entry,) = engine._prefixes._entries.values()
    saved = [(k.clone(), v.clone()) for k, v in entry.layers]
    engine.label_scores(_case(CASES[1]), LABELS)
    engine.label_scores(_case(CASES[2]), ["a", "bb", "card_arrival"])
    for (key, value), (k0, v0) in zip(entry.layers, saved, strict=True):
        assert key.shape == k0.shape and value.shape == v0.shape
        assert key.equal(k0) and value.equal(v0)


@pytest.mark.slow
def test_prefix_reuse_across_prompts_labels_and_lengths(loaded: LoadedModel) -> None:
    """Two prompts interleaved, a single-message prompt (its own prefix: the template's
    default system prompt), one-token and many-token labels, and many labels: all equal to
    the full-sequence reference."""
    engine.clear_prefix_cache()
    other = "You sort messages. Reply with one of: " + ", ".join(reversed(LABELS)) + "."
    many = [*LABELS, "", "x", "a much longer label with several words", *map(str, range(12))]
    checks = [
        (_case(CASES[0]), LABELS),
        (_case(CASES[1], system=other), LABELS),
        (_case(CASES[2]), many),
        (_case(CASES[3], system=other), ["yes", "no"]),
        ([{"role": "user", "content": CASES[1]}], LABELS),
        # few-shot turns after the cached system message: cached on top of it
        (
            [
                *_case(CASES[0])[:1],
                {"role": "user", "content": CASES[2]},
                {"role": "assistant", "content": "exchange_rate"},
                {"role": "user", "content": CASES[1]},
            ],
            LABELS,
        ),
    ]
    for messages, labels in checks:
        fast = engine.label_scores(messages, labels)
        reference = _naive_logprobs(loaded, messages, labels)
        for label in labels:
            assert fast.logprobs[label] == pytest.approx(reference[label], abs=1e-4), label
    assert len(engine._prefixes) == 4
    few_shot = checks[-1][0]
    boundary = scoring.shared_prefix_length(loaded, few_shot, engine.prompt_ids(loaded, few_shot))
    assert boundary in {len(key) for key in engine._prefixes._entries}


@pytest.mark.slow
def test_packed_pass_without_a_cached_prefix(loaded: LoadedModel) -> None:
    """The path for prompts too short to cache: the whole prompt and all labels in one row."""
    import torch

    messages = _case(CASES[3])
    prompt = engine.prompt_ids(loaded, messages)
    continuations = [engine.label_ids(loaded, label) for label in LABELS]
    with torch.inference_mode():
        totals = scoring.packed_logprobs(loaded, None, prompt, continuations)
    reference = _naive_logprobs(loaded, messages)
    for label, total in zip(LABELS, totals.tolist(), strict=True):
        assert total == pytest.approx(reference[label], abs=1e-4)


def test_shared_prefix_stops_where_tokens_first_differ(loaded: LoadedModel) -> None:
    """The boundary is where the last message's text starts, measured as the common prefix of
    the head's own tokens and the prompt's, so a BPE merge across it costs one token of the
    cache instead of a wrong cache."""
    messages = _case(CASES[0])
    prompt = engine.prompt_ids(loaded, messages)
    boundary = scoring.shared_prefix_length(loaded, messages, prompt)
    message_ids = loaded.tokenizer(CASES[0], add_special_tokens=False)["input_ids"]
    assert prompt[boundary : boundary + len(message_ids)] == message_ids
    other = engine.prompt_ids(loaded, _case(CASES[1]))
    assert other[:boundary] == prompt[:boundary]
    changed = [*prompt[: boundary - 1], prompt[boundary - 1] + 1, *prompt[boundary - 1 :]]
    assert scoring.shared_prefix_length(loaded, messages, changed) == boundary - 1
    assert scoring.shared_prefix_length(loaded, messages, prompt[:boundary]) == boundary - 1
    # a lone user message still shares the template's default system prompt
    alone = [{"role": "user", "content": CASES[0]}]
    alone_ids = engine.prompt_ids(loaded, alone)
    shared = scoring.shared_prefix_length(loaded, alone, alone_ids)
    assert alone_ids[shared : shared + len(message_ids)] == message_ids


def test_prefix_cache_keeps_the_longest_match_and_evicts_the_oldest() -> None:
    cache = scoring.PrefixCache(capacity=2)
    short, long, other = (scoring.Prefix(ids, ()) for ids in ((1, 2), (1, 2, 3), (7, 8)))
    cache.add(short)
    cache.add(long)
    assert cache.find([1, 2, 3, 4]) is long
    assert cache.find([1, 2, 3]) is short  # a prefix must leave a token to score from
    assert cache.find([1, 9]) is None
    cache.add(other)  # evicts `long`, used less recently than `short`
    assert cache.find([1, 2, 3, 4]) is short
    assert cache.find([7, 8, 9]) is other
    assert len(cache) == 2
    assert (cache.hits, cache.misses) == (4, 1)


@pytest.mark.slow
def test_probabilities_are_a_softmax_over_label_likelihoods(loaded: LoadedModel) -> None:
    scores = engine.label_scores(MESSAGES, LABELS)
    assert list(scores.probs) == LABELS
    assert sum(scores.probs.values()) == pytest.approx(1.0, abs=1e-9)
    norm = sum(math.exp(lp) for lp in scores.logprobs.values())
    for label in LABELS:
        assert scores.probs[label] == pytest.approx(math.exp(scores.logprobs[label]) / norm)
        assert scores.label_tokens[label] == len(engine.label_ids(loaded, label))
    assert engine.score_labels(MESSAGES, LABELS) == scores.probs
    assert scores.best == max(scores.probs, key=scores.probs.__getitem__)


@pytest.mark.slow
def test_label_tokens_are_the_templated_assistant_reply(loaded: LoadedModel) -> None:
    """Scoring `label + end-of-turn` after the prompt is exactly the chat template's reply."""
    tokenizer = loaded.tokenizer
    for label in LABELS:
        text = tokenizer.apply_chat_template(
            [*MESSAGES, {"role": "assistant", "content": label}], tokenize=False
        )
        full = tokenizer(str(text), add_special_tokens=False)["input_ids"]
        expected = engine.prompt_ids(loaded, MESSAGES) + engine.label_ids(loaded, label)
        assert full[: len(expected)] == expected


@pytest.mark.slow
def test_label_input_errors(loaded: LoadedModel) -> None:
    with pytest.raises(UserInputError, match="at least one label"):
        engine.label_scores(MESSAGES, [])
    with pytest.raises(UserInputError, match="distinct"):
        engine.label_scores(MESSAGES, ["a", "a"])
    with pytest.raises(UserInputError, match="at least one message"):
        engine.label_scores([], LABELS)


# --- generation ---


@pytest.mark.slow
def test_greedy_generation_is_deterministic_and_counts_tokens(loaded: LoadedModel) -> None:
    first = engine.generate(QUESTION, max_tokens=12, temperature=0)
    again = engine.generate(QUESTION, max_tokens=12, temperature=0)
    assert first == again
    assert "Paris" in first.text
    assert first.prompt_tokens == len(engine.prompt_ids(loaded, QUESTION))
    assert 1 <= first.completion_tokens <= 12

    short = engine.generate(QUESTION, max_tokens=2, temperature=0)
    assert short.finish_reason == "length"
    assert short.completion_tokens == 2
    assert first.text.startswith(short.text)


@pytest.mark.slow
def test_stop_sequence_cuts_the_text(loaded: LoadedModel) -> None:
    full = engine.generate(QUESTION, max_tokens=12, temperature=0)
    word = full.text.split()[2]  # a word from the middle of the greedy reply
    cut = engine.generate(QUESTION, max_tokens=12, temperature=0, stop=[word])
    assert cut.text == full.text[: full.text.index(word)]
    assert cut.finish_reason == "stop"


@pytest.mark.slow
def test_seeded_sampling_repeats(loaded: LoadedModel) -> None:
    one = engine.generate(QUESTION, max_tokens=8, temperature=1.0, top_p=0.9, seed=7)
    two = engine.generate(QUESTION, max_tokens=8, temperature=1.0, top_p=0.9, seed=7)
    assert one.text == two.text


@pytest.mark.slow
def test_token_logprobs(loaded: LoadedModel) -> None:
    result = engine.generate(QUESTION, max_tokens=4, temperature=0, top_logprobs=3)
    assert result.logprobs is not None
    assert "".join(t.token for t in result.logprobs) == result.text
    for token in result.logprobs:
        assert len(token.top) == 3
        assert token.top[0][0] == token.token  # greedy picks the top-1 token
        assert token.top[0][1] == pytest.approx(token.logprob)
        assert token.logprob <= 0


@pytest.mark.slow
def test_context_overflow(loaded: LoadedModel) -> None:
    huge = [{"role": "user", "content": "word " * loaded.context_window}]
    with pytest.raises(ContextOverflowError):
        engine.generate(huge, max_tokens=1)
    with pytest.raises(ContextOverflowError):
        engine.label_scores(huge, LABELS)
    with pytest.raises(ContextOverflowError):
        engine.generate(QUESTION, max_tokens=loaded.context_window)
