"""Loading WebShop's own data files, and refusing hostile ones (issue 14). Fails on main (placeholder package)."""

from __future__ import annotations

import json
import shutil

import gymnasium as gym
import pytest
from helpers_shop import FIXTURES

import turngym.envs.web.shop  # noqa: F401
from turngym.envs import ConfigError
from turngym.envs.web.shop.experts import shop_expert
from turngym.envs.web.shop.webshop_data import MAX_FIELD_CHARS, load_webshop_catalog


def test_fixture_loads_with_webshops_field_rules():
    cat = load_webshop_catalog(FIXTURES)
    assert [p.asin for p in cat.products] == ["B07TEST001", "B07TEST002", "B07TEST003", "B07TEST004", "B07TEST005"]
    shoes = cat.product("B07TEST001")
    assert shoes.options == {"color": ("black | white", "navy blue"), "size": ("8", "9", "10")}
    assert shoes.query == "men's running shoes" and shoes.price == 39.99 and shoes.rating == "4.4"
    chocolate = cat.product("B07TEST002")
    assert chocolate.bullets == ("GLUTEN FREE - made in a dedicated facility",) and chocolate.options == {
        "flavor name": ("sea salt", "mint")}
    assert chocolate.price_tag == "$18.5 to $24.0" and 18.5 <= chocolate.price <= 24.0
    assert chocolate.price == load_webshop_catalog(FIXTURES).product("B07TEST002").price  # seeded, not global
    assert cat.product("B07TEST004").price == 100.0 and cat.product("B07TEST004").attributes == ("DUMMY_ATTR",)
    # Human goals: one per instruction with attributes, split by target product.
    assert cat.goal_counts == {"train": 1, "test": 2}
    g = cat.goal("train", 0)
    assert g.options == ("navy blue", "9") and g.attributes == ("non slip",)
    assert g.instruction.startswith("i need non slip running shoes for men in navy blue, size 9, and price lower")


def test_synthetic_goals_without_the_human_file(tmp_path):
    for name in ("items_shuffle_fixture.json", "items_ins_v2_fixture.json"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    cat = load_webshop_catalog(tmp_path)
    goals = [cat.goal(s, k) for s in ("train", "test") for k in range(cat.num_goals(s))]
    assert sorted(g.asin for g in goals) == ["B07TEST001", "B07TEST002", "B07TEST003", "B07TEST005"]
    shoes = next(g for g in goals if g.asin == "B07TEST001")
    assert " with color: " in shoes.instruction and len(shoes.options) == 2


def test_the_env_and_its_expert_run_on_webshop_files():
    env = gym.make("turngym/WebShop-v0", data_dir=str(FIXTURES), split="test")
    act = shop_expert()
    for task in range(2):
        obs, info = env.reset(options={"task_index": task})
        while True:
            obs, reward, terminated, truncated, info = env.step(act(env, obs, info))
            if terminated or truncated:
                break
        assert info["success"] and reward == 1.0


def write(tmp_path, products, attrs=None):
    (tmp_path / "items_shuffle_x.json").write_text(products if isinstance(products, str) else json.dumps(products))
    (tmp_path / "items_ins_v2_x.json").write_text(json.dumps(attrs if attrs is not None else {}))
    return tmp_path


GOOD = json.loads((FIXTURES / "items_shuffle_fixture.json").read_text())[0]


@pytest.mark.parametrize("products", [
    "[{not json", "[" * 100_000 + "]" * 100_000, b"\xff\xfe".decode("latin-1"), json.dumps({"a": 1}), json.dumps([1]),
    json.dumps([{**GOOD, "name": 7}]), json.dumps([{**GOOD, "small_description": [1, 2]}]),
    json.dumps([{**GOOD, "pricing": "$abc$"}]), json.dumps([{**GOOD, "customization_options": {"Size": "big"}}]),
    json.dumps([{**GOOD, "customization_options": {"Size": [{"value": None}]}}]),
    json.dumps([{**GOOD, "full_description": "x" * (MAX_FIELD_CHARS + 1)}]), json.dumps([{**GOOD, "asin": None}]),
    json.dumps([{**GOOD, "asin": "nan"}]), json.dumps([]),
])
def test_hostile_files_raise_config_error(tmp_path, products):
    with pytest.raises(ConfigError):
        load_webshop_catalog(write(tmp_path, products))


def test_hostile_attribute_files_and_folders(tmp_path):
    with pytest.raises(ConfigError):
        load_webshop_catalog(write(tmp_path, [GOOD], attrs=[1, 2]))
    with pytest.raises(ConfigError):
        load_webshop_catalog(write(tmp_path, [GOOD], attrs={"B07TEST001": {"attributes": "gluten"}}))
    (tmp_path / "items_shuffle_y.json").write_text("[]")
    with pytest.raises(ConfigError, match="exactly one"):
        load_webshop_catalog(tmp_path)
    with pytest.raises(ConfigError):
        load_webshop_catalog(tmp_path / "missing")
    with pytest.raises(ConfigError):
        load_webshop_catalog(3)  # type: ignore[arg-type]
