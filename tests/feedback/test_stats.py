"""The calibration's statistics on numbers small enough to check by hand."""

import pytest

from feedback import stats


def test_a_rate_of_nothing_is_none_not_zero():
    assert stats.rate(0, 0) is None
    assert stats.rate(1, 4) == 0.25


def test_the_median_of_an_even_count_is_the_mean_of_the_middle_two():
    assert stats.median([4, 1, 3, 2]) == 2.5
    assert stats.median([5, 1, 3]) == 3
    assert stats.median([]) is None


def test_auc_counts_ties_as_half_a_pair():
    assert stats.auc([3, 4], [1, 2]) == 1
    assert stats.auc([1, 2], [3, 4]) == 0
    # Pairs: 2>1, 2=2 (half), 3>1, 3>2: 3.5 of 4.
    assert stats.auc([2, 3], [1, 2]) == pytest.approx(3.5 / 4)
    assert stats.auc([], [1]) is None


def test_lift_is_a_risk_ratio_with_a_log_scale_interval():
    ratio, low, high = stats.lift(30, 50, 20, 50)
    assert ratio == pytest.approx(1.5)
    assert low < 1.5 < high and low == pytest.approx(1.5**2 / high)  # symmetric in log
    assert stats.lift(1, 1, 0, 0) is None


def test_quantile_edges_split_into_equal_counts():
    assert stats.quantile_edges(list(range(10)), 5) == [2, 4, 6, 8]
    assert stats.quantile_edges([], 5) == []
