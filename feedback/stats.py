"""The few statistics the calibration needs, as plain functions of numbers (no Django)."""

from __future__ import annotations

import math
from collections.abc import Sequence

Z95 = 1.959964


def rate(part: int, whole: int) -> float | None:
    """part ÷ whole, or None when there is nothing to divide (shown as "—", never as 0 %)."""
    return part / whole if whole else None


def median(values: Sequence[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def auc(positives: Sequence[float], negatives: Sequence[float]) -> float | None:
    """The chance that a random positive scores above a random negative (ties count half):
    the Mann-Whitney U statistic over n+ × n-, from ranks so it is O(n log n)."""
    if not positives or not negatives:
        return None
    labelled = sorted([(v, 1) for v in positives] + [(v, 0) for v in negatives])
    rank_sum, i = 0.0, 0
    while i < len(labelled):
        j = i
        while j < len(labelled) and labelled[j][0] == labelled[i][0]:
            j += 1
        mid_rank = (i + 1 + j) / 2  # ranks i+1..j share their mean
        rank_sum += mid_rank * sum(label for _, label in labelled[i:j])
        i = j
    n_pos, n_neg = len(positives), len(negatives)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def lift(
    hits_with: int, n_with: int, hits_without: int, n_without: int
) -> tuple[float, float, float] | None:
    """Rate with ÷ rate without (a risk ratio) and its 95 % interval on the log scale (Katz).

    A zero count gets half a count on every cell (Haldane), so a rule that was never accepted
    still gets a finite, wide interval instead of none. None when either side is empty.
    """
    if not n_with or not n_without:
        return None
    a, n1, c, n2 = hits_with, n_with, hits_without, n_without
    if 0 in (a, c):
        a, n1, c, n2 = a + 0.5, n1 + 1, c + 0.5, n2 + 1
    ratio = (a / n1) / (c / n2)
    se = math.sqrt(max(1 / a - 1 / n1 + 1 / c - 1 / n2, 0.0))
    return ratio, ratio * math.exp(-Z95 * se), ratio * math.exp(Z95 * se)


def quantile_edges(values: Sequence[float], parts: int) -> list[float]:
    """The `parts - 1` inner cut points that split the sorted values into equal-count parts."""
    ordered = sorted(values)
    return [ordered[len(ordered) * k // parts] for k in range(1, parts)] if ordered else []
