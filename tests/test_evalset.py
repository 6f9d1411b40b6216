"""Evalset loading: three formats, one Case shape, every problem named by file and line."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest

from promptops.errors import EvalsetError
from promptops.evals.evalset import (
    Case,
    case_text,
    cases_in_split,
    evalset_hash,
    load_evalset,
)

EXPECTED = [
    Case("a1", {"message": "Where is my card?"}, "card_arrival", "test", ("len:short",), 1),
    Case("a2", {"message": "Change my PIN, 1234"}, "change_pin", "train", (), 2),
]


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_jsonl_loads_cases_with_lines_and_defaults(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "set.jsonl",
        '{"id": "a1", "input": {"message": "Where is my card?"}, "expected": "card_arrival",'
        ' "tags": ["len:short"]}\n'
        '{"id": "a2", "input": {"message": "Change my PIN, 1234"}, "expected": "change_pin",'
        ' "split": "train"}\n'
        "\n"
        '{"input": {"message": 42}}\n',
    )
    cases = load_evalset(path)
    assert cases[:2] == EXPECTED
    assert cases[2] == Case("line-4", {"message": "42"}, None, "test", (), 4)
    assert case_text(cases[0]) == "Where is my card?"
    assert [c.id for c in cases_in_split(cases, "train")] == ["a2"]


def test_csv_accepts_bare_and_prefixed_variables_and_multiline_cells(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "set.csv",
        "id,input.message,expected,split,tags\n"
        "a1,Where is my card?,card_arrival,,len:short\n"
        'a2,"Change my PIN, 1234",change_pin,train,\n',
    )
    assert load_evalset(path) == [replace(c, line=c.line + 1) for c in EXPECTED]  # header
    multi = _write(
        tmp_path,
        "multi.csv",
        'id,question,context,expected,tags\nq1,"two\nlines",ctx,yes, a ; b ;\nq2,x,y,,\n',
    )
    cases = load_evalset(multi)
    assert cases[0] == Case(
        "q1", {"question": "two\nlines", "context": "ctx"}, "yes", "test", ("a", "b"), 2
    )
    assert cases[1].line == 4 and cases[1].expected is None


def test_yaml_list_of_cases(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "set.yaml",
        "- id: a1\n  input: {message: 'Where is my card?'}\n  expected: card_arrival\n"
        "  tags: [len:short]\n"
        "- id: a2\n  input:\n    message: Change my PIN, 1234\n  expected: change_pin\n"
        "  split: train\n",
    )
    cases = load_evalset(path)
    assert [(c.id, c.input, c.expected, c.split, c.tags) for c in cases] == [
        (c.id, c.input, c.expected, c.split, c.tags) for c in EXPECTED
    ]
    assert [c.line for c in cases] == [1, 5]


def test_jsonl_errors_are_all_listed_with_file_line_and_value(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "bad.jsonl",
        '{"id": "ok", "input": {"m": "x"}}\n'
        "{not json}\n"
        '["a list"]\n'
        '{"id": "b", "input": {"m": "x"}, "expeted": "typo"}\n'
        '{"id": "c", "input": {"m": ["nested"]}}\n',
    )
    with pytest.raises(EvalsetError) as info:
        load_evalset(path)
    err = info.value
    assert err.where == f"{path}:2"
    assert "4 problems" in err.reason
    assert f"{path}:2: not valid JSON" in err.reason
    assert f"{path}:3: expected a JSON object, got ['a list']" in err.reason
    assert f"{path}:4: unknown key 'expeted'" in err.reason
    assert f"{path}:5: input.m: Input should be a valid string (got ['nested'])" in err.reason


def test_single_error_names_its_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "one.jsonl", '{"id": "a", "input": {}}\n{"id": "", "input": {}}\n')
    with pytest.raises(EvalsetError) as info:
        load_evalset(path)
    assert info.value.where == f"{path}:2"
    assert info.value.reason.startswith("id: String should have at least 1 character (got '')")


def test_csv_errors(tmp_path: Path) -> None:
    ragged = _write(tmp_path, "ragged.csv", "id,message\na,b\nc,d,e\n")
    with pytest.raises(EvalsetError) as info:
        load_evalset(ragged)
    assert info.value.where == f"{ragged}:3"
    assert "3 cells but the header has 2 columns" in info.value.reason
    twice = _write(tmp_path, "twice.csv", "id,message,input.message\na,b,c\n")
    with pytest.raises(EvalsetError, match="given twice") as info:
        load_evalset(twice)
    assert info.value.where == f"{twice}:1"


def test_yaml_errors_point_at_the_bad_key(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "bad.yaml",
        "- id: a\n  input: {m: x}\n- id: b\n  input: {m: x}\n  expected: true\n- just text\n",
    )
    with pytest.raises(EvalsetError) as info:
        load_evalset(path)
    assert f"{path}:5: expected: Input should be a valid string" in info.value.reason
    assert f"{path}:6: a case must be a mapping, got 'just text'" in info.value.reason
    not_list = _write(tmp_path, "map.yaml", "cases: []\n")
    with pytest.raises(EvalsetError, match="must be a list of cases"):
        load_evalset(not_list)


def test_unknown_format_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(EvalsetError, match=r"unknown evalset format '\.txt'"):
        load_evalset(tmp_path / "x.txt")
    with pytest.raises(EvalsetError, match="cannot read file") as info:
        load_evalset(tmp_path / "missing.jsonl")
    assert info.value.where == str(tmp_path / "missing.jsonl")


def test_evalset_hash_is_sha256_of_bytes(tmp_path: Path) -> None:
    path = _write(tmp_path, "set.jsonl", json.dumps({"id": "a", "input": {"m": "x"}}) + "\n")
    first = evalset_hash(path)
    assert first == hashlib.sha256(path.read_bytes()).hexdigest()
    path.write_text(path.read_text() + "\n", encoding="utf-8")
    assert evalset_hash(path) != first


def test_jsonl_keeps_unicode_line_separators_inside_strings(tmp_path: Path) -> None:
    row = json.dumps({"id": "u", "input": {"m": "one\u2028two"}}, ensure_ascii=False)
    path = _write(tmp_path, "u.jsonl", row + "\r\n" + row.replace('"u"', '"v"') + "\n")
    cases = load_evalset(path)
    assert [(c.id, c.input["m"], c.line) for c in cases] == [
        ("u", "one\u2028two", 1),
        ("v", "one\u2028two", 2),
    ]


def test_object_and_list_expected_values_are_kept_as_json_text(tmp_path: Path) -> None:
    """Extraction gold objects and generation reference lists stay flat, as JSON text."""
    path = _write(
        tmp_path,
        "tasks.jsonl",
        '{"id": "a", "input": {"m": "x"}, "expected": {"city": "Paris", "n": 2}}\n'
        '{"id": "b", "input": {"m": "y"}, "expected": ["one", "Deux"]}\n',
    )
    a, b = load_evalset(path)
    assert json.loads(a.expected or "") == {"city": "Paris", "n": 2}
    assert json.loads(b.expected or "") == ["one", "Deux"]
