"""Contextual calibration as every runner applies it, against a real local server whose
label probabilities carry a known bias."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from promptops.llm.client import LLMClient
from promptops.llm.profile import EndpointProfile
from promptops.llm.types import Completion
from promptops.prompts import Prompt, build_request
from promptops.prompts.calibrator import Calibrator, calibrator_for
from promptops.testing.openai_server import FakeOpenAIServer, last_user_message

PROMPT = Prompt.model_validate(
    {
        "name": "biased",
        "version": "1.0.0",
        "task": "classification",
        "labels": ["yes", "no"],
        "calibration": {"method": "contextual", "content_free": ["N/A", ""]},
        "messages": [{"role": "user", "content": "{{ text }}"}],
    }
)


def biased(body: dict[str, Any], text: str) -> dict[str, Any]:
    """A model that leans to "yes": 0.8 on content-free input, 0.6 on "maybe"."""
    message = last_user_message(body)
    p_yes = {"N/A": 0.8, "": 0.8, "maybe": 0.6, "surely": 0.95}[message]
    return {"label_probs": {"yes": p_yes, "no": 1 - p_yes}}


def answer(body: dict[str, Any]) -> str:
    return '{"label": "yes"}'


async def run(prompt: Prompt, text: str, srv: FakeOpenAIServer) -> tuple[Calibrator, Completion]:
    profile = EndpointProfile(name="fake", base_url=srv.base_url, model="m", max_retries=0)
    async with LLMClient(profile) as client:
        calibrator = await calibrator_for(client, prompt)
        return calibrator, calibrator.apply(
            await client.complete(build_request(prompt, {"text": text}))
        )


def test_prior_is_measured_and_divides_out_the_bias() -> None:
    with FakeOpenAIServer(answer=answer, choice_extra=biased) as srv:
        calibrator, completion = asyncio.run(run(PROMPT, "maybe", srv))
    assert calibrator.status == "contextual"
    assert calibrator.prior == pytest.approx({"yes": 0.8, "no": 0.2})
    # p ∝ (0.6 / 0.8, 0.4 / 0.2) = (0.75, 2.0): calibration flips the biased "yes" to "no"
    assert completion.label == "no"
    assert completion.label_probs == pytest.approx({"yes": 0.75 / 2.75, "no": 2.0 / 2.75})
    assert completion.raw_label_probs == pytest.approx({"yes": 0.6, "no": 0.4})


def test_a_strong_answer_survives_calibration() -> None:
    with FakeOpenAIServer(answer=answer, choice_extra=biased) as srv:
        _, completion = asyncio.run(run(PROMPT, "surely", srv))
    assert completion.label == "yes"


def test_without_label_probabilities_calibration_is_off_and_says_why() -> None:
    with FakeOpenAIServer(answer=answer) as srv:
        calibrator, completion = asyncio.run(run(PROMPT, "maybe", srv))
    assert not calibrator.active
    assert "no label probabilities" in calibrator.status
    assert completion.label == "yes" and completion.raw_label_probs is None


def test_invalid_answers_are_never_turned_into_labels() -> None:
    calibrator = Calibrator(prior={"yes": 0.5, "no": 0.5}, status="contextual")
    invalid = Completion(text="perhaps", invalid=True, label_probs={"yes": 0.4, "no": 0.6})
    assert calibrator.apply(invalid) is invalid
