"""Shared pieces of the `promptops eval` benchmarks: a generated project and a local server.

The project is a 5-label classification prompt, a suite (`baselines: [majority]`) and an
evalset of N seeded test cases plus a small train split (the majority baseline is fit on
it). Each test message names a label; the local server answers the first label it finds in
the message, and about 15% of messages name a wrong label first, so accuracy is about 0.85.
The server runs as a separate process so only the client side is measured.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
LABELS = ("billing", "delivery", "account", "refund", "technical")
SYSTEM = "Classify the customer message. Answer with one of: " + ", ".join(LABELS) + "."
MODEL = "bench-model"
N_TRAIN = 200
WRONG_RATE = 0.15
_WORDS = (
    "order",
    "invoice",
    "parcel",
    "login",
    "screen",
    "charge",
    "courier",
    "password",
    "card",
    "app",
    "update",
    "receipt",
    "address",
    "cancel",
    "store",
    "price",
    "website",
    "email",
    "balance",
    "device",
    "payment",
    "warranty",
    "tracking",
    "weekend",
    "morning",
    "yesterday",
    "again",
    "still",
    "twice",
    "please",
    "urgent",
    "quickly",
    "today",
    "somehow",
    "blue",
    "small",
    "new",
    "old",
    "second",
    "last",
    "broken",
    "missing",
    "wrong",
    "late",
    "early",
    "strange",
)

PROMPT_YAML = f"""\
name: bench
version: 1.0.0
task: classification
labels: [{", ".join(LABELS)}]
model:
  temperature: 0
  max_tokens: 5
messages:
  - role: system
    content: "Classify the customer message. Answer with one of: {{{{ labels | join(', ') }}}}."
  - role: user
    content: "{{{{ message }}}}"
"""

SUITE_YAML = """\
name: bench
prompt: ../prompts/bench.yaml
evalset: bench.jsonl
baselines: [majority]
must_beat: majority
"""


def _message(rng: random.Random, label: str, index: int) -> str:
    named = label
    if rng.random() < WRONG_RATE:
        named = rng.choice([x for x in LABELS if x != label])
    words = rng.sample(_WORDS, 7)
    words.insert(rng.randrange(3), named)
    return f"{' '.join(words)} ref {index}"


def make_cases(n_test: int, seed: int) -> list[dict[str, object]]:
    """`n_test` test cases and N_TRAIN train cases; distinct random texts (no leakage)."""
    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    for i in range(n_test):
        label = rng.choice(LABELS)
        rows.append(
            {
                "id": f"t{i}",
                "input": {"message": _message(rng, label, i)},
                "expected": label,
                "split": "test",
                "tags": [f"length:{'short' if i % 2 else 'long'}"],
            }
        )
    for i in range(N_TRAIN):
        label = LABELS[0] if i % 3 == 0 else rng.choice(LABELS)
        rows.append(
            {
                "id": f"r{i}",
                "input": {"message": _message(rng, label, n_test + i)},
                "expected": label,
                "split": "train",
            }
        )
    return rows


def write_project(root: Path, n_test: int, seed: int) -> list[dict[str, object]]:
    """prompts/bench.yaml, evalsets/bench.yaml and evalsets/bench.jsonl under `root`."""
    (root / "prompts").mkdir(parents=True, exist_ok=True)
    (root / "evalsets").mkdir(exist_ok=True)
    (root / "prompts" / "bench.yaml").write_text(PROMPT_YAML, encoding="utf-8")
    (root / "evalsets" / "bench.yaml").write_text(textwrap.dedent(SUITE_YAML), encoding="utf-8")
    rows = make_cases(n_test, seed)
    with (root / "evalsets" / "bench.jsonl").open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
    return rows


def eval_command(base_url: str, concurrency: int, out: Path, *extra: str) -> list[str]:
    """`promptops eval` of the generated suite against `base_url`, uncached, into `out`."""
    return [
        str(VENV_BIN / "promptops"),
        "eval",
        "evalsets/bench.yaml",
        "--base-url",
        base_url,
        "--model",
        MODEL,
        "--concurrency",
        str(concurrency),
        "--no-cache",
        "--out",
        str(out),
        *extra,
    ]


def response_format() -> dict[str, object]:
    """The strict label schema promptops sends; the other clients send the same."""
    return {
        "type": "json_schema",
        "json_schema": {
            "name": "label",
            "strict": True,
            "schema": {
                "type": "object",
                "properties": {"label": {"type": "string", "enum": list(LABELS)}},
                "required": ["label"],
                "additionalProperties": False,
            },
        },
    }


@dataclass
class LocalServer:
    """`python -m promptops.testing.openai_server` in its own process on a free port."""

    latency_ms: float
    extra_args: tuple[str, ...] = ()
    process: subprocess.Popen[str] | None = None
    base_url: str = ""

    def __enter__(self) -> LocalServer:
        self.process = subprocess.Popen(
            [  # not `-m`: the package imports the module first, and runpy warns about it
                sys.executable,
                "-c",
                "from promptops.testing.openai_server import main; main()",
                "--port",
                "0",
                "--latency-ms",
                str(self.latency_ms),
                *self.extra_args,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.base_url = self.process.stdout.readline().strip()
        if not self.base_url.startswith("http"):
            self.process.kill()
            raise RuntimeError("the local OpenAI server did not start")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
