"""A prompt's own post-processing of answers: contextual calibration.

Calibration belongs to the prompt (its file says `calibration: contextual`), so every place
that runs a prompt (eval, `run`, the pytest plugin, serving) must apply it the same way, or
the same input gets different labels in CI and in production. This module is that one place.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from promptops.llm.calibration import calibrate, content_free_prior
from promptops.llm.client import LLMClient
from promptops.llm.types import Completion
from promptops.prompts.model import Prompt
from promptops.prompts.render import build_request, declared_variables


@dataclass(frozen=True)
class Calibrator:
    """`prior` is the content-free label distribution; `status` says what is applied and,
    when calibration was asked for but could not be done, why."""

    prior: dict[str, float] | None = None
    status: str = "none"

    @property
    def active(self) -> bool:
        return self.prior is not None

    def apply(self, completion: Completion) -> Completion:
        """Re-decide a valid answer by its calibrated probabilities; the model's own
        probabilities stay in `raw_label_probs`. Errors and invalid answers are left as they
        are: calibration never turns an answer outside the label set into a label."""
        if self.prior is None or not completion.ok or completion.invalid:
            return completion
        if completion.label_probs is None:
            return completion
        probs = calibrate(completion.label_probs, self.prior)
        return replace(
            completion,
            label=max(probs, key=probs.__getitem__),
            label_probs=probs,
            raw_label_probs=completion.label_probs,
        )


async def calibrator_for(client: LLMClient, prompt: Prompt) -> Calibrator:
    """Ask the prompt's content-free inputs (every variable set to e.g. "N/A") for label
    probabilities and average them into the prior; sent through the cache like any request."""
    if prompt.calibration is None or prompt.calibration.method == "none":
        return Calibrator()
    names = list(declared_variables(prompt))
    samples = []
    for text in prompt.calibration.content_free:
        answer = await client.complete(build_request(prompt, dict.fromkeys(names, text)))
        if answer.label_probs is None:
            reason = f": {answer.error}" if answer.error else ""
            return Calibrator(
                status="contextual calibration is off: the endpoint gave no label "
                f"probabilities{reason}"
            )
        samples.append(answer.label_probs)
    return Calibrator(prior=content_free_prior(samples), status="contextual")
