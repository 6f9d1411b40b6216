"""An eval's jobs: every case its kind sends (and repeat sample) still to answer, as a
request, and the result row its answer becomes (read the kind's way). `runs.sending` sends
them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from promptops.evals.evalset import Case
from promptops.llm.types import Completion
from promptops.prompts import Prompt, build_request
from promptops.runs.kinds import RunKind
from promptops.runs.rows import CallFacts
from promptops.runs.sending import Job


@dataclass(frozen=True)
class CaseJob:
    index: int  # the case's position in its split (`case.split`)
    case: Case
    sample: int
    resent: bool = False  # sent again after an earlier run ended it with a transient error


def finished(records: Iterable[dict[str, Any]], n_cases: int, repeat: int) -> bytearray:
    """One byte per (case, sample), 1 where `results.jsonl` already holds the result: a
    resumed run sends only the rest, with a byte (not a set entry) per case."""
    done = bytearray(n_cases * repeat)
    for record in records:
        index, sample = int(record["index"]), int(record["sample"])
        if 0 <= index < n_cases and 0 <= sample < repeat:
            done[index * repeat + sample] = 1
    return done


def jobs(
    prompt: Prompt,
    cases: Iterable[Case],
    repeat: int,
    done: bytearray,
    resent: set[tuple[str, int]],
) -> Iterator[Job[CaseJob]]:
    """The requests still to send, built one at a time as the window asks for them."""
    for index, case in enumerate(cases):
        for sample in range(repeat):
            if not done[index * repeat + sample]:
                request = build_request(prompt, case.input, sample_index=sample)
                again = (case.id, sample) in resent
                yield Job(request, CaseJob(index, case, sample, again))


def case_row(kind: RunKind, prompt: Prompt, job: CaseJob, completion: Completion) -> dict[str, Any]:
    """One line of results.jsonl: the case, the raw output, the kind's reading of it
    (`predicted`, None for a failed call) and the call's facts."""
    answer = kind.parse(prompt, completion)
    case = job.case
    row = kind.row_model(
        id=case.id,
        index=job.index,
        sample=job.sample,
        split=case.split,
        tags=list(case.tags),
        input=case.input,
        expected=case.expected,
        predicted=answer.value if completion.ok else None,
        invalid=answer.invalid,
        raw_output=completion.text,
        resent=job.resent,
        **answer.extra,
        **CallFacts.of(completion),
    )
    return row.line()
