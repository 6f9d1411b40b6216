"""Prompt regression in CI: compare two runs, keep baselines in the repo, test prompts in pytest.

    compare.py        `promptops compare A B`: paired tests on shared cases, flipped cases
    baseline.py       `promptops baseline save RUN`: baselines/<suite>.json records
    sides.py          what compare reads from a run folder
    recording.py      record/replay of chat-completion HTTP calls for tests
    runner.py         running a prompt on cases from a test (`PromptRunner`)
    pytest_plugin.py  the `prompt_runner` fixture, `--promptops-record`

This package imports nothing at load time, so the pytest plugin costs nothing to register.
"""

from __future__ import annotations
