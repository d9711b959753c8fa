"""Social-outcome metrics (Perolat et al. 2017) on hand-computed episodes."""

from __future__ import annotations

import numpy as np
import pytest

from turngym.envs.dilemmas.metrics import (
    cooperation_rate,
    equality,
    peace,
    social_outcomes,
    sustainability,
    utilitarian_efficiency,
)

# Three steps, two agents. Returns: agent 0 = 1 + 2 + 0 = 3, agent 1 = 0 + 0 + 3 = 3.
EPISODE = [[1.0, 0.0], [2.0, 0.0], [0.0, 3.0]]


def test_utilitarian_efficiency_is_total_return_per_step():
    assert utilitarian_efficiency(EPISODE) == pytest.approx(6.0 / 3.0)
    assert utilitarian_efficiency([[1.0, 1.0, 1.0]]) == pytest.approx(3.0)
    assert utilitarian_efficiency(np.zeros((0, 4))) == 0.0
    with pytest.raises(ValueError, match="steps, agents"):
        utilitarian_efficiency([1.0, 2.0])


def test_equality_is_one_minus_gini():
    assert equality([3.0, 3.0]) == pytest.approx(1.0)
    # |1-3| + |3-1| = 4 over 2 * N * sum = 2 * 2 * 4 = 16: Gini 0.25.
    assert equality([1.0, 3.0]) == pytest.approx(0.75)
    # One of four agents takes everything: sum |Ri-Rj| = 6 * 4 = 24 over 2 * 4 * 4 = 32: Gini 0.75.
    assert equality([4.0, 0.0, 0.0, 0.0]) == pytest.approx(0.25)
    assert equality([0.0, 0.0]) == 1.0
    # Negative returns: the |R| denominator keeps E in [0, 1]: 4 / (2 * 2 * 2) = 0.5.
    assert equality([-1.0, 1.0]) == pytest.approx(0.5)


def test_sustainability_is_mean_time_of_positive_rewards():
    # Agent 0 collects at steps 1 and 2 (mean 1.5), agent 1 at step 3: S = (1.5 + 3) / 2.
    assert sustainability(EPISODE) == pytest.approx(2.25)
    # An agent that never collects is left out of the mean.
    assert sustainability([[0.0, 1.0], [0.0, 0.0], [0.0, 1.0]]) == pytest.approx(2.0)
    assert sustainability([[0.0, -1.0], [0.0, 0.0]]) == 0.0


def test_peace_counts_agents_in_play_per_step():
    removed = [[True, False], [False, False], [True, True]]
    assert peace(removed) == pytest.approx((2 * 3 - 3) / 3)
    assert peace(np.zeros((5, 7), bool)) == 7.0
    assert peace(np.zeros((0, 3), bool)) == 3.0


def test_cooperation_rate_is_the_fraction_of_cooperative_moves():
    assert cooperation_rate([[True, False], [True, True]]) == pytest.approx(0.75)
    assert cooperation_rate([False, False, True]) == pytest.approx(1 / 3)
    assert cooperation_rate([]) == 0.0


def test_social_outcomes_combines_the_four():
    out = social_outcomes(EPISODE, removed=[[False, False], [False, True], [False, False]])
    assert out == pytest.approx({"efficiency": 2.0, "equality": 1.0, "sustainability": 2.25, "peace": 5 / 3})
    assert social_outcomes(EPISODE)["peace"] == 2.0
    with pytest.raises(ValueError, match="removed"):
        social_outcomes(EPISODE, removed=[[False, False]])
