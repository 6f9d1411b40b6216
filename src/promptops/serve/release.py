"""Release guardrails: who answers a request (primary or canary), whether the candidate runs
at all (kill switch), and the trained baseline that answers when the model cannot.

Canary routing hashes `seed|request_id`, so a request id always lands on the same arm (a
retried request is not re-rolled) and the share holds across workers and restarts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from promptops.errors import ConfigError
from promptops.evals.baselines import BASELINES, Predict
from promptops.evals.evalset import EvalsetFile, case_text
from promptops.evals.suite import resolve_suite
from promptops.prompts import Prompt, declared_variables


def routed_to_canary(request_id: str, share: float, seed: int) -> bool:
    """True for a `share` of request ids, decided by a seeded hash of the id."""
    digest = hashlib.sha256(f"{seed}|{request_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def same_inputs(primary: Prompt, candidate: Prompt) -> None:
    """A candidate must take the primary's inputs: requests are validated against the
    primary's variables and then sent to either."""

    def shape(prompt: Prompt) -> dict[str, tuple[object, ...]]:
        return {
            name: (v.type, v.max_chars, v.required, v.default)
            for name, v in declared_variables(prompt).items()
        }

    mine, theirs = shape(primary), shape(candidate)
    if mine != theirs:
        raise ConfigError(
            f"{candidate.identity} declares variables {sorted(theirs)} with their limits, "
            f"{primary.identity} {sorted(mine)}: a candidate must take the same inputs",
            where="--shadow/--canary",
        )


class KillSwitch:
    """Candidate traffic (shadow or canary) is on until turned off by `POST
    /admin/candidate/off` or by the flag file existing. Turning it off writes the flag file
    when one is configured, so every worker process sees it, not only the one that was asked."""

    def __init__(self, flag_file: Path | None) -> None:
        self.flag_file = flag_file
        self._off = False

    @property
    def off(self) -> bool:
        return self._off or (self.flag_file is not None and self.flag_file.exists())

    def turn_off(self) -> None:
        self._off = True
        if self.flag_file is not None:
            self.flag_file.parent.mkdir(parents=True, exist_ok=True)
            self.flag_file.touch()

    def turn_on(self) -> None:
        self._off = False
        if self.flag_file is not None:
            self.flag_file.unlink(missing_ok=True)


@dataclass(frozen=True)
class Fallback:
    """A baseline fit on the suite's train split: labels and probabilities in label order."""

    name: str
    labels: tuple[str, ...]
    predict: Predict

    def answer(self, inputs: dict[str, str]) -> tuple[str, float]:
        """The baseline's label and its probability for one input, with the input's text
        built the way the baselines were trained on it (`case_text`)."""
        text = "\n".join(str(v) for v in inputs.values())
        proba = np.asarray(self.predict([text]))[0]
        best = int(proba.argmax())
        return self.labels[best], float(proba[best])


def suite_for(prompt: Prompt, suite_ref: str | None, suites_dir: Path = Path("evalsets")) -> str:
    """The suite named on the command line, else the only suite in `evalsets/` whose prompt
    is the served one."""
    if suite_ref is not None:
        return suite_ref
    found = []
    for path in sorted(suites_dir.glob("*.yaml")):
        try:
            suite, _ = resolve_suite(str(path))
        except Exception:  # other kinds of suite (rag-eval) do not parse as eval suites
            continue
        if suite.prompt == prompt.name:
            found.append(str(path))
    if len(found) != 1:
        raise ConfigError(
            f"{len(found)} eval suites name prompt {prompt.name!r}; pass --suite",
            where="--fallback baseline",
        )
    return found[0]


def fit_fallback(prompt: Prompt, suite_ref: str, baseline: str) -> Fallback:
    """Fit the named baseline on the suite's train split, once, at start-up."""
    if prompt.task != "classification" or not prompt.labels:
        raise ConfigError("a baseline fallback needs a classification prompt", where="--fallback")
    fit = BASELINES.get(baseline, where="--fallback-baseline")
    suite, _ = resolve_suite(suite_ref)
    train = [c for c in EvalsetFile(suite.path_of(suite.evalset)) if c.split == "train"]
    labelled = [c for c in train if c.expected is not None]
    if len({c.expected for c in labelled}) < 2:
        raise ConfigError(
            "the suite's train split has fewer than 2 labels: no baseline to fall back to",
            where=suite_ref,
        )
    texts: Sequence[str] = [case_text(c) for c in labelled]
    fitted = fit(texts, [str(c.expected) for c in labelled], prompt.labels, suite.seed)
    return Fallback(baseline, tuple(prompt.labels), fitted)
