"""Label log-likelihoods with the embedded model: a shared prompt prefix run once, then each
case's remaining tokens and every label continuation in one forward pass.

Cases of one eval share most of their prompt (system message, label descriptions, few-shot
turns, the last turn's role header); only the last message's content differs. The KV cache of
that shared prefix is kept in a small LRU and reused read-only: a forward pass grows a cache
by concatenation, so the stored tensors are never written (cache objects are rebuilt around
them for each case).

A case's pass packs its suffix (the tokens after the prefix) and every label continuation
into one row. Each label segment restarts its positions right after the suffix and sees the
prefix, the whole suffix and its own earlier tokens, never another label's (a 4-D attention
mask spells this out), so one row scores all labels exactly as separate sequences would,
without repeating the cache once per label or padding labels to one length. Logits are
projected only at the positions that predict a label token (`logits_to_keep`).

`whole_prompt_logprobs` is the previous method (the full prompt per case, labels batched on a
copy of its cache), kept as the reference the benchmark and the tests compare with.
"""

from __future__ import annotations

import copy
import inspect
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from promptops.local.model import LoadedModel

if TYPE_CHECKING:
    import torch

Messages = Sequence[Mapping[str, str]]

PREFIX_CACHE_SIZE = 4  # distinct prompts interleaved in one process (an eval, its calibration)
MIN_PREFIX_TOKENS = 16  # below this a cached prefix saves less than it costs to keep
_LABEL_BATCH = 16  # reference path: bounds the memory of the repeated prompt cache


@dataclass(frozen=True)
class Prefix:
    """The KV cache of a prompt prefix: one (keys, values) pair per layer, batch size 1."""

    ids: tuple[int, ...]
    layers: tuple[tuple[torch.Tensor, torch.Tensor], ...]


class PrefixCache:
    """The most recently used prefixes, looked up by the longest one that starts a prompt."""

    def __init__(self, capacity: int = PREFIX_CACHE_SIZE) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[tuple[int, ...], Prefix] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def find(self, prompt: Sequence[int]) -> Prefix | None:
        """The longest cached prefix of `prompt` that leaves at least one token after it."""
        best: Prefix | None = None
        for key, entry in self._entries.items():
            n = len(key)
            longer = best is None or n > len(best.ids)
            if n < len(prompt) and longer and tuple(prompt[:n]) == key:
                best = entry
        if best is not None:
            self._entries.move_to_end(best.ids)
            self.hits += 1
        else:
            self.misses += 1
        return best

    def add(self, prefix: Prefix) -> None:
        self._entries[prefix.ids] = prefix
        self._entries.move_to_end(prefix.ids)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()


_MARKER = "\ue000"  # a private-use character: stands in for the last message's content


def shared_prefix_length(loaded: LoadedModel, messages: Messages, prompt: Sequence[int]) -> int:
    """How many leading tokens of `prompt` come before the last message's content: the part
    cases of one prompt file share (system message, few-shot turns, the last turn's header).
    Tokenizing that text alone can merge differently at its end (a BPE merge across the
    boundary), so the length is the common prefix of both token lists, one token shorter
    where they part."""
    if not messages:
        return 0
    tokenizer = loaded.tokenizer
    probe = [*(dict(m) for m in messages[:-1]), {**messages[-1], "content": _MARKER}]
    text = str(tokenizer.apply_chat_template(probe, tokenize=False, add_generation_prompt=True))
    if _MARKER not in text:  # a template that rewrites content: share nothing
        return 0
    head_ids = tokenizer(text.split(_MARKER)[0], add_special_tokens=False)["input_ids"]
    common = 0
    for a, b in zip(head_ids, prompt, strict=False):
        if a != b:
            break
        common += 1
    return min(common, len(prompt) - 1)


def prefix_logprobs(
    loaded: LoadedModel,
    prompt: list[int],
    boundary: int,
    continuations: list[list[int]],
    prefixes: PrefixCache,
) -> torch.Tensor:
    """log P(continuation | prompt) for each continuation (float64), reusing the cached KV of
    the longest known prefix of `prompt`. When `prompt[:boundary]` reaches well past it (a
    first case, or few-shot turns after a cached system message), that is cached too, computed
    on top of the known prefix."""
    prefix = prefixes.find(prompt)
    if boundary - (len(prefix.ids) if prefix is not None else 0) >= MIN_PREFIX_TOKENS:
        prefix = run_prefix(loaded, prompt[:boundary], base=prefix)
        prefixes.add(prefix)
    start = len(prefix.ids) if prefix is not None else 0
    return packed_logprobs(loaded, prefix, prompt[start:], continuations)


def run_prefix(loaded: LoadedModel, ids: list[int], base: Prefix | None = None) -> Prefix:
    """The KV cache of `ids`, continuing `base` (a cached prefix of `ids`) when given."""
    import torch
    from transformers import DynamicCache

    model = loaded.model
    start = len(base.ids) if base is not None else 0
    past = {_cache_argument(model): DynamicCache(ddp_cache_data=base.layers)} if base else {}
    output = model(input_ids=torch.tensor([ids[start:]]), use_cache=True, logits_to_keep=1, **past)
    cache = _kv_cache(output)
    layers = tuple((layer.keys, layer.values) for layer in cache.layers)
    return Prefix(tuple(ids), layers)


def packed_logprobs(
    loaded: LoadedModel, prefix: Prefix | None, suffix: list[int], continuations: list[list[int]]
) -> torch.Tensor:
    """One forward pass over `suffix` + every continuation but its last token, on top of the
    prefix's cache; see the module docstring for the layout."""
    import torch
    from transformers import DynamicCache

    past = len(prefix.ids) if prefix is not None else 0
    n_suffix = len(suffix)
    tokens, positions = list(suffix), list(range(past, past + n_suffix))
    starts = []
    for continuation in continuations:
        starts.append(len(tokens))
        tokens += continuation[:-1]
        positions += range(past + n_suffix, past + n_suffix + len(continuation) - 1)
    length = len(tokens)
    allowed = torch.zeros(length, past + length, dtype=torch.bool)
    allowed[:, :past] = True
    suffix_rows = torch.arange(n_suffix)
    allowed[:n_suffix, past : past + n_suffix] = suffix_rows[:, None] >= suffix_rows[None, :]
    allowed[n_suffix:, past : past + n_suffix] = True
    for start, continuation in zip(starts, continuations, strict=True):
        end = start + len(continuation) - 1
        own = torch.arange(start, end)
        allowed[start:end, past + start : past + end] = own[:, None] >= own[None, :]
    dtype = loaded.model.dtype
    mask = torch.zeros(1, 1, length, past + length, dtype=dtype)
    mask.masked_fill_(~allowed, torch.finfo(dtype).min)
    # Logits at the suffix's last position (every label's first token) and at every label
    # position but none of the suffix's others.
    keep = torch.tensor([n_suffix - 1, *range(n_suffix, length)])
    cache = DynamicCache(ddp_cache_data=prefix.layers) if prefix is not None else None
    model = loaded.model
    output = model(
        input_ids=torch.tensor([tokens]),
        position_ids=torch.tensor([positions]),
        attention_mask=mask,
        use_cache=cache is not None,
        logits_to_keep=keep,
        **({_cache_argument(model): cache} if cache is not None else {}),
    )
    steps = torch.log_softmax(output.logits[0].float(), dim=-1)
    rows: list[int] = []
    targets: list[int] = []
    owners: list[int] = []
    for label, (start, continuation) in enumerate(zip(starts, continuations, strict=True)):
        rows += [0, *range(start - n_suffix + 1, start - n_suffix + len(continuation))]
        targets += continuation
        owners += [label] * len(continuation)
    picked = steps[torch.tensor(rows), torch.tensor(targets)].double()
    totals = torch.zeros(len(continuations), dtype=torch.float64)
    return totals.index_add_(0, torch.tensor(owners), picked)


def whole_prompt_logprobs(
    loaded: LoadedModel, prompt: list[int], continuations: list[list[int]]
) -> torch.Tensor:
    """The previous method, kept as a reference: the whole prompt per case, then the
    continuations right-padded and batched on copies of its KV cache."""
    import torch

    model = loaded.model
    head = model(input_ids=torch.tensor([prompt]), use_cache=True, logits_to_keep=1)
    first = torch.log_softmax(head.logits[0, -1].float(), dim=-1)
    totals = torch.tensor([float(first[c[0]]) for c in continuations], dtype=torch.float64)
    pad = int(loaded.tokenizer.eos_token_id)
    for start in range(0, len(continuations), _LABEL_BATCH):
        batch = continuations[start : start + _LABEL_BATCH]
        width = max(len(c) for c in batch) - 1  # the last token of each is only predicted
        if width == 0:
            continue
        # Right padding needs no attention mask: causal attention keeps every real token
        # from seeing the pads that follow it, and logits at pad positions are ignored.
        inputs = torch.tensor([c[:-1] + [pad] * (width - len(c) + 1) for c in batch])
        cache = copy.deepcopy(_kv_cache(head))
        cache.batch_repeat_interleave(len(batch))
        tail = model(input_ids=inputs, use_cache=True, **{_cache_argument(model): cache})
        steps = torch.log_softmax(tail.logits.float(), dim=-1)
        for row, continuation in enumerate(batch):
            targets = torch.tensor(continuation[1:])
            picked = steps[row, : len(targets)].gather(1, targets[:, None])
            totals[start + row] += float(picked.sum())
    return totals


def _kv_cache(output: Any) -> Any:
    """The KV cache of a forward pass: transformers 5 renamed `past_key_values` to `cache`
    (the old name warns on every call); older releases have only the old name."""
    # not .get(): its default would read the old attribute, which warns, every time
    return output["cache"] if "cache" in output else output.past_key_values  # noqa: SIM401


def _cache_argument(model: Any) -> str:
    """The keyword that passes a KV cache to `model.forward` in this transformers release."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
