"""What a sample can detect: sample size, power and minimum detectable difference (MDE).

For two systems scored right/wrong on the same cases, only the discordant cases matter:
psi = p10 + p01 is the discordant rate and delta = p01 - p10 the gain. Two textbook
approximations for the McNemar test (two-sided alpha, power 1 - beta):

- Connor (1987), Biometrics 43:207, the one promptops uses:
      n = [z(1-alpha/2) sqrt(psi) + z(1-beta) sqrt(psi - delta^2)]^2 / delta^2
      power = Phi((|delta| sqrt(n) - z(1-alpha/2) sqrt(psi)) / sqrt(psi - delta^2))
- Miettinen (1968), as it is usually quoted, 1-10% fewer cases, shown beside it:
      n = [z(1-alpha/2) psi + z(1-beta) sqrt(psi^2 - delta^2 (3 + psi) / 4)]^2 / (psi delta^2)

Connor's formula is the normal approximation with sqrt(psi / n) as the spread of the
difference under "equally good" and sqrt((psi - delta^2) / n) under the alternative. For a
metric that is not a mean over cases (macro-F1) the same construction is used with spreads
measured instead: the sign-flip null distribution's and the paired bootstrap's
(`normal_mde`). statsmodels has no McNemar power function; the tests check these figures
against exact binomial enumeration, Monte Carlo and published tables.
"""

from __future__ import annotations

import math
from statistics import NormalDist

DEFAULT_POWER = 0.8
_Z = NormalDist()


def _z(alpha: float, power: float) -> tuple[float, float]:
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError(f"need 0 < alpha < 1 and 0 < power < 1, got {alpha}, {power}")
    return _Z.inv_cdf(1 - alpha / 2), _Z.inv_cdf(power)


def _check(delta: float, psi: float) -> None:
    if not 0 < abs(delta) <= psi <= 1:
        raise ValueError(
            f"need 0 < |delta| <= psi <= 1 (a gain needs discordant cases), got "
            f"delta={delta}, psi={psi}"
        )


def connor_n(delta: float, psi: float, *, alpha: float = 0.05, power: float = DEFAULT_POWER) -> int:
    """Cases needed for the McNemar test to detect `delta` at discordant rate `psi`."""
    _check(delta, psi)
    za, zb = _z(alpha, power)
    d2 = delta * delta
    return math.ceil((za * math.sqrt(psi) + zb * math.sqrt(psi - d2)) ** 2 / d2 - 1e-9)


def miettinen_n(
    delta: float, psi: float, *, alpha: float = 0.05, power: float = DEFAULT_POWER
) -> int:
    """Miettinen's (1968) sample size for the same question, as commonly quoted."""
    _check(delta, psi)
    za, zb = _z(alpha, power)
    d2 = delta * delta
    inner = max(0.0, psi * psi - d2 * (3 + psi) / 4)
    return math.ceil((za * psi + zb * math.sqrt(inner)) ** 2 / (psi * d2) - 1e-9)


def connor_power(delta: float, psi: float, n: int, *, alpha: float = 0.05) -> float:
    """Approximate power of the two-sided McNemar test with n cases."""
    _check(delta, psi)
    za = _Z.inv_cdf(1 - alpha / 2)
    spread = math.sqrt(psi - delta * delta)
    if spread == 0:  # every case discordant one way: the difference is certain
        return 1.0
    return _Z.cdf((abs(delta) * math.sqrt(n) - za * math.sqrt(psi)) / spread)


def connor_mde(
    psi: float, n: int, *, alpha: float = 0.05, power: float = DEFAULT_POWER
) -> float | None:
    """The smallest gain delta (<= psi) that n cases detect with `power` at discordant rate
    psi, solving Connor's equation delta sqrt(n) = za sqrt(psi) + zb sqrt(psi - delta^2) by
    bisection (the left side grows with delta, the right side falls). None when even
    delta = psi, every discordant case going one way, falls short."""
    if n <= 0 or not 0 < psi <= 1:
        return None
    za, zb = _z(alpha, power)

    def gap(delta: float) -> float:
        return delta * math.sqrt(n) - za * math.sqrt(psi) - zb * math.sqrt(psi - delta * delta)

    if gap(psi) < 0:
        return None
    low, high = 0.0, psi
    for _ in range(100):
        mid = (low + high) / 2
        low, high = (mid, high) if gap(mid) < 0 else (low, mid)
    return high


def normal_mde(
    null_sd: float, alt_sd: float, *, alpha: float = 0.05, power: float = DEFAULT_POWER
) -> float:
    """z(1-alpha/2) * null_sd + z(power) * alt_sd: Connor's construction with measured
    spreads of the difference (under "equally good", and as observed)."""
    za, zb = _z(alpha, power)
    return za * null_sd + zb * alt_sd


def one_sample_mde(sd: float, *, alpha: float = 0.05, power: float = DEFAULT_POWER) -> float:
    """The change of a metric with standard error `sd` that a test against a fixed value
    detects with `power`: what a suite can see before any system is paired with it."""
    za, zb = _z(alpha, power)
    return (za + zb) * sd


def cases_for(delta: float, mde: float, n: int) -> int:
    """Cases needed to bring a measured MDE at n cases down to `delta`: an MDE shrinks as
    1 / sqrt(n), so n (mde / delta)^2."""
    if delta <= 0 or mde <= 0 or n <= 0:
        raise ValueError(f"need positive delta, mde and n, got {delta}, {mde}, {n}")
    return math.ceil(n * (mde / delta) ** 2 - 1e-9)
