"""Sums of independent deals: the distribution of how many are won (Poisson-binomial,
exact) and of the value won (exact while it stays small, else simulated with a fixed seed).

An interval at ``level`` 0.8 runs from the 10th to the 90th percentile, each the smallest
outcome whose cumulative probability reaches it.
"""

from __future__ import annotations

from collections.abc import Sequence

EXACT_SUPPORT = 4096  # distinct value sums tracked exactly before switching to simulation
EXACT_DEALS = 64  # more deals than this: simulate straight away
DRAWS = 4000
SEED = 20240101


def _quantile(points: Sequence[tuple[float, float]], q: float) -> float:
    """The smallest outcome whose cumulative probability reaches ``q``."""
    acc = 0.0
    for x, p in points:
        acc += p
        if acc >= q - 1e-12:
            return x
    return points[-1][0]  # pragma: no mutate: not reached, the probabilities sum to 1


def count_distribution(probs: Sequence[float]) -> list[float]:
    """P(exactly k won) for k = 0..n (dynamic programme over the deals)."""
    dist = [1.0]
    for p in probs:
        nxt = [0.0] * (len(dist) + 1)
        for k, q in enumerate(dist):
            nxt[k] += q * (1 - p)
            nxt[k + 1] += q * p
        dist = nxt
    return dist


def count_interval(probs: Sequence[float], level: float = 0.8) -> tuple[int, int]:
    """The central ``level`` interval of the number won."""
    if len(probs) > 400:  # the pure-Python DP is quadratic; numpy does it in C
        import numpy as np

        dist = np.array([1.0])
        for p in probs:
            dist = np.concatenate([dist * (1 - p), [0.0]]) + np.concatenate([[0.0], dist * p])
        points = list(enumerate(dist.tolist()))
    else:
        points = list(enumerate(count_distribution(probs)))
    lo = (1 - level) / 2
    return int(_quantile(points, lo)), int(_quantile(points, 1 - lo))


def value_interval(probs: Sequence[float], values: Sequence[float], level: float = 0.8,
                   ) -> tuple[float, float]:
    """The central ``level`` interval of the value won (values in cents, exactly, while the
    number of distinct sums stays under ``EXACT_SUPPORT``; else by simulation)."""
    lo = (1 - level) / 2
    if len(probs) > EXACT_DEALS:
        return _simulated(probs, values, lo)
    dist: dict[int, float] = {0: 1.0}
    for p, v in zip(probs, values,
                    strict=True,  # pragma: no mutate: one value per deal, equal lengths
                    ):
        cents = round(v * 100)
        nxt: dict[int, float] = {}
        for s, q in dist.items():
            nxt[s] = nxt.get(s, 0.0) + q * (1 - p)
            nxt[s + cents] = nxt.get(s + cents, 0.0) + q * p
        dist = nxt
        if len(dist) > EXACT_SUPPORT:
            return _simulated(probs, values, lo)
    points = sorted((s / 100, q) for s, q in dist.items())
    return _quantile(points, lo), _quantile(points, 1 - lo)


def _simulated(probs: Sequence[float], values: Sequence[float], lo: float,
               ) -> tuple[float, float]:
    import numpy as np

    rng = np.random.default_rng(SEED)
    p = np.asarray(probs, dtype=float)
    v = np.asarray(values, dtype=float)
    totals = np.zeros(DRAWS)
    for start in range(0, DRAWS, 1000):  # in blocks: DRAWS x deals at once can be large
        wins = rng.random((1000, len(p)),
                          dtype=np.float32,  # pragma: no mutate: other draws, same odds
                          ) < p
        totals[start:start + 1000] = wins @ v
    a, b = np.quantile(totals, [lo, 1 - lo], method="inverted_cdf")
    return round(float(a), 2), round(float(b), 2)
