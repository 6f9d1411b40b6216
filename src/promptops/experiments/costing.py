"""Business cost of a finished run: the prompt's expected cost per 1,000 decisions and each
baseline's, from the suite's `costs:` block (`promptops.business`).

The prompt's cases come from its run folder (answers and the price paid per call); the
baselines are fit again on the train split with the suite's seed (they are deterministic,
and cost nothing per call), so their cost is on exactly the cases the prompt answered.
Written to `business_cost.json` in the run folder.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from promptops.business import CostEstimate, ErrorCosts, label_costs, per_1000
from promptops.errors import ConfigError, UserInputError
from promptops.evals.baselines import fit_baselines
from promptops.evals.evalset import EvalsetFile
from promptops.evals.suite import Suite
from promptops.experiments.scores import CaseScores, per_case_scores
from promptops.llm.profile import Prices, resolve_profile
from promptops.runs.folder import write_json

BUSINESS_COST_JSON = "business_cost.json"


@dataclass(frozen=True)
class CostRow:
    name: str  # "prompt" or a baseline's name
    estimate: CostEstimate
    error_part: float  # per 1,000 decisions, from mistakes and invalid answers
    call_part: float  # per 1,000 decisions, the price of the calls


@dataclass(frozen=True)
class BusinessCost:
    currency: str
    rows: tuple[CostRow, ...]

    def to_json(self) -> dict[str, object]:
        return {"currency": self.currency, "rows": [asdict(r) for r in self.rows]}


def profile_prices(profile: str) -> Prices | None:
    """The profile's prices from profiles.yaml, to price answers replayed from the cache."""
    try:
        return resolve_profile(profile).prices
    except UserInputError:
        return None


def scores_cost(
    scores: CaseScores,
    costs: ErrorCosts,
    *,
    n_boot: int,
    seed: int,
    prices: Prices | None = None,
) -> CostRow:
    """Expected cost per 1,000 of a run's scored cases (label tasks); cached answers are
    priced at `prices` when given."""
    rows = list(scores.rows.values())
    expected = [str(r.expected) for r in rows]
    predicted = [None if r.predicted is None else str(r.predicted) for r in rows]
    paid = [r.price(prices) for r in rows]
    mistakes = label_costs(costs, expected, predicted)
    total = label_costs(costs, expected, predicted, paid)
    n = max(len(rows), 1)
    return CostRow(
        name="prompt",
        estimate=per_1000(total, n_boot=n_boot, seed=seed),
        error_part=float(mistakes.sum()) / n * 1000,
        call_part=float(total.sum() - mistakes.sum()) / n * 1000,
    )


def run_business_cost(
    run_folder: Path, suite: Suite, evalset: Path, labels: list[str], prices: Prices | None = None
) -> BusinessCost:
    """The prompt's and every baseline's expected cost per 1,000 decisions (answers replayed
    from the cache priced at `prices`); written beside the run's other files."""
    costs = suite.costs
    if costs is None:
        raise ConfigError("the suite declares no costs", where=f"{suite.name}: costs")
    costs.check_labels(labels, where=f"suite {suite.name}: costs.matrix")
    n_boot, seed = suite.bootstrap_samples, suite.seed
    scores = per_case_scores(run_folder)
    rows = [scores_cost(scores, costs, n_boot=n_boot, seed=seed, prices=prices)]
    file = EvalsetFile(evalset)
    train = [c for c in file if c.split == "train"]
    test = file.of_split("test")
    ids = [c.id for c in test]
    for fit in fit_baselines(train, test, len(ids), labels, names=list(suite.baselines), seed=seed):
        if not fit.ok or fit.predictions is None:
            continue
        answered = dict(zip(ids, fit.predictions, strict=True))
        shared = [i for i in scores.rows if i in answered]
        expected = [str(scores.rows[i].expected) for i in shared]
        mistakes = label_costs(costs, expected, [answered[i] for i in shared])
        rows.append(
            CostRow(
                name=fit.name,
                estimate=per_1000(mistakes, n_boot=n_boot, seed=seed),
                error_part=float(mistakes.mean()) * 1000 if shared else 0.0,
                call_part=0.0,
            )
        )
    result = BusinessCost(costs.currency, tuple(rows))
    write_json(run_folder / BUSINESS_COST_JSON, result.to_json())
    return result
