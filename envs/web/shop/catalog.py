"""A deterministic WebShop-style catalog, its shopping goals, and the held-out split.

Products: ``generate_products(n, seed)`` draws every product from ``numpy.random.Generator(PCG64(seed))``
(never the global RNG): a type from ``taxonomy.PRODUCT_TYPES``, a brand, title words, 3-5 attributes, option
values per option group, a price in the type's range and a rating. Same ``(n, seed)``, same catalog, in every
process. ``get_catalog`` caches catalogs by their arguments, so every env of a process shares one (and one
search index).

Goals (WebShop's ``get_human_goals``, with one difference): a goal is written from a target product: an
instruction naming its type, 1-3 of its attributes and one value of each option group, and a price bound
drawn as WebShop draws it. WebShop takes the bound as the larger of two draws from the (up to four) values of
``PRICE_RANGE = [10, 20, ..., 990]`` above the price, or no bound when fewer than two lie above it; it draws
them from Python's unseeded global ``random``, so its goals change between processes. Here the draws come from
a Generator seeded by ``(catalog seed, product index)``: a task is the same in every process.

Split: a product's goals are held out (``split="test"``) iff the BLAKE2b digest of its asin is 0 modulo 5,
so train and test goals never share a target product, whatever the seeds.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from turngym.envs.core.errors import ConfigError
from turngym.envs.web.shop import taxonomy as tx
from turngym.envs.web.shop.types import NO_PRICE_BOUND, Goal, Product

#: WebShop's price bounds (``goal.py``): 10, 20, ..., 990 dollars.
PRICE_RANGE: tuple[float, ...] = tuple(10.0 * i for i in range(1, 100))
SPLITS = ("train", "test")
#: One product in this many is a held-out (test) target.
TEST_MODULUS = 5
DEFAULT_NUM_PRODUCTS = 10_000
#: Largest generated catalog (memory stays bounded whatever a config asks for).
MAX_NUM_PRODUCTS = 200_000
_ASIN_CHARS = np.array(list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
#: Salt of the per-goal seed sequence, so goal draws never reuse the catalog's stream.
_GOAL_SALT = 0x60A1


def split_of(asin: str) -> str:
    """``"test"`` for held-out target products (asin digest mod ``TEST_MODULUS`` == 0), else ``"train"``."""
    digest = hashlib.blake2b(asin.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return "test" if int.from_bytes(digest, "big") % TEST_MODULUS == 0 else "train"


def price_bound(price: float, rng: np.random.Generator) -> float:
    """WebShop's price bound for a target of ``price`` (module docstring), drawn from ``rng``.

    Returns:
        The larger of two distinct draws among the first four ``PRICE_RANGE`` values above ``price``, or
        ``NO_PRICE_BOUND`` when fewer than two lie above it.
    """
    above = [p for p in PRICE_RANGE if p > price][:4]
    if len(above) < 2:
        return NO_PRICE_BOUND
    i, j = rng.choice(len(above), size=2, replace=False)
    return max(above[int(i)], above[int(j)])


def price_text(bound: float) -> str:
    """The instruction's price clause (WebShop's wording), empty without a bound."""
    return "" if bound >= NO_PRICE_BOUND else f", and price lower than {bound:.2f} dollars"


# ------------------------------------------------------------------ products
def _asins(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct WebShop-looking asins (``B0`` + 8 characters)."""
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        chars = _ASIN_CHARS[rng.integers(0, len(_ASIN_CHARS), size=(n - len(out), 8))]
        for row in chars:
            asin = "B0" + "".join(row)
            if asin not in seen:
                seen.add(asin)
                out.append(asin)
    return out


def _subset(pool: Sequence[str], k: int, keys: np.ndarray) -> tuple[str, ...]:
    """``k`` items of ``pool`` chosen by the smallest of ``keys`` (uniform draws), kept in pool order."""
    chosen = np.sort(np.argsort(keys[: len(pool)])[:k])
    return tuple(pool[i] for i in chosen)


def generate_products(num_products: int = DEFAULT_NUM_PRODUCTS, seed: int = 0) -> tuple[Product, ...]:
    """Generates a catalog (module docstring); every draw comes from ``Generator(PCG64(seed))``.

    The draws are made in bulk (one array per field), so 10,000 products take well under a second.

    Args:
        num_products: How many products.
        seed: The catalog seed.

    Returns:
        The products, in catalog order.
    """
    return _generate(num_products, seed)[0]


def _generate(num_products: int, seed: int) -> tuple[tuple[Product, ...], list[str]]:
    """``generate_products`` plus each product's type noun (what its goals name)."""
    rng = np.random.default_rng(seed)
    n = num_products
    types = tx.PRODUCT_TYPES
    t_idx = rng.integers(0, len(types), size=n)
    heads = rng.integers(0, len(tx.BRAND_HEADS), size=n)
    tails = rng.integers(0, len(tx.BRAND_TAILS), size=n)
    adj = rng.integers(0, 5, size=n)
    q_idx = rng.integers(0, 2, size=n)
    n_attr = rng.integers(3, 6, size=n)
    attr_keys = rng.random((n, 24))
    opt_keys = rng.random((n, 3, 16))
    opt_counts = rng.random((n, 3))
    price_u = rng.random(n)
    rating_u = rng.random(n)
    bullet_open = rng.integers(0, len(tx.BULLET_OPENERS), size=(n, 5))
    desc_keys = rng.random((n, len(tx.DESCRIPTION_SENTENCES)))
    asins = _asins(rng, n)
    products = []
    for i in range(n):
        pt = types[int(t_idx[i])]
        brand = tx.BRAND_HEADS[int(heads[i])] + tx.BRAND_TAILS[int(tails[i])]
        attrs = _subset(pt.attributes, min(int(n_attr[i]), len(pt.attributes)), attr_keys[i])
        options: dict[str, tuple[str, ...]] = {}
        for g, spec in enumerate(pt.options):
            hi = min(spec.max_count, len(spec.values))
            k = spec.min_count + int(opt_counts[i, g] * (hi - spec.min_count + 1))
            options[spec.name] = _subset(spec.values, min(k, hi), opt_keys[i, g])
        lo, hi_price = pt.price
        price = float(int(lo + price_u[i] * (hi_price - lo))) + 0.99
        title_attrs = " ".join(a.title() for a in attrs[:2])
        adjective = pt.adjectives[int(adj[i]) % len(pt.adjectives)]
        title = f"{brand} {adjective} {pt.noun}, {title_attrs}"
        noun = pt.noun.lower()
        bullets = tuple(f"{a.upper()} - {tx.BULLET_OPENERS[int(bullet_open[i, j % 5])]} {a}, this {noun} is made "
                        f"to last." for j, a in enumerate(attrs))
        order = np.argsort(desc_keys[i])[:3]
        description = " ".join(tx.DESCRIPTION_SENTENCES[int(s)].format(brand=brand, noun=noun) for s in order)
        rating = "N.A." if rating_u[i] < 0.1 else f"{3.0 + 2.0 * (rating_u[i] - 0.1) / 0.9:.1f}"
        products.append(Product(
            asin=asins[i], title=title, category=pt.category, query=pt.queries[int(q_idx[i]) % len(pt.queries)],
            product_category=" › ".join(pt.path), bullets=bullets, description=description, attributes=attrs,
            options=options, price=price, price_tag=f"${price:.2f}", rating=rating,
        ))
    return tuple(products), [types[int(t)].noun for t in t_idx]


# ------------------------------------------------------------------ goals
def _join(words: Sequence[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def _option_phrase(name: str, value: str, style: int) -> str:
    if style == 0:
        return f"{name}: {value}"
    if name == "color":
        return f"in {value}" if style == 1 else f"{value} color"
    if name == "size":
        return f"size {value}" if style == 1 else f"in size {value}"
    return f"{value} {name}" if style == 1 else f"with {name} {value}"


def make_goal(product: Product, rng: np.random.Generator, noun: str | None = None) -> Goal:
    """A WebShop-style goal written from ``product`` with draws from ``rng`` (module docstring).

    Args:
        product: The target product.
        rng: The goal's own Generator (seeded per task).
        noun: The product-type phrase the instruction names (default: the title's text after the first two
            words, up to the first comma).

    Returns:
        The goal: 1-3 of the product's attributes, one value of each of its option groups, a price bound.
    """
    if noun is None:
        noun = " ".join(product.title.split(",")[0].split()[2:]) or product.title
    noun = noun.lower()
    n_attrs = int(rng.integers(1, min(3, len(product.attributes)) + 1)) if product.attributes else 0
    picks = sorted(rng.choice(len(product.attributes), size=n_attrs, replace=False).tolist()) if n_attrs else []
    attributes = tuple(product.attributes[i] for i in picks)
    chosen: list[tuple[str, str]] = []
    for name, values in product.options.items():
        if values:
            chosen.append((name, values[int(rng.integers(len(values)))]))
    bound = price_bound(product.price, rng)
    opener = tx.GOAL_OPENERS[int(rng.integers(len(tx.GOAL_OPENERS)))]
    form = int(rng.integers(3))
    attr_text = _join(list(attributes))
    if form == 0 and attributes:
        body = f"{opener} {attr_text} {noun}"
    elif form == 1 and attributes:
        body = f"{opener} {noun} featuring {attr_text}"
    else:
        body = f"{opener} {noun}" + (f" with {attr_text}" if attributes else "")
    style = int(rng.integers(3))
    if chosen:
        body += ", " + ", ".join(_option_phrase(nm, v, style) for nm, v in chosen)
    return Goal(asin=product.asin, instruction=body + price_text(bound), query=product.query,
                product_category=product.product_category, name=product.title, attributes=attributes,
                options=tuple(v for _, v in chosen), price_upper=bound, category=product.category)


# ------------------------------------------------------------------ catalog
@dataclass(eq=False)
class Catalog:
    """Products, their lookup by asin, the goals of each split, and (built on first use) the search index.

    Args:
        products: The products (asins unique).
        key: What identifies the catalog (its generator arguments or its files); tasks ids and caches use it.
        goal_source: ``goal_source(split, k) -> Goal``, the ``k``-th goal of a split.
        goal_counts: Number of goals per split.
    """

    products: tuple[Product, ...]
    key: str
    goal_source: Callable[[str, int], Goal]
    goal_counts: dict[str, int]
    by_asin: dict[str, int] = field(init=False)
    _index: Any = field(init=False, default=None)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)
    _goals: dict[tuple[str, int], Goal] = field(init=False, default_factory=dict)
    #: ``get_catalog``'s arguments when it built this catalog: a pickled env (a process pool, ``copy.deepcopy``)
    #: carries these instead of the products, and the receiving process gets its own shared copy.
    args: tuple[int, int, str | None] | None = field(init=False, default=None)

    def __reduce__(self) -> tuple[Any, ...]:
        if self.args is None:
            raise TypeError(f"catalog {self.key} was not built by get_catalog and cannot be pickled")
        return (get_catalog, self.args)

    def __post_init__(self) -> None:
        self.by_asin = {p.asin: i for i, p in enumerate(self.products)}
        if len(self.by_asin) != len(self.products):
            raise ConfigError("catalog", "products with unique asins", f"{len(self.products)} products, "
                              f"{len(self.by_asin)} distinct asins")

    def __len__(self) -> int:
        return len(self.products)

    def product(self, asin: str) -> Product | None:
        """The product with this asin (case-insensitive, as WebShop's clicks are), or None."""
        i = self.by_asin.get(asin)
        if i is None:
            i = self.by_asin.get(asin.upper())
        return None if i is None else self.products[i]

    def num_goals(self, split: str) -> int:
        """Number of goals in a split."""
        return self.goal_counts[split]

    def goal(self, split: str, k: int) -> Goal:
        """The ``k``-th goal of a split (memoized; the same in every process).

        Raises:
            ConfigError: Unknown split or ``k`` out of range.
        """
        if split not in SPLITS:
            raise ConfigError("split", "one of " + ", ".join(SPLITS), split, SPLITS)
        if not 0 <= k < self.goal_counts[split]:
            raise ConfigError("task_index", f"an int in [0, {self.goal_counts[split] - 1}]", k)
        goal = self._goals.get((split, k))
        if goal is None:
            goal = self.goal_source(split, k)
            if len(self._goals) > 200_000:  # bounded: a process never holds more goals than tasks it ran
                self._goals.clear()
            self._goals[(split, k)] = goal
        return goal

    @property
    def index(self) -> Any:
        """The shared BM25 index (``turngym.envs.web.shop.search.ShopIndex``), built once per catalog."""
        if self._index is None:
            with self._lock:
                if self._index is None:
                    from turngym.envs.web.shop.search import ShopIndex

                    self._index = ShopIndex(self.products)
        return self._index


def generated_catalog(num_products: int, seed: int) -> Catalog:
    """A generated catalog and its goals: one per target product (goal ``k`` of a split targets its ``k``-th)."""
    products, nouns = _generate(num_products, seed)
    members: dict[str, list[int]] = {s: [] for s in SPLITS}
    for i, p in enumerate(products):
        members[split_of(p.asin)].append(i)

    def source(split: str, k: int) -> Goal:
        index = members[split][k]
        rng = np.random.default_rng(np.random.SeedSequence([seed, _GOAL_SALT, index]))
        return make_goal(products[index], rng, nouns[index])

    return Catalog(products, f"generated:n={num_products}:seed={seed}", source,
                   {s: len(v) for s, v in members.items()})


_cache_lock = threading.Lock()
_cache: dict[tuple[Any, ...], Catalog] = {}
#: Catalogs kept per process (each distinct argument set is one; the default one is ~60 MB with its index).
CACHE_SIZE = 4


def get_catalog(num_products: int = DEFAULT_NUM_PRODUCTS, seed: int = 0, data_dir: str | None = None) -> Catalog:
    """The process-wide catalog for these arguments (generated, or loaded from WebShop's files).

    Every env of a process with the same arguments gets the same object, hence one copy of the products and
    one search index (the memory goal of issue 14: the 10k catalog shared by all envs, < 200 MB).

    Args:
        num_products: Products to generate (ignored with ``data_dir``).
        seed: Catalog seed (with ``data_dir``: the seed of the price draws of WebShop's price ranges).
        data_dir: A folder with WebShop's ``items_shuffle*.json`` and ``items_ins_v2*.json`` files.

    Raises:
        ConfigError: Bad arguments, or unreadable or malformed WebShop files.
    """
    if type(seed) is not int or not 0 <= seed < 2**63:
        raise ConfigError("catalog_seed", "an int in [0, 2**63)", seed)
    if data_dir is None:
        if type(num_products) is not int or not 1 <= num_products <= MAX_NUM_PRODUCTS:
            raise ConfigError("num_products", f"an int in [1, {MAX_NUM_PRODUCTS}]", num_products)
        key: tuple[Any, ...] = ("generated", num_products, seed)
    else:
        from turngym.envs.web.shop.webshop_data import files_key

        key = ("webshop", files_key(data_dir), seed)
    with _cache_lock:
        cat = _cache.get(key)
        if cat is None:
            if data_dir is None:
                cat = generated_catalog(num_products, seed)
            else:
                from turngym.envs.web.shop.webshop_data import load_webshop_catalog

                cat = load_webshop_catalog(data_dir, seed)
            cat.args = (num_products, seed, data_dir)
            while len(_cache) >= CACHE_SIZE:
                _cache.pop(next(iter(_cache)))
            _cache[key] = cat
        return cat


__all__ = ["DEFAULT_NUM_PRODUCTS", "PRICE_RANGE", "SPLITS", "TEST_MODULUS", "Catalog", "generate_products",
           "generated_catalog", "get_catalog", "make_goal", "price_bound", "price_text", "split_of"]
