"""`promptops power SUITE --detect D`: cases needed to detect a difference, method named."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from promptops.evals.planning import PowerPlan


def render_plan(p: PowerPlan) -> list[str]:
    """The plan as lines of text: the suite, the method, a table over discordance, the run."""
    from promptops.reports import fmt  # here, not at the top: keeps `promptops --help` light

    share = fmt.pct(p.power, 0)
    lines = [
        f"suite {p.suite}: {fmt.count(p.n_cases)} test cases in {p.evalset}; primary metric "
        f"{fmt.metric_name(p.primary_metric)}",
        f"to detect a difference of {fmt.num(p.detect)} with {share} power at alpha "
        f"{p.alpha:g} (two-sided)",
        f"method: {p.method}",
        "",
        f"{'discordance':>11}  {'cases (Connor)':>14}  {'(Miettinen)':>11}  "
        f"{'MDE at ' + fmt.count(p.n_cases) + ' cases':>18}",
    ]
    for row in p.rows:
        needed = fmt.count(row.connor_n) if row.connor_n is not None else "needs psi >= D"
        miettinen = fmt.count(row.miettinen_n) if row.miettinen_n is not None else "-"
        mde = fmt.num(row.mde_now) if row.mde_now is not None else "none"
        lines.append(f"{fmt.num(row.discordance, 2):>11}  {needed:>14}  {miettinen:>11}  {mde:>18}")
    lines += [
        "",
        "discordance: the share of cases that one system gets right and the other wrong; "
        "a pair of similar prompts sits near the top of the table, a prompt against a "
        "trivial baseline near the bottom.",
    ]
    if p.primary_metric != "accuracy":
        lines.append(
            f"{fmt.metric_name(p.primary_metric)} is not a mean over cases: read the McNemar "
            "figures as a guide, and give --run for a figure measured on it."
        )
    r = p.run
    if r is not None:
        against = f"against {r.against}" if r.against else "alone"
        mde = fmt.num(r.mde) if r.mde is not None else "none"
        lines += [
            "",
            f"run {r.path}: MDE {mde} in {fmt.metric_name(r.metric)} at "
            f"{fmt.count(r.n)} cases, {against} ({r.method})",
        ]
        if r.cases_needed is not None:
            lines.append(
                f"  about {fmt.count(r.cases_needed)} cases to detect {fmt.num(p.detect)} "
                "(an MDE shrinks as 1/sqrt(n))"
            )
        if r.discordance is not None:
            connor = (
                f"{fmt.count(r.connor_n)} cases for accuracy (Connor)"
                if r.connor_n is not None
                else "too little discordance for that difference"
            )
            lines.append(f"  observed discordance {fmt.num(r.discordance)}: {connor}")
    return lines


def power_command(
    suite: str = typer.Argument(..., help="Suite name (evalsets/NAME.yaml) or a suite file."),
    detect: float = typer.Option(..., "--detect", help="The difference to detect, e.g. 0.02."),
    discordance: list[float] = typer.Option(
        [], "--discordance", help="Discordant rate(s) to plan for (default 0.05 0.10 0.20 0.40)."
    ),
    power: float = typer.Option(0.8, "--power", help="Wanted power."),
    alpha: float | None = typer.Option(None, "--alpha", help="Significance (default: suite's)."),
    run: Path | None = typer.Option(
        None, "--run", help="A finished run of the suite: use its measured MDE and discordance."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the plan as JSON."),
) -> None:
    """How many cases SUITE needs to detect a difference of --detect, and what its present
    size can detect (McNemar sample size, Connor 1987; Miettinen 1968 beside it)."""
    from promptops.evals.planning import plan

    result = plan(suite, detect, discordance=discordance, power=power, alpha=alpha, run_dir=run)
    if as_json:
        typer.echo(json.dumps(asdict(result), indent=2, sort_keys=True))
        return
    for line in render_plan(result):
        typer.echo(line)


def register(app: typer.Typer) -> None:
    app.command("power")(power_command)
