"""`promptops init --task TYPE`: a starter project that runs as it is.

For each of the five task types: a prompt (`prompts/<name>.yaml`), a small evalset with
train, dev and test rows (`evalsets/<name>/cases.jsonl`), a suite (`evalsets/<name>.yaml`) and
a CI workflow (`.github/workflows/promptops-<name>.yml`) that runs the suite on the embedded
model. Nothing is ever overwritten: if any of the files exists, nothing is written and the
error names the file.
"""

from __future__ import annotations

import json
from pathlib import Path

from promptops.errors import UserInputError
from promptops.prompts.model import TASK_NAMES

NAMES = {
    "classification": "starter_classify",
    "binary": "starter_binary",
    "scoring": "starter_scoring",
    "extraction": "starter_extract",
    "generation": "starter_generate",
}

_HEADER = (
    "# Written by `promptops init --task {task}`: edit the messages, then run\n"
    "#   promptops eval {name}\n"
)

_PROMPTS = {
    "classification": """\
name: {name}
version: 0.1.0
description: Routes a support message to a team
task: classification
labels: [billing, shipping, account]
model: {{temperature: 0, max_tokens: 5}}
variables:
  message: {{type: string, max_chars: 2000}}
messages:
  - role: system
    content: |
      Route the customer's message to one team: billing (payments, refunds, invoices),
      shipping (parcels, delivery) or account (login, password, profile).
      Answer with the team name only.
  - role: user
    content: "{{{{ message }}}}"
""",
    "binary": """\
name: {name}
version: 0.1.0
description: Says whether a message is a complaint
task: binary
labels: ["yes", "no"]
positive_label: "yes"
model: {{temperature: 0, max_tokens: 3}}
variables:
  message: {{type: string, max_chars: 2000}}
messages:
  - role: system
    content: "Is the customer's message a complaint? Answer yes or no."
  - role: user
    content: "{{{{ message }}}}"
""",
    "scoring": """\
name: {name}
version: 0.1.0
description: Rates how positive a review is, 1 to 5
task: scoring
range: [1, 5]
labels: ["1", "2", "3", "4", "5"]
model: {{temperature: 0, max_tokens: 3}}
variables:
  review: {{type: string, max_chars: 2000}}
messages:
  - role: system
    content: >-
      Rate how positive the review is from 1 (very negative) to 5 (very positive).
      Answer with the number only.
  - role: user
    content: "{{{{ review }}}}"
""",
    "extraction": """\
name: {name}
version: 0.1.0
description: Extracts the city and date of a booking request as JSON
task: extraction
model: {{temperature: 0, max_tokens: 60}}
variables:
  message: {{type: string, max_chars: 2000}}
output_schema:
  type: object
  properties:
    city: {{type: string}}
    date: {{type: string}}
  additionalProperties: false
messages:
  - role: system
    content: >-
      Extract the city and the date from the booking request. Answer with JSON only,
      e.g. {{"city": "Paris", "date": "Friday"}}; leave out a field that is not given.
  - role: user
    content: "{{{{ message }}}}"
""",
    "generation": """\
name: {name}
version: 0.1.0
description: Writes a one-sentence reply to a customer
task: generation
model: {{temperature: 0, max_tokens: 40}}
variables:
  message: {{type: string, max_chars: 2000}}
messages:
  - role: system
    content: "Write a short, polite one-sentence reply to the customer."
  - role: user
    content: "{{{{ message }}}}"
""",
}

_ROWS: dict[str, list[tuple[str, dict[str, str], object]]] = {
    "classification": [
        ("train", {"message": "I was charged twice for my order"}, "billing"),
        ("train", {"message": "Where is my parcel? It is a week late"}, "shipping"),
        ("train", {"message": "I cannot log in to my account"}, "account"),
        ("train", {"message": "Please send me the invoice for March"}, "billing"),
        ("train", {"message": "The courier left my package at the wrong address"}, "shipping"),
        ("train", {"message": "How do I change my password?"}, "account"),
        ("dev", {"message": "I want a refund for the broken lamp"}, "billing"),
        ("dev", {"message": "My delivery has not arrived yet"}, "shipping"),
        ("dev", {"message": "Reset my login please"}, "account"),
        ("test", {"message": "Why was my card charged again?"}, "billing"),
        ("test", {"message": "The parcel tracking has not moved in days"}, "shipping"),
        ("test", {"message": "I forgot the password to my profile"}, "account"),
    ],
    "binary": [
        ("train", {"message": "This is the third time my order is late, unacceptable"}, "yes"),
        ("train", {"message": "Thanks, the package arrived today"}, "no"),
        ("train", {"message": "The product broke after one day and nobody answers"}, "yes"),
        ("train", {"message": "Can I change the delivery address?"}, "no"),
        ("train", {"message": "What time do you open on Saturday?"}, "no"),
        ("dev", {"message": "I am very unhappy with the rude support agent"}, "yes"),
        ("dev", {"message": "Do you ship to Canada?"}, "no"),
        ("dev", {"message": "Great service, thank you"}, "no"),
        ("test", {"message": "Terrible experience, I want to speak to a manager"}, "yes"),
        ("test", {"message": "How do I reset my password?"}, "no"),
        ("test", {"message": "My refund still has not come after a month, this is awful"}, "yes"),
        ("test", {"message": "Is the blue model in stock?"}, "no"),
    ],
    "scoring": [
        ("train", {"review": "Absolutely wonderful, best purchase this year"}, 5),
        ("train", {"review": "Broke on the first day, a waste of money"}, 1),
        ("train", {"review": "It is fine, does what it says"}, 3),
        ("train", {"review": "Pretty good, a little noisy"}, 4),
        ("train", {"review": "Disappointing quality for the price"}, 2),
        ("dev", {"review": "I love it, works perfectly"}, 5),
        ("dev", {"review": "Not great, not terrible"}, 3),
        ("dev", {"review": "Stopped working after a week"}, 1),
        ("test", {"review": "Excellent, would buy again"}, 5),
        ("test", {"review": "Mediocre, the handle feels cheap"}, 2),
        ("test", {"review": "Good value, arrived quickly"}, 4),
        ("test", {"review": "Awful, it never worked"}, 1),
    ],
    "extraction": [
        (
            "train",
            {"message": "Book a table in Paris for Friday"},
            {"city": "Paris", "date": "Friday"},
        ),
        (
            "train",
            {"message": "I need a hotel in Rome on May 3"},
            {"city": "Rome", "date": "May 3"},
        ),
        ("train", {"message": "Any rooms in Oslo?"}, {"city": "Oslo"}),
        (
            "dev",
            {"message": "A taxi in Berlin tomorrow please"},
            {"city": "Berlin", "date": "tomorrow"},
        ),
        ("dev", {"message": "Reserve a room for Monday"}, {"date": "Monday"}),
        ("test", {"message": "Flights to Madrid on Sunday"}, {"city": "Madrid", "date": "Sunday"}),
        ("test", {"message": "A table in Lisbon tonight"}, {"city": "Lisbon", "date": "tonight"}),
        ("test", {"message": "Is there a hotel in Vienna?"}, {"city": "Vienna"}),
    ],
    "generation": [
        (
            "train",
            {"message": "My order is late"},
            "Sorry your order is late; we are checking on it now.",
        ),
        (
            "train",
            {"message": "Can I return these shoes?"},
            "Yes, you can return the shoes within 30 days.",
        ),
        ("train", {"message": "Thanks for the quick help"}, "You are welcome, happy to help."),
        (
            "dev",
            {"message": "The app keeps crashing"},
            "Sorry about the crashes; please update the app and tell us if it continues.",
        ),
        ("dev", {"message": "Do you ship abroad?"}, "Yes, we ship to most countries."),
        (
            "test",
            {"message": "My parcel is damaged"},
            "Sorry the parcel arrived damaged; we will send a replacement.",
        ),
        (
            "test",
            {"message": "How do I change my address?"},
            "You can change your address in your account settings.",
        ),
        (
            "test",
            {"message": "I was charged twice"},
            "Sorry for the double charge; we will refund it right away.",
        ),
    ],
}

_SUITE = """\
# The suite `promptops eval {name}` runs: the prompt, the evalset, the endpoint (the embedded
# model: offline, no key) and what must hold for the run to pass. Add rows to
# evalsets/{name}/cases.jsonl (train rows feed the baselines, dev rows tune, test rows score)
# and tighten the thresholds as the prompt improves.
name: {name}
description: starter {task} suite
prompt: {name}
evalset: {name}/cases.jsonl
profile: embedded
{extra}thresholds:
  error_rate: {{max: 0.0}}
must_beat: none
bootstrap_samples: 200
"""

_SUITE_EXTRA = {
    "classification": "baselines: [majority, tfidf_lr]\n",
    "binary": "baselines: [majority, tfidf_lr]\n",
    "scoring": "baselines: [train_mean, tfidf_ridge]\n",
    "extraction": "",
    "generation": "",
}

_WORKFLOW = """\
# Runs the {name} suite on every pull request, on the embedded model (offline, no API key).
# The job fails when a threshold of evalsets/{name}.yaml fails. To also fail on a regression
# against a saved run: `promptops baseline save <run folder>`, commit baselines/{name}.json
# and add --against-baseline below.
name: promptops-{name}

on:
  pull_request:

permissions:
  contents: read

jobs:
  eval:
    runs-on: ubuntu-latest
    timeout-minutes: 30
    env:
      HF_HUB_OFFLINE: "1"
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - run: pip install 'promptops[local]'
      - run: promptops eval {name} --out reports/runs/ci
      - if: always()
        run: cat reports/runs/ci/report.md >> "$GITHUB_STEP_SUMMARY" || true
"""


def starter_files(task: str) -> dict[Path, str]:
    """The files `init --task TYPE` writes, relative to the project folder."""
    if task not in TASK_NAMES:
        raise UserInputError(
            f"unknown task {task!r} (known: {', '.join(TASK_NAMES)})", where="--task"
        )
    name = NAMES[task]
    header = _HEADER.format(task=task, name=name)
    rows = [
        {"id": f"{split}-{i}", "input": inp, "expected": expected, "split": split}
        for i, (split, inp, expected) in enumerate(_ROWS[task])
    ]
    return {
        Path("prompts") / f"{name}.yaml": header + _PROMPTS[task].format(name=name),
        Path("evalsets") / name / "cases.jsonl": "".join(json.dumps(r) + "\n" for r in rows),
        Path("evalsets") / f"{name}.yaml": _SUITE.format(
            name=name, task=task, extra=_SUITE_EXTRA[task]
        ),
        Path(".github") / "workflows" / f"promptops-{name}.yml": _WORKFLOW.format(name=name),
    }


def write_starter(task: str, root: Path) -> list[Path]:
    """Write the starter files under `root`; refuse (UserInputError naming the file) when
    any of them exists, before writing anything."""
    files = starter_files(task)
    for rel in files:
        if (root / rel).exists():
            raise UserInputError(
                "already exists; init never overwrites a file", where=str(root / rel)
            )
    written = []
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
