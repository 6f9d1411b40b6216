"""A small eval project on disk (prompt, evalset, suite) for runner and CLI tests."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

LABELS = ("refund", "delivery", "password")

PROMPT = """\
name: router
version: 1.0.0
task: classification
labels: [refund, delivery, password]
model:
  temperature: 0
  max_tokens: 5
messages:
  - role: system
    content: "Pick one of {{ labels | join(', ') }}."
  - role: user
    content: "{{ message }}"
"""

SUITE = """\
name: router
prompt: router
evalset: router.jsonl
thresholds:
  macro_f1: {min: 0.5}
  invalid_rate: {max: 0.2}
must_beat: none
baselines: [majority, tfidf_lr]
bootstrap_samples: 200
"""

TEMPLATES = {
    "refund": [
        "I want my money back for the {x}",
        "please refund the {x} I bought",
        "refund request about {x}",
    ],
    "delivery": [
        "where is my {x} parcel",
        "the {x} has not arrived yet",
        "delivery of {x} is late",
    ],
    "password": [
        "cannot log in with my {x}",
        "reset the password of my {x} account",
        "forgot my {x} login",
    ],
}
THINGS = ["shoes", "lamp", "phone", "desk", "book", "chair", "bag", "watch", "coat", "kettle"]


def cases() -> list[dict[str, object]]:
    """Test cases: the fake server answers the first label named in the message; every fifth
    case names another label, so 80% are answered right."""
    rows: list[dict[str, object]] = []
    for label, templates in TEMPLATES.items():
        for i, thing in enumerate(THINGS):
            named = label if i % 5 else LABELS[(LABELS.index(label) + 1) % 3]
            text = f"{named}: " + templates[i % 3].format(x=thing)
            rows.append(
                {
                    "id": f"test-{label}-{i}",
                    "input": {"message": text},
                    "expected": label,
                    "split": "test",
                    "tags": [f"length:{'short' if len(text) < 28 else 'long'}"],
                }
            )
            rows.append(
                {
                    "id": f"train-{label}-{i}",
                    "input": {"message": f"{templates[(i + 1) % 3].format(x=thing)} number {i}"},
                    "expected": label,
                    "split": "train",
                }
            )
    return rows


def make_project(
    root: Path, rows: list[dict[str, object]] | None = None, suite: str = SUITE
) -> Path:
    (root / "prompts").mkdir(parents=True, exist_ok=True)
    (root / "evalsets").mkdir(exist_ok=True)
    (root / "prompts" / "router.yaml").write_text(PROMPT, encoding="utf-8")
    (root / "evalsets" / "router.yaml").write_text(textwrap.dedent(suite), encoding="utf-8")
    lines = [json.dumps(r) for r in (rows if rows is not None else cases())]
    (root / "evalsets" / "router.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root
