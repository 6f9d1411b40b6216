"""Fixed-precision number formatting shared by every report writer.

One place decides how a metric, a percentage or a p-value is printed, so the Markdown and
HTML reports agree digit for digit and a report diff shows real changes only (never `0.8`
against `0.80`, or `-0.000` against `0.000`).
"""

from __future__ import annotations

MISSING = "n/a"
METRIC_DIGITS = 3
PERCENT_DIGITS = 1


def _fixed(value: float, digits: int, *, signed: bool = False) -> str:
    text = f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"
    # A value that rounds to zero prints without a sign flip: "-0.000" -> "0.000".
    if float(text) == 0.0:
        text = f"{0.0:+.{digits}f}" if signed else f"{0.0:.{digits}f}"
    return text


def num(value: float | None, digits: int = METRIC_DIGITS) -> str:
    """A metric with fixed decimals: 0.5 -> "0.500"."""
    return MISSING if value is None else _fixed(value, digits)


def signed(value: float | None, digits: int = METRIC_DIGITS) -> str:
    """A difference with an explicit sign: 0.05 -> "+0.050"."""
    return MISSING if value is None else _fixed(value, digits, signed=True)


def pct(value: float | None, digits: int = PERCENT_DIGITS) -> str:
    """A fraction as a percentage: 0.1234 -> "12.3%"."""
    return MISSING if value is None else _fixed(100.0 * value, digits) + "%"


def pvalue(value: float | None) -> str:
    """A p-value: three decimals, and "< 0.001" below that (never a misleading "0.000")."""
    if value is None:
        return MISSING
    return "< 0.001" if value < 0.001 else _fixed(value, 3)


def interval(low: float, high: float, digits: int = METRIC_DIGITS, *, sign: bool = False) -> str:
    """A confidence interval in brackets: "[0.712, 0.790]"."""
    show = signed if sign else num
    return f"[{show(low, digits)}, {show(high, digits)}]"


def level(value: float) -> str:
    """A confidence level as a whole percentage when it is one: 0.95 -> "95%"."""
    return f"{round(100 * value)}%" if abs(100 * value - round(100 * value)) < 1e-9 else pct(value)


def seconds(value: float | None) -> str:
    """A duration: "1.234 s"."""
    return MISSING if value is None else _fixed(value, 3) + " s"


def count(value: int) -> str:
    """An integer with thousands separators: 12345 -> "12,345"."""
    return f"{value:,}"


def money(value: float) -> str:
    """A cost in US dollars with four decimals (local runs cost fractions of a cent)."""
    return "$" + _fixed(value, 4)


METRIC_NAMES = {
    "accuracy": "Accuracy",
    "macro_f1": "Macro-F1",
    "pr_auc_macro": "PR-AUC (macro)",
    "ece": "Expected calibration error",
    "invalid_rate": "Invalid-output rate",
    "error_rate": "Error rate",
}


def metric_name(key: str) -> str:
    """The reader-facing name of a metric key; `beats_<name>_baseline` rules read as words;
    other unknown keys print as they are."""
    if key.startswith("beats_") and key.endswith("_baseline"):
        return f"Significantly beats the {key[len('beats_') : -len('_baseline')]} baseline"
    return METRIC_NAMES.get(key, key)


def metric_value(metrics: object, key: str) -> float | None:
    """A scalar metric read off a metrics model by key; None if absent or not a number."""
    value = getattr(metrics, key, None)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


_OPS = {">=": "≥", "<=": "≤"}


def rule_text(op: str, value: float) -> str:
    """A threshold rule: (">=", 0.7) -> "≥ 0.700"."""
    return f"{_OPS.get(op, op)} {num(value)}"
