"""The shipped BANKING77 subset: right counts, true to its source rows, rebuildable, no leaks."""

from __future__ import annotations

import csv
import importlib.util
import json
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from _data import SHARED_DATA
from promptops.evals.checks import find_leakage, normalize_text
from promptops.evals.evalset import case_text, load_evalset
from promptops.evals.suite import resolve_suite

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "evalsets" / "banking77"
SOURCE = SHARED_DATA / "banking77"
INTENTS = {
    "card_arrival",
    "change_pin",
    "exchange_rate",
    "lost_or_stolen_card",
    "terminate_account",
    "top_up_failed",
}
needs_source = pytest.mark.skipif(not SOURCE.exists(), reason="needs the BANKING77 source data")
CASES = load_evalset(FOLDER / "intent.jsonl")


def _script() -> ModuleType:
    path = ROOT / "scripts" / "make_banking77_evalset.py"
    spec = importlib.util.spec_from_file_location("make_banking77_evalset", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_counts_ids_and_shape() -> None:
    per_split = Counter((c.split, c.expected) for c in CASES)
    assert {k: v for k, v in per_split.items() if k[0] == "test"} == {
        ("test", i): 40 for i in INTENTS
    }
    assert {k: v for k, v in per_split.items() if k[0] == "train"} == {
        ("train", i): 50 for i in INTENTS
    }
    assert len({c.id for c in CASES}) == 540
    for case in CASES:
        split, rest = case.id.split("-", 1)
        intent, index = rest.rsplit("-", 1)
        assert (split, intent) == (case.split, case.expected) and index.isdigit()
        assert list(case.input) == ["message"] and case.input["message"].strip()


def test_tags_follow_the_documented_rules() -> None:
    for case in CASES:
        length, form = case.tags
        words = len(case.input["message"].split())
        expected = "short" if words <= 7 else "medium" if words <= 12 else "long"
        assert length == f"length:{expected}"
        assert form in ("form:question", "form:statement")
        if case.input["message"].endswith("?"):
            assert form == "form:question"
    by_id = {c.id: c.tags for c in CASES}
    assert by_id["test-card_arrival-0"] == ("length:short", "form:question")  # How do I ...?
    assert by_id["test-card_arrival-2"] == ("length:medium", "form:statement")


def test_no_leakage_at_the_suite_threshold_and_no_repeated_train_texts() -> None:
    train = [(c.id, case_text(c)) for c in CASES if c.split == "train"]
    test = [(c.id, case_text(c)) for c in CASES if c.split == "test"]
    suite, _ = resolve_suite(str(ROOT / "evalsets" / "intent.yaml"))
    threshold = suite.leakage.near_duplicate_threshold
    assert find_leakage(train, test, threshold=threshold).pairs == ()
    assert len({normalize_text(t) for _, t in train}) == len(train)


def test_manifest_and_attribution() -> None:
    manifest = json.loads((FOLDER / "MANIFEST.json").read_text())
    assert manifest["counts"] == {
        "test": 240,
        "train": 300,
        "train_rows_of_intents": 722,
        "train_removed_duplicate_of_test": 1,
        "train_removed_repeated_text": 1,
        "train_removed_near_duplicate_of_test": 55,
        "train_drawn_replaced_for_leakage": 2,
    }
    assert manifest["near_duplicate_threshold"] == 0.9
    readme = (FOLDER / "README.md").read_text()
    for needle in (
        "Casanueva et al. 2020",
        "Efficient Intent Detection with Dual Sentence Encoders",
        "PolyAI-LDN/task-specific-datasets @ 57ec275d",
        "CC BY 4.0",
    ):
        assert needle in readme
    assert "Attribution 4.0 International" in (FOLDER / "LICENSE").read_text()


@needs_source
def test_every_case_matches_its_source_row() -> None:
    rows: dict[str, list[dict[str, str]]] = {}
    for split in ("train", "test"):
        with (SOURCE / f"{split}.csv").open(encoding="utf-8", newline="") as handle:
            rows[split] = list(csv.DictReader(handle))
    for case in CASES:
        split, rest = case.id.split("-", 1)
        intent, index = rest.rsplit("-", 1)
        row = rows[split][int(index)]
        assert row["category"] == intent == case.expected
        assert row["text"].strip() == case.input["message"]
    # the test split is every official test row of the six intents
    official = {i for i, r in enumerate(rows["test"]) if r["category"] in INTENTS}
    assert {int(c.id.rsplit("-", 1)[1]) for c in CASES if c.split == "test"} == official
    assert (FOLDER / "LICENSE").read_bytes() == (SOURCE / "LICENSE").read_bytes()


@needs_source
def test_rebuild_is_byte_identical(tmp_path: Path) -> None:
    manifest = _script().write(SOURCE, tmp_path)
    for name in ("intent.jsonl", "MANIFEST.json", "LICENSE"):
        assert (tmp_path / name).read_bytes() == (FOLDER / name).read_bytes(), name
    assert manifest["seed"] == 77


@needs_source
def test_another_seed_draws_another_train_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    script = _script()
    monkeypatch.setattr(script, "SEED", 78)
    cases, manifest = script.build(SOURCE)
    train_ids = {c["id"] for c in cases if c["split"] == "train"}
    shipped = {c.id for c in CASES if c.split == "train"}
    assert len(train_ids) == 300 and train_ids != shipped
    assert {c["id"] for c in cases if c["split"] == "test"} == {
        c.id for c in CASES if c.split == "test"
    }
    # that draw leaks too, and its replacements leave it clean
    assert manifest["counts"]["train_drawn_replaced_for_leakage"] > 0
    texts = {
        split: [(c["id"], c["input"]["message"]) for c in cases if c["split"] == split]
        for split in ("train", "test")
    }
    assert find_leakage(texts["train"], texts["test"]).pairs == ()
