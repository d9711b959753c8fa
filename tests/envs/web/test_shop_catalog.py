"""The generated catalog, its goals, price bounds, splits and process-wide sharing (issue 14).

Fails on main: ``turngym.envs.web.shop`` is a placeholder there.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from turngym.envs import ConfigError
from turngym.envs.web.shop.catalog import (
    PRICE_RANGE,
    generate_products,
    get_catalog,
    price_bound,
    price_text,
    split_of,
)
from turngym.envs.web.shop.types import NO_PRICE_BOUND


def test_same_seed_same_catalog_other_seed_other_catalog():
    a, b, c = generate_products(300, 1), generate_products(300, 1), generate_products(300, 2)
    assert [(p.asin, p.title, p.price, p.options) for p in a] == [(p.asin, p.title, p.price, p.options) for p in b]
    assert [p.asin for p in a] != [p.asin for p in c]


def test_products_look_like_webshop_products():
    products = generate_products(2000, 0)
    assert len({p.asin for p in products}) == 2000
    assert {p.category for p in products} == {"beauty", "food", "fashion", "furniture", "electronics"}
    for p in products[:200]:
        assert len(p.asin) == 10 and p.asin.startswith("B0")
        assert p.product_category.count(" › ") >= 2 and p.query == p.query.lower()
        assert 3 <= len(p.attributes) <= 5 and len(p.bullets) == len(p.attributes)
        assert p.options and all(len(v) >= 1 for v in p.options.values())
        assert p.price_tag == f"${p.price:.2f}" and p.price > 0
        assert p.rating == "N.A." or 3.0 <= float(p.rating) <= 5.0
    assert any("gluten free" in p.attributes for p in products)
    assert any("machine washable" in p.attributes for p in products)


def test_catalog_is_shared_per_arguments():
    assert get_catalog(500, 3) is get_catalog(500, 3)
    assert get_catalog(500, 3) is not get_catalog(500, 4)
    assert get_catalog(500, 3).index is get_catalog(500, 3).index


def test_bad_catalog_arguments_raise_config_errors():
    for kwargs in ({"num_products": 0}, {"num_products": 10**9}, {"num_products": "10"}, {"seed": -1},
                   {"data_dir": "/nonexistent/folder"}):
        with pytest.raises(ConfigError):
            get_catalog(**kwargs)


def test_price_bound_is_webshops_rule_with_a_seeded_draw():
    # Four values above 23.99: 30, 40, 50, 60; the bound is the larger of two distinct draws: 40, 50 or 60.
    bounds = {price_bound(23.99, np.random.default_rng(s)) for s in range(200)}
    assert bounds == {40.0, 50.0, 60.0}
    # Exactly two values above 975 -> always 990; one or none -> no bound and no price text.
    assert price_bound(975.0, np.random.default_rng(0)) == 990.0
    assert price_bound(985.0, np.random.default_rng(0)) == NO_PRICE_BOUND and price_text(NO_PRICE_BOUND) == ""
    assert price_text(40.0) == ", and price lower than 40.00 dollars"
    assert PRICE_RANGE[0] == 10.0 and PRICE_RANGE[-1] == 990.0


def test_goals_are_written_from_their_target():
    cat = get_catalog(2000, 0)
    for split in ("train", "test"):
        for k in range(0, cat.num_goals(split), 37):
            g = cat.goal(split, k)
            p = cat.product(g.asin)
            assert split_of(g.asin) == split
            assert 1 <= len(g.attributes) <= 3 and set(g.attributes) <= set(p.attributes)
            assert len(g.options) == len(p.options)
            assert all(v in values for v, values in zip(g.options, p.options.values(), strict=True))
            assert p.price <= g.price_upper and g.instruction == g.instruction.lower()
            assert all(a in g.instruction for a in g.attributes) and all(v in g.instruction for v in g.options)
            assert g.instruction.endswith(price_text(g.price_upper))


def test_train_and_test_targets_are_disjoint():
    cat = get_catalog(2000, 0)
    train = {cat.goal("train", k).asin for k in range(cat.num_goals("train"))}
    test = {cat.goal("test", k).asin for k in range(cat.num_goals("test"))}
    assert train and test and not train & test
    assert 0.1 < len(test) / (len(train) + len(test)) < 0.3


def test_goals_are_the_same_in_a_fresh_process():
    # WebShop draws its price bounds from the unseeded global RNG; ours come from the task's own seed.
    code = ("import json; from turngym.envs.web.shop.catalog import get_catalog; c = get_catalog(500, 7); "
            "print(json.dumps([[c.goal('test', k).instruction, c.goal('test', k).price_upper] for k in range(20)]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={"PYTHONHASHSEED": "123", "PATH": ""}, check=True)
    cat = get_catalog(500, 7)
    assert json.loads(out.stdout) == [[cat.goal("test", k).instruction, cat.goal("test", k).price_upper]
                                      for k in range(20)]
