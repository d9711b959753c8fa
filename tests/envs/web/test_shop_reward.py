"""WebShop's reward formula on hand-computed cases (issue 14). Fails on main: the shop package is a placeholder."""

from __future__ import annotations

import pytest
from helpers_shop import goal, product

from turngym.envs.web.shop.reward import (
    fuzzy_score,
    normalize_color,
    option_matches,
    score_purchase,
    title_nouns,
    type_reward,
)
from turngym.envs.web.shop.types import NO_PRICE_BOUND


def test_full_match_scores_one():
    # attrs: "non slip" (product attribute), "breathable mesh" (substring of the description) -> 2 of 2;
    # options navy blue + 9 -> 2 of 2; 39.99 <= 60 -> 1: (2 + 2 + 1) / (2 + 2 + 1) * r_type 1.0
    s = score_purchase(product(), goal(), {"color": "navy blue", "size": "9"})
    assert (s.num_attr_matches, s.num_option_matches, s.r_price, s.r_type) == (2, 2, True, 1.0)
    assert s.score == 1.0 and s.r_option == 1.0


def test_partial_options_and_price():
    # "black" vs goal "navy blue" (normalized to "blue": COLOR_SET order) and no size: 0 option matches.
    assert score_purchase(product(), goal(), {"color": "black"}).score == pytest.approx(3 / 5)
    # Over the bound: (2 + 2 + 0) / 5.
    s = score_purchase(product(price=75.0), goal(), {"color": "navy blue", "size": "9"})
    assert (s.r_price, s.score) == (False, pytest.approx(4 / 5))
    # One attribute only: "rubber sole" is not asked; "breathable mesh" missing everywhere -> (1 + 2 + 1) / 5.
    s = score_purchase(product(description="Plain."), goal(), {"color": "navy blue", "size": "9"})
    assert s.score == pytest.approx(4 / 5) and s.r_att == 0.5


def test_no_price_bound_always_counts_the_price_term():
    g = goal(price_upper=NO_PRICE_BOUND, options=())
    s = score_purchase(product(price=5000.0), g, {})
    # (2 attrs + 0 options + price 1) / (2 + 0 + 1); r_option is None without goal options (WebShop).
    assert s.score == 1.0 and s.r_price is True and s.r_option is None


def test_type_factor_branches():
    p = product(title="Shoes Holder", query="other", product_category="X › Y")
    # Goal name nouns: kovaro, trail, shoes, laces, box -> overlap {shoes}: 1/5 = 0.2, not > 0.2, no query, no
    # category match -> 0.5 (and 0.2 >= 0.1 keeps it there).
    r_type, q, c, t = type_reward(p, goal(name="Kovaro Trail Shoes Laces Box"))
    assert (r_type, q, c, t) == (0.5, False, False, pytest.approx(0.2))
    # 1 of 11 nouns (< 0.1) -> 0.1 even though the query matches.
    long_name = "Shoes alpha bravo charlie delta echo foxtrot golf hotel india juliet"
    r_type, q, _, t = type_reward(product(title="Shoes Holder"), goal(name=long_name))
    assert q and t == pytest.approx(1 / 11) and r_type == 0.1
    # No shared noun -> 0.0 even with query and category matches.
    r_type, q, c, t = type_reward(product(title="Garden Hose"), goal())
    assert (q, c, t, r_type) == (True, True, 0.0, 0.0)
    # Title score > 0.2 alone is a match: 2 of 3 nouns.
    r_type, q, c, t = type_reward(product(title="Kovaro Shoes", query="x", product_category="Z"), goal())
    assert (q, c, r_type) == (False, False, 1.0) and t == pytest.approx(2 / 3)
    # A goal name without nouns scores 0.2 (WebShop's default).
    assert type_reward(product(query="x", product_category="Z"), goal(name="The Best"))[3] == 0.2


def test_category_overlap_ignores_order_and_needs_two_segments():
    g = goal(product_category="a › b › c")
    assert type_reward(product(query="x", product_category="b › c › a"), g)[2] is True
    assert type_reward(product(query="x", product_category="a › d › b"), g)[2] is True
    assert type_reward(product(query="x", product_category="a › a › d"), g)[2] is False


def test_whole_formula_with_type_factor():
    # (2 + 2 + 1) / 5 * 0.5 with the 0.5 branch above.
    p = product(title="Shoes Holder", query="other", product_category="X › Y", description="breathable mesh")
    s = score_purchase(p, goal(name="Kovaro Trail Shoes Laces Box"), {"color": "navy blue", "size": "9"})
    assert s.score == pytest.approx(0.5)


def test_fuzzy_matching_is_thefuzz_token_set_ratio():
    # WebShop's own test cases (tests/web-agent-site/engine/test_goal.py).
    assert fuzzy_score("essential oil", "essential oils") > 85
    assert option_matches(["pack of 12", "grey", "XL"], ["grey", "XL", "pack of 12"]) == 3
    assert option_matches(["pack of 12", "blue", "XL"], ["grey", "XL", "pack of 12"]) == 2
    assert option_matches(["pack of 12", "powder snow", "XL"], ["cool powder snow", "XL", "pack of 12"]) == 3
    assert option_matches(["goal 1"], []) == 0
    # thefuzz drops U+0080..U+00FF and ignores case and punctuation, and returns an int.
    assert fuzzy_score("Café", "caf") == 100 and isinstance(fuzzy_score("a", "b"), int)
    assert fuzzy_score("NON-SLIP", "non slip") == 100


def test_normalize_color_is_webshops_substring_rule():
    assert normalize_color("navy blue") == "blue"
    assert normalize_color("standard") == "tan"  # WebShop's quirk, kept on purpose
    assert normalize_color("16 fl oz") == "16 fl oz"


def test_title_nouns_stand_in():
    assert title_nouns("Kovaro Men's Lightweight Running Shoes, Non Slip") == ["kovaro", "running", "shoes", "slip"]
    assert title_nouns("The Best New") == []
