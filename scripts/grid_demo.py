"""A grid on the shipped `intent` suite: 2 prompts x 2 endpoints, small enough for a laptop.

Usage: python scripts/grid_demo.py WORK_DIR [--per-label N]

Builds WORK_DIR with a seeded subsample of the intent evalset (N test cases per intent, the
whole train split), the shipped prompt plus a terse variant (label names only), a copy of
the intent suite with business costs and a non-inferiority margin, and a `fake` profile for
a local OpenAI-compatible fake server that answers by keywords (a stand-in for a cheap
hosted model, priced like one). Then, from WORK_DIR:

1. `promptops eval intent --evalset ... --prompt classify_intent --prompt PATH
   --profile embedded --profile fake` (the grid and its report);
2. `promptops baseline save` of the shipped prompt on the embedded model, and
   `promptops eval intent --base-url FAKE --against-baseline` and the terse prompt on the
   embedded model `--against-baseline` (two non-inferiority decisions);
3. `promptops runs list --suite intent`.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
from pathlib import Path
from typing import Any

from promptops.testing.openai_server import FakeOpenAIServer, last_user_message

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = (  # first match wins, checked in this order
    ("lost_or_stolen_card", ("stolen", "lost", "missing card")),
    ("top_up_failed", ("top up", "top-up", "topup", "top-up")),
    ("exchange_rate", ("exchange", "rate", "currency")),
    ("change_pin", ("pin",)),
    ("terminate_account", ("close", "delete", "terminate", "cancel")),
    ("card_arrival", ("card",)),
)
COSTS = """
# demo only: what a misrouted message costs the bank (EUR), beside the price per call
costs:
  currency: EUR
  wrong: 1.0
  invalid: 2.0
  matrix:
    lost_or_stolen_card: {card_arrival: 25.0, change_pin: 25.0, exchange_rate: 25.0,
                          terminate_account: 25.0, top_up_failed: 25.0}
non_inferiority_margin: 0.05
"""


def keyword_answer(body: dict[str, Any]) -> str:
    text = last_user_message(body).lower()
    for label, words in KEYWORDS:
        if any(w in text for w in words):
            return json.dumps({"label": label})
    return json.dumps({"label": "card_arrival"})


def build(work: Path, per_label: int, url: str) -> Path:
    (work / "evalsets").mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "prompts", work / "prompts", dirs_exist_ok=True)
    rows = [json.loads(x) for x in (ROOT / "evalsets/banking77/intent.jsonl").open()]
    rng = random.Random(13)
    test: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row["split"] == "test":
            test.setdefault(row["expected"], []).append(row)
    kept = {r["id"] for group in test.values() for r in rng.sample(group, per_label)}
    subset = [r for r in rows if r["split"] != "test" or r["id"] in kept]
    (work / "evalsets/banking77").mkdir(exist_ok=True)
    sample = work / "evalsets/banking77/intent_sample.jsonl"
    sample.write_text("".join(json.dumps(r) + "\n" for r in subset), encoding="utf-8")
    suite = (ROOT / "evalsets/intent.yaml").read_text(encoding="utf-8")
    (work / "evalsets/intent.yaml").write_text(suite + COSTS, encoding="utf-8")
    prompt = (ROOT / "prompts/classify_intent.yaml").read_text(encoding="utf-8")
    terse = prompt.replace("version: 1.0.0", "version: 1.1.0-terse")
    start = terse.index("      You are a customer")
    end = terse.index("  - role: user")
    terse = (
        terse[:start]
        + '      Classify the bank customer\'s message. Labels: {{ labels | join(", ") }}.\n'
        + "      Answer with the label only.\n"
        + terse[end:]
    )
    variant = work / "variants/classify_intent_terse.yaml"
    variant.parent.mkdir(exist_ok=True)
    variant.write_text(terse, encoding="utf-8")
    (work / "profiles.yaml").write_text(
        f"fake:\n  base_url: {url}\n  model: fake-keywords\n  concurrency: 8\n"
        "  prices: {input_per_mtok: 0.15, output_per_mtok: 0.60}\n",
        encoding="utf-8",
    )
    return variant


def promptops(*args: str) -> int:
    from promptops.cli import main

    sys.argv = ["promptops", *args]
    print("$ promptops " + " ".join(args), flush=True)
    try:
        main()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("work", type=Path)
    parser.add_argument("--per-label", type=int, default=10)
    args = parser.parse_args()
    import os

    with FakeOpenAIServer(answer=keyword_answer, latency_s=0.05, port=0) as server:
        variant = build(args.work, args.per_label, server.base_url).resolve()
        os.chdir(args.work)
        sample = "evalsets/banking77/intent_sample.jsonl"
        grid = ["eval", "intent", "--evalset", sample, "--prompt", "classify_intent"]
        grid += ["--prompt", str(variant), "--profile", "embedded", "--profile", "fake"]
        print("exit", promptops(*grid, "--out", "reports/runs/grid-intent"))
        base = "reports/runs/grid-intent/classify_intent__embedded"
        print("exit", promptops("baseline", "save", base, "--path", "baselines/intent.json"))
        swap = ["eval", "intent", "--evalset", sample, "--base-url", server.base_url]
        swap += ["--model", "fake-keywords", "--out", "reports/runs/swap-fake"]
        print("exit", promptops(*swap, "--against-baseline"))
        terse = ["eval", "intent", "--evalset", sample, "--prompt", str(variant)]
        terse += ["--out", "reports/runs/terse-embedded", "--against-baseline"]
        print("exit", promptops(*terse))
        print("exit", promptops("runs", "list", "--suite", "intent"))


if __name__ == "__main__":
    main()
