"""`promptops eval SUITE --prompt A --prompt B --model x --model y`: every prompt x endpoint
cell through the one eval path, one run folder per cell under one grid folder.

    <grid>/grid.json          the spec, then the summary (figures, frontier, pairs)
    <grid>/report.md, report.html
    <grid>/<cell id>/         an ordinary run folder (summary.json, results.jsonl, ...)

Cells share the response cache (each run opens the same one), so an answer paid for in one
grid is free in the next. A cell whose run folder holds a summary is finished and is not run
again; an interrupted cell resumes from its results like any run (`RunFolder`). The default
grid folder is named from a hash of the spec, so running the same command again resumes it.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

from promptops.errors import ConfigError
from promptops.lifecycle import EvalOptions, run_eval
from promptops.runs.folder import SUMMARY, write_json

GRID_JSON = "grid.json"
RUNS_DIR = Path("reports") / "runs"

# (suite, options) -> the finished cell's run folder; the eval runner by default
CellRunner = Callable[[str, EvalOptions], Path]


@dataclass(frozen=True)
class Endpoint:
    """Where a cell sends its cases: a profile (None: the suite's) and a model (None: the
    profile's)."""

    profile: str | None = None
    model: str | None = None

    @property
    def label(self) -> str:
        parts = [p for p in (self.profile, self.model) if p]
        return "/".join(parts) or "suite endpoint"


@dataclass(frozen=True)
class GridSpec:
    suite: str
    prompts: tuple[str | None, ...]  # None: the suite's own prompt
    endpoints: tuple[Endpoint, ...]
    evalset: str | None = None

    def key(self) -> str:
        payload = json.dumps(
            {
                "suite": self.suite,
                "prompts": self.prompts,
                "endpoints": [[e.profile, e.model] for e in self.endpoints],
                "evalset": self.evalset,
            },
            sort_keys=True,
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:8]


@dataclass(frozen=True)
class Cell:
    id: str
    prompt: str | None
    endpoint: Endpoint
    folder: Path


@dataclass(frozen=True)
class GridRun:
    spec: GridSpec
    folder: Path
    cells: tuple[Cell, ...]
    reused: tuple[str, ...]  # ids of cells already finished before this run


def endpoints_from(profiles: Sequence[str], models: Sequence[str]) -> tuple[Endpoint, ...]:
    """Every profile x model; one list alone varies on its own; none: the suite's endpoint."""
    if profiles and models:
        return tuple(Endpoint(p, m) for p in profiles for m in models)
    if profiles:
        return tuple(Endpoint(profile=p) for p in profiles)
    if models:
        return tuple(Endpoint(model=m) for m in models)
    return (Endpoint(),)


def is_grid(prompts: Sequence[str], profiles: Sequence[str], models: Sequence[str]) -> bool:
    """More than one cell: one prompt on one endpoint is an ordinary run."""
    return len(prompts) > 1 or len(endpoints_from(profiles, models)) > 1


def _slug(text: str) -> str:
    stem = Path(text).stem if text.endswith((".yaml", ".yml")) else text
    return re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-") or "x"


def cells_of(spec: GridSpec, folder: Path) -> tuple[Cell, ...]:
    cells = []
    for prompt in spec.prompts:
        for endpoint in spec.endpoints:
            name = f"{_slug(prompt or 'suite-prompt')}__{_slug(endpoint.label)}"
            cells.append(Cell(name, prompt, endpoint, folder / name))
    ids = [c.id for c in cells]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"two grid cells share a name: {ids}", where="--prompt/--model")
    return tuple(cells)


def _run_with_eval(suite: str, options: EvalOptions) -> Path:
    return run_eval(suite, options).out_dir


def run_grid(
    spec: GridSpec,
    base: EvalOptions,
    *,
    out: Path | None = None,
    run_cell: CellRunner = _run_with_eval,
    stream: TextIO | None = None,
) -> GridRun:
    """Run every unfinished cell in order; `base` holds the flags every cell shares."""
    stream = stream or sys.stderr
    folder = out or RUNS_DIR / f"grid-{_slug(Path(spec.suite).stem)}-{spec.key()}"
    folder.mkdir(parents=True, exist_ok=True)
    cells = cells_of(spec, folder)
    write_json(folder / GRID_JSON, {"spec": spec_json(spec), "cells": [c.id for c in cells]})
    reused = []
    for n, cell in enumerate(cells, 1):
        if (cell.folder / SUMMARY).is_file():
            stream.write(f"grid cell {n}/{len(cells)} {cell.id}: finished before, kept\n")
            reused.append(cell.id)
            continue
        stream.write(f"grid cell {n}/{len(cells)} {cell.id}\n")
        options = replace(
            base,
            prompt=cell.prompt if cell.prompt is not None else base.prompt,
            model=cell.endpoint.model if cell.endpoint.model is not None else base.model,
            endpoint_profile=cell.endpoint.profile,
            evalset=Path(spec.evalset) if spec.evalset else base.evalset,
            out=cell.folder,
        )
        run_cell(spec.suite, options)
    return GridRun(spec, folder, cells, tuple(reused))


def spec_json(spec: GridSpec) -> dict[str, object]:
    return {
        "suite": spec.suite,
        "prompts": list(spec.prompts),
        "endpoints": [{"profile": e.profile, "model": e.model} for e in spec.endpoints],
        "evalset": spec.evalset,
    }
