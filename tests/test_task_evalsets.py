"""The shipped slots and e2e sets: rebuildable byte for byte, splits without shared inputs,
few-shot examples from train only, every gold answer valid against the prompt's schema."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from _data import SHARED_DATA
from promptops.api import load_prompt
from promptops.tasks.extraction.scoring import schema_problems
from promptops.tasks.generation.similarity import Embedder

ROOT = Path(__file__).resolve().parent.parent
needs_source = pytest.mark.skipif(
    not (SHARED_DATA / "snips_slots").exists(), reason="needs the shared task-type data"
)


def _rows(name: str) -> list[dict]:
    path = ROOT / "evalsets" / name / f"{name}.jsonl"
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def _script() -> ModuleType:
    path = ROOT / "scripts" / "make_task_evalsets.py"
    spec = importlib.util.spec_from_file_location("make_task_evalsets", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@needs_source
def test_script_rebuilds_both_sets_byte_for_byte(tmp_path: Path) -> None:
    for name in ("slots", "e2e"):
        (tmp_path / name).mkdir()
    _script().build(SHARED_DATA, tmp_path)
    for name in ("slots", "e2e"):
        for file in (f"{name}.jsonl", "MANIFEST.json"):
            assert (tmp_path / name / file).read_bytes() == (
                ROOT / "evalsets" / name / file
            ).read_bytes(), f"{name}/{file}"


@pytest.mark.parametrize(("name", "field"), [("slots", "utterance"), ("e2e", "mr")])
def test_no_test_row_nearly_copies_a_train_row(name: str, field: str) -> None:
    from promptops.evals.checks import find_leakage

    rows = _rows(name)
    train = [(r["id"], r["input"][field]) for r in rows if r["split"] == "train"]
    test = [(r["id"], r["input"][field]) for r in rows if r["split"] == "test"]
    assert find_leakage(train, test, threshold=0.9).pairs == ()


def test_slots_splits_share_no_text_and_cover_every_intent() -> None:
    rows = _rows("slots")
    assert len(rows) == 698
    split_of: dict[str, set[str]] = {}
    for row in rows:
        key = " ".join(row["input"]["utterance"].casefold().split())
        split_of.setdefault(key, set()).add(row["split"])
    assert all(len(splits) == 1 for splits in split_of.values())
    per_intent = Counter((row["tags"][0], row["split"]) for row in rows)
    intents = {row["tags"][0] for row in rows}
    assert len(intents) == 7
    assert all(8 <= per_intent[(i, "test")] <= 9 for i in intents)


def test_every_gold_object_is_valid_against_the_shipped_schema() -> None:
    prompt = load_prompt(ROOT / "prompts" / "extract_slots.yaml")
    assert prompt.task == "extraction" and prompt.output_schema is not None
    for row in _rows("slots"):
        assert schema_problems(row["expected"], prompt.output_schema) == (), row["id"]
    for example in prompt.examples:
        assert schema_problems(json.loads(example.output), prompt.output_schema) == ()


@pytest.mark.parametrize(
    ("prompt_name", "evalset", "field"),
    [("extract_slots", "slots", "utterance"), ("describe_restaurant", "e2e", "mr")],
)
def test_few_shot_examples_are_train_rows(prompt_name: str, evalset: str, field: str) -> None:
    prompt = load_prompt(ROOT / "prompts" / f"{prompt_name}.yaml")
    split_of = {row["input"][field]: row["split"] for row in _rows(evalset)}
    assert prompt.examples
    for example in prompt.examples:
        assert split_of[example.input[field]] == "train"


def test_e2e_splits_and_references() -> None:
    rows = _rows("e2e")
    assert Counter(row["split"] for row in rows) == {"test": 40, "dev": 40, "train": 207}
    assert len({row["input"]["mr"] for row in rows}) == 287
    assert sum(len(row["expected"]) for row in rows) == 628


def test_embedding_cosine_ranks_a_paraphrase_above_an_unrelated_text() -> None:
    embedder = Embedder()
    ref = ["The Mill is a cheap pub near the river."]
    close = embedder.best_cosine("The Mill, a pub by the riverside, is inexpensive.", ref)
    far = embedder.best_cosine("Quarterly earnings rose by four percent.", ref)
    assert close > 0.6 > far
    assert embedder.best_cosines(["x", "The Mill is a cheap pub near the river."], [ref, ref])[
        1
    ] == pytest.approx(1.0, abs=1e-5)
