"""`promptops grounding FILE.jsonl`: JSON and table output, and bad input as exit code 2."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from promptops.cli import app, main

ROWS = [
    {
        "id": "capitals",
        "context": [
            "Paris is the capital of France. It has about 2 million inhabitants.",
            "Berlin is the capital of Germany.",
        ],
        "answer": "Paris is the capital of France [1]. Berlin is the capital of Germany [2]. "
        "Rome is the capital of Spain [3].",
    },
    {
        "id": 7,
        "context": "The Oberoi Group is a hotel company with its head office in Delhi.",
        "answer": "The Oberoi Group has its head office in Delhi.",
    },
]


def run(args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: Any) -> tuple[int, str, str]:
    """Run the real entry point; main() returns on success and exits with a code otherwise."""
    monkeypatch.setattr(sys, "argv", ["promptops", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = 0 if exc.code is None else int(exc.code)
    out = capsys.readouterr()
    return code, out.out, out.err


def write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "answers.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def good_file(tmp_path: Path) -> Path:
    return write(tmp_path, [json.dumps(row) for row in ROWS])


@pytest.mark.slow
def test_json_output(good_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    code, out, _ = run(["grounding", str(good_file), "--json"], monkeypatch, capsys)
    assert code == 0
    payload = json.loads(out)
    first, second = payload["rows"]
    assert [first["id"], second["id"]] == ["capitals", "7"]
    assert first["validity"] == pytest.approx(2 / 3)
    assert first["invalid_citations"] == [3]
    assert first["coverage"] == 1.0 and second["coverage"] == 0.0
    assert second["validity"] is None
    assert [s["supported"] for s in first["sentences"]] == [True, True, False]
    # Why the third is unsupported: its invalid [3] sends it to the whole context, which
    # names neither Rome nor Spain.
    assert first["sentences"][2]["missing_claims"] == [
        {"kind": "entity", "text": "Rome"},
        {"kind": "entity", "text": "Spain"},
    ]
    assert first["sentences"][2]["reasons"] == [
        'entity "Rome" not found in [1], [2]',
        'entity "Spain" not found in [1], [2]',
    ]
    assert first["sentences"][0]["reasons"] == [] and first["sentences"][0]["claims"] == 1.0
    assert first["unsupported_rate"] == pytest.approx(1 / 3)
    assert second["sentences"][0]["evidence"] == [1]
    assert second["support"] > 0.95 and second["unsupported_rate"] == 0.0
    total = payload["aggregate"]
    assert total["answers"] == 2 and total["sentences"] == 4
    assert total["support"] == pytest.approx((first["support"] + second["support"]) / 2)
    assert total["validity"] == pytest.approx(2 / 3)  # only the first answer cites
    assert total["threshold"] == first["threshold"]


@pytest.mark.slow
def test_table_output_and_threshold(
    good_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    code, out, _ = run(["grounding", str(good_file)], monkeypatch, capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "SUPPORT", "VALIDITY", "COVERAGE", "UNSUPPORTED", "SENTENCES"]
    assert lines[1].split()[0] == "capitals" and lines[1].split()[2:] == [
        "0.667",
        "1.000",
        "0.333",
        "3",
    ]
    assert lines[2].split()[2] == "-"
    assert lines[3].startswith("MEAN")
    assert "unsupported capitals#2: Rome is the capital of Spain [3]." in lines
    reasons = lines[lines.index("unsupported capitals#2: Rome is the capital of Spain [3].") + 1 :]
    assert reasons[:2] == [
        '  entity "Rome" not found in [1], [2]',
        '  entity "Spain" not found in [1], [2]',
    ]
    code, out, _ = run(
        ["grounding", str(good_file), "--json", "--threshold", "0"], monkeypatch, capsys
    )
    assert code == 0
    assert json.loads(out)["aggregate"]["unsupported_rate"] == 0.0


@pytest.mark.parametrize(
    ("lines", "where", "reason"),
    [
        (['{"id": "a", "context": "x", "answer": "y"}', "not json"], 2, "invalid JSON"),
        (['{"id": "a", "context": "x"}'], 1, "answer: Field required"),
        (['{"id": "a", "context": 3, "answer": "y"}'], 1, "context: expected a list"),
        (['{"id": "a", "context": ["x", 2], "answer": "y"}'], 1, "context: expected a list"),
        (['{"id": "a", "context": "x", "answer": "y", "extra": 1}'], 1, "extra"),
        (['{"id": "", "context": "x", "answer": "y"}'], 1, "id:"),
        (['{"id": true, "context": "x", "answer": "y"}'], 1, "id:"),
        (
            [
                '{"id": "a", "context": "x", "answer": "y"}',
                "",
                '{"id": "a", "context": "x", "answer": "z"}',
            ],
            3,
            "duplicate id 'a' (first on line 1)",
        ),
    ],
)
def test_bad_lines_exit_2_naming_file_and_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
    lines: list[str],
    where: int,
    reason: str,
) -> None:
    path = write(tmp_path, lines)
    code, out, err = run(["grounding", str(path)], monkeypatch, capsys)
    assert code == 2
    assert out == ""
    assert err.startswith(f"error: {path}:{where}: ")
    assert reason in err
    assert "Traceback" not in err


def test_missing_empty_file_and_bad_threshold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    missing = tmp_path / "nope.jsonl"
    code, _, err = run(["grounding", str(missing)], monkeypatch, capsys)
    assert code == 2 and err.startswith(f"error: {missing}: cannot read file")
    empty = write(tmp_path, [""])
    code, _, err = run(["grounding", str(empty)], monkeypatch, capsys)
    assert code == 2 and err.strip() == f"error: {empty}: no rows"
    # usage errors are click's own (checked through typer's runner, as click reports them)
    result = CliRunner().invoke(app, ["grounding", str(empty), "--threshold", "1.5"])
    assert result.exit_code == 2 and "--threshold" in result.output
