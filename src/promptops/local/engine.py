"""Text generation and label scoring with the embedded model, on CPU.

Label scoring ranks complete answers rather than sampling one: each label is scored as the
assistant's whole reply (its tokens plus the end-of-turn token, so "card" cannot win on a
prefix of "card_arrival"), and the label probabilities are a softmax over those summed
log-likelihoods. The prompt prefix that cases share is run once and its KV cache kept; each
case then costs one pass over its own tokens and all label continuations (`scoring`).

One lock serialises model work: the model and torch's RNG are shared process-wide.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

from promptops.errors import ContextOverflowError, UserInputError
from promptops.local.model import LoadedModel, get_model
from promptops.local.scoring import (
    PrefixCache,
    prefix_logprobs,
    shared_prefix_length,
    whole_prompt_logprobs,
)

if TYPE_CHECKING:
    import torch
    from transformers.generation.utils import GenerateDecoderOnlyOutput

Messages = Sequence[Mapping[str, str]]

DEFAULT_MAX_TOKENS = 512
MAX_TOP_LOGPROBS = 20

_lock = threading.Lock()
_prefixes = PrefixCache()  # guarded by _lock, like the model


class _Generator(Protocol):
    """The slice of a causal LM's `generate` used here, for the type checker."""

    def generate(self, inputs: torch.Tensor, **kwargs: Any) -> GenerateDecoderOnlyOutput: ...


@dataclass(frozen=True)
class TokenLogprob:
    token: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Generation:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" (end of turn or a stop string) or "length"
    logprobs: tuple[TokenLogprob, ...] | None = None


@dataclass(frozen=True)
class LabelScores:
    probs: dict[str, float]  # softmax over labels of `logprobs`
    logprobs: dict[str, float]  # log P(label + end-of-turn | prompt)
    prompt_tokens: int
    label_tokens: dict[str, int]  # continuation length of each label, end-of-turn included

    @property
    def best(self) -> str:
        return max(self.probs, key=self.probs.__getitem__)


def prompt_ids(loaded: LoadedModel, messages: Messages) -> list[int]:
    """Token ids of `messages` in the model's chat template, ending where the reply starts."""
    if not messages:
        raise UserInputError("at least one message is required", where="messages")
    text = loaded.tokenizer.apply_chat_template(
        [dict(message) for message in messages], tokenize=False, add_generation_prompt=True
    )
    return list(loaded.tokenizer(str(text), add_special_tokens=False)["input_ids"])


def label_ids(loaded: LoadedModel, label: str) -> list[int]:
    """The reply tokens for `label`: its text, then the end-of-turn token."""
    tokenizer = loaded.tokenizer
    return [*tokenizer.encode(label, add_special_tokens=False), int(tokenizer.eos_token_id)]


def _check_fits(loaded: LoadedModel, prompt_length: int, extra: int) -> None:
    if prompt_length + extra > loaded.context_window:
        raise ContextOverflowError(
            f"{prompt_length} prompt tokens + {extra} reply tokens exceed the embedded model's "
            f"{loaded.context_window}-token context window",
            where="messages",
        )


def generate(
    messages: Messages,
    max_tokens: int | None = None,
    temperature: float = 0.0,
    top_p: float | None = None,
    seed: int | None = None,
    stop: Sequence[str] | None = None,
    top_logprobs: int | None = None,
) -> Generation:
    """Reply to `messages`: greedy at temperature 0, otherwise sampled (reproducibly when
    `seed` is set). `top_logprobs` (0-20) asks for per-token log-probabilities."""
    import torch

    loaded = get_model()
    tokenizer = loaded.tokenizer
    stops = [s for s in (stop or ()) if s]
    with _lock:
        # under the lock: transformers' lazy submodule import is not safe from two
        # server threads at once ("cannot import name 'GenerationConfig'")
        from transformers import GenerationConfig

        prompt = prompt_ids(loaded, messages)
        room = loaded.context_window - len(prompt)
        if max_tokens is None:
            max_tokens = min(DEFAULT_MAX_TOKENS, room)
        _check_fits(loaded, len(prompt), max(max_tokens, 1))
        settings: dict[str, Any] = {"do_sample": False}
        if temperature > 0:
            settings = {"do_sample": True, "temperature": temperature, "top_k": 0}
            if top_p is not None:
                settings["top_p"] = top_p
        config = GenerationConfig.from_dict(
            {
                "max_new_tokens": max_tokens,
                "stop_strings": stops or None,
                "return_dict_in_generate": True,
                "output_logits": top_logprobs is not None,
                "eos_token_id": tokenizer.eos_token_id,
                "pad_token_id": tokenizer.eos_token_id,
                **settings,
            }
        )
        with torch.random.fork_rng(devices=[]), torch.inference_mode():
            if seed is not None:
                torch.manual_seed(seed)
            output = cast("_Generator", loaded.model).generate(
                torch.tensor([prompt]),
                attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
                generation_config=config,
                tokenizer=tokenizer,
            )
    new_ids = [int(t) for t in output.sequences[0, len(prompt) :]]
    eos = int(tokenizer.eos_token_id)
    ended = eos in new_ids
    content_ids = new_ids[: new_ids.index(eos)] if ended else new_ids
    text = _decode(loaded, content_ids)
    cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=-1)
    if cut >= 0:
        text = text[:cut]
        content_ids = _ids_covering(loaded, content_ids, len(text))
    finish = "stop" if ended or cut >= 0 or len(new_ids) < max_tokens else "length"
    logprobs = None
    if top_logprobs is not None and output.logits is not None:
        logprobs = _token_logprobs(loaded, output.logits, content_ids, top_logprobs)
    return Generation(text, len(prompt), len(new_ids), finish, logprobs)


def _decode(loaded: LoadedModel, ids: list[int]) -> str:
    return str(loaded.tokenizer.decode(ids, skip_special_tokens=True))


def _ids_covering(loaded: LoadedModel, ids: list[int], length: int) -> list[int]:
    """The shortest prefix of `ids` whose text reaches `length` characters (after a stop cut)."""
    for count in range(len(ids) + 1):
        if len(_decode(loaded, ids[:count])) >= length:
            return ids[:count]
    return ids


def _token_logprobs(
    loaded: LoadedModel, logits: Sequence[torch.Tensor], ids: list[int], top: int
) -> tuple[TokenLogprob, ...]:
    """Log-probabilities from the raw (untempered) logits, as OpenAI reports them."""
    import torch

    top = max(0, min(top, MAX_TOP_LOGPROBS))
    result = []
    for step, token_id in enumerate(ids):
        row = torch.log_softmax(logits[step][0].float(), dim=-1)
        best = torch.topk(row, top) if top else None
        alternatives = (
            tuple(
                (_decode(loaded, [int(i)]), float(v))
                for v, i in zip(best.values, best.indices, strict=True)
            )
            if best is not None
            else ()
        )
        result.append(TokenLogprob(_decode(loaded, [token_id]), float(row[token_id]), alternatives))
    return tuple(result)


def score_labels(messages: Messages, labels: Sequence[str]) -> dict[str, float]:
    """P(label | messages) over `labels`, each scored as the assistant's complete reply."""
    return label_scores(messages, labels).probs


def label_scores(
    messages: Messages, labels: Sequence[str], *, reuse_prefix: bool = True
) -> LabelScores:
    """`score_labels` with the log-likelihoods and token counts behind it. `reuse_prefix=False`
    runs the previous method (whole prompt per call), the reference for tests and benchmarks."""
    import torch

    if not labels:
        raise UserInputError("at least one label is required", where="labels")
    if len(set(labels)) != len(labels):
        raise UserInputError("labels must be distinct", where="labels")
    loaded = get_model()
    with _lock:
        prompt = prompt_ids(loaded, messages)
        continuations = [label_ids(loaded, label) for label in labels]
        _check_fits(loaded, len(prompt), max(len(c) for c in continuations))
        with torch.inference_mode():
            if reuse_prefix:
                boundary = shared_prefix_length(loaded, messages, prompt)
                totals = prefix_logprobs(loaded, prompt, boundary, continuations, _prefixes)
            else:
                totals = whole_prompt_logprobs(loaded, prompt, continuations)
    logprobs = dict(zip(labels, totals.tolist(), strict=True))
    probs = torch.softmax(totals, dim=0).tolist()
    return LabelScores(
        probs=dict(zip(labels, probs, strict=True)),
        logprobs=logprobs,
        prompt_tokens=len(prompt),
        label_tokens={label: len(c) for label, c in zip(labels, continuations, strict=True)},
    )


def clear_prefix_cache() -> None:
    """Forget the cached prompt prefixes (their memory, or a cold-start measurement)."""
    with _lock:
        _prefixes.clear()
