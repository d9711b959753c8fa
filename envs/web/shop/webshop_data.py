"""Loads WebShop's own data files into a ``Catalog`` (for users who have them; nothing is downloaded).

Files read from ``data_dir`` (the names WebShop's ``setup.sh`` downloads; exactly one of each kind):

* ``items_shuffle*.json`` (required): a JSON list of products. Fields used, as WebShop's
  ``engine.load_products`` uses them: ``asin``, ``name``, ``full_description``, ``small_description`` (list
  or string), ``pricing`` (``"$12.99"`` or a range ``"$10.99 - $15.99"``, or empty), ``customization_options``
  (option name -> list of ``{"value": ..., "image": ...}``, or null), ``category``, ``query``,
  ``product_category``. Products whose asin is ``"nan"`` or longer than 10 characters, and repeated asins,
  are skipped (as WebShop does).
* ``items_ins_v2*.json`` (required): asin -> ``{"attributes": [...], "instruction": str,
  "instruction_attributes": [...]}``. A product without attributes gets ``["DUMMY_ATTR"]`` (as WebShop).
* ``items_human_ins.json`` (optional): asin -> list of ``{"instruction", "instruction_attributes",
  "instruction_options"}``. When present the goals are these human instructions (WebShop's default,
  ``human_goals=True``); otherwise one synthetic goal per product with an ``instruction`` (WebShop's
  ``get_synthetic_goals``, with one option combination drawn per product instead of all of them).

Two WebShop draws are seeded here (module docstring of ``catalog``): a price range's price (WebShop:
``random.uniform`` on the global RNG) and the price bound of each goal.

The files are untrusted: malformed JSON, wrong types, deep nesting, and strings over ``MAX_FIELD_CHARS`` raise
``ConfigError`` naming the file, the product and the field; nothing else escapes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import numpy as np

from turngym.envs.core.errors import ConfigError
from turngym.envs.web.shop.catalog import SPLITS, Catalog, price_bound, price_text, split_of
from turngym.envs.web.shop.types import Goal, Product

#: Longest string accepted in any field (WebShop's longest descriptions are a few thousand characters).
MAX_FIELD_CHARS = 100_000
#: Largest data file read (WebShop's full ``items_shuffle.json`` is about 5 GB; this loader holds one in memory).
MAX_FILE_BYTES = 8 << 30
#: WebShop skips asins longer than this.
MAX_ASIN_CHARS = 10
_NOT_PRICE = re.compile(r"[^\d.]")


def _one_file(data_dir: Path, pattern: str, required: bool) -> Path | None:
    found = sorted(data_dir.glob(pattern))
    if not found:
        if required:
            raise ConfigError("data_dir", f"a folder with a WebShop {pattern} file", str(data_dir))
        return None
    if len(found) > 1:
        raise ConfigError("data_dir", f"exactly one {pattern} file", [f.name for f in found][:5],
                          hint="Keep one of them in the folder (e.g. items_shuffle_1000.json or items_shuffle.json).")
    return found[0]


def data_files(data_dir: str | os.PathLike[str]) -> tuple[Path, Path, Path | None]:
    """(products file, attributes file, human instructions file or None) of a WebShop data folder.

    Raises:
        ConfigError: Not a folder, or a required file missing or ambiguous.
    """
    if not isinstance(data_dir, (str, os.PathLike)):
        raise ConfigError("data_dir", "a path to a folder of WebShop data files", type(data_dir).__name__)
    folder = Path(data_dir)
    if not folder.is_dir():
        raise ConfigError("data_dir", "an existing folder", str(folder))
    return (_one_file(folder, "items_shuffle*.json", True),  # type: ignore[return-value]
            _one_file(folder, "items_ins_v2*.json", True), _one_file(folder, "items_human_ins.json", False))


def files_key(data_dir: str | os.PathLike[str]) -> tuple[Any, ...]:
    """Cache key of a data folder: each file's resolved path, size and modification time."""
    out: list[Any] = []
    for f in data_files(data_dir):
        if f is not None:
            st = f.stat()
            out.append((str(f.resolve()), st.st_size, st.st_mtime_ns))
    return tuple(out)


def _read_json(path: Path) -> Any:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ConfigError(str(path), f"a JSON file of at most {MAX_FILE_BYTES:,} bytes", f"{size:,} bytes")
        with open(path, "rb") as f:
            return json.loads(f.read().decode("utf-8"))
    except ConfigError:
        raise
    except (OSError, ValueError, RecursionError) as e:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise ConfigError(str(path), "a readable UTF-8 JSON file in WebShop's format",
                          f"{type(e).__name__}: {str(e)[:200]}") from None


def _str(value: Any, where: str, *, default: str | None = None) -> str:
    if value is None and default is not None:
        return default
    if type(value) is not str:
        raise ConfigError(where, "a string", type(value).__name__)
    if len(value) > MAX_FIELD_CHARS:
        raise ConfigError(where, f"a string of at most {MAX_FIELD_CHARS:,} characters", f"{len(value):,} characters")
    return value


def _str_list(value: Any, where: str) -> tuple[str, ...]:
    if type(value) is not list:
        raise ConfigError(where, "a list of strings", type(value).__name__)
    return tuple(_str(v, f"{where}[{i}]") for i, v in enumerate(value))


def _pricing(value: Any, where: str) -> list[float]:
    """WebShop's ``pricing`` parse: every ``$``-separated amount, digits and dots only; empty -> [100.0]."""
    if value is None or value == "" or value == []:
        return [100.0]
    text = _str(value, where)
    amounts = []
    for part in text.split("$")[1:]:
        try:
            amount = float(Decimal(_NOT_PRICE.sub("", part)))
        except (InvalidOperation, ValueError):
            raise ConfigError(where, "prices such as '$12.99' or '$10.99 - $15.99'", text[:80]) from None
        if not np.isfinite(amount) or amount < 0:
            raise ConfigError(where, "finite non-negative prices", text[:80])
        amounts.append(amount)
    return amounts[:2] if amounts else [100.0]


def _options(value: Any, where: str) -> dict[str, tuple[str, ...]]:
    """WebShop's option parse: names lowercased, values stripped, '/' shown as ' | ', lowercased."""
    if value is None or value == []:
        return {}
    if type(value) is not dict:
        raise ConfigError(where, "an object of option name -> list of {value, image}", type(value).__name__)
    options: dict[str, tuple[str, ...]] = {}
    for name, contents in value.items():
        if contents is None:
            continue
        if type(contents) is not list:
            raise ConfigError(f"{where}[{name!r:.40}]", "a list of {value, image}", type(contents).__name__)
        values = []
        for i, c in enumerate(contents):
            if type(c) is not dict:
                raise ConfigError(f"{where}[{name!r:.40}][{i}]", "an object with a 'value'", type(c).__name__)
            values.append(_str(c.get("value"), f"{where}[{name!r:.40}][{i}].value").strip().replace("/", " | ").lower())
        options[_str(name, f"{where} name").lower()] = tuple(values)
    return options


def _product(raw: Any, i: int, attributes: dict[str, Any], seed: int, file: str) -> Product | None:
    where = f"{file}[{i}]"
    if type(raw) is not dict:
        raise ConfigError(where, "a product object", type(raw).__name__)
    asin = _str(raw.get("asin"), f"{where}.asin")
    if asin == "nan" or len(asin) > MAX_ASIN_CHARS:
        return None
    bullets = raw.get("small_description")
    bullet_list = _str_list(bullets, f"{where}.small_description") if type(bullets) is list else (
        _str(bullets, f"{where}.small_description", default=""),)
    pricing = _pricing(raw.get("pricing"), f"{where}.pricing")
    if len(pricing) == 1:
        price, tag = pricing[0], f"${pricing[0]}"
    else:
        # WebShop: random.uniform(*pricing[:2]) on the global RNG; here seeded by (catalog seed, asin).
        digest = int.from_bytes(hashlib.blake2b(asin.encode(), digest_size=8).digest(), "big")
        price = float(np.random.default_rng([seed, digest]).uniform(pricing[0], pricing[1]))
        tag = f"${pricing[0]} to ${pricing[1]}"
    attrs = attributes.get(asin)
    attr_list = ("DUMMY_ATTR",)
    if type(attrs) is dict and "attributes" in attrs:
        attr_list = _str_list(attrs["attributes"], f"attributes of {asin!r}")
    rating = raw.get("average_rating", raw.get("Rating", "N.A."))
    rating_text = str(rating) if type(rating) in (int, float) and np.isfinite(rating) else "N.A."
    return Product(
        asin=asin, title=_str(raw.get("name"), f"{where}.name"),
        category=_str(raw.get("category"), f"{where}.category"),
        query=_str(raw.get("query"), f"{where}.query").lower().strip(),
        product_category=_str(raw.get("product_category"), f"{where}.product_category", default=""),
        bullets=bullet_list, description=_str(raw.get("full_description"), f"{where}.full_description", default=""),
        attributes=attr_list, options=_options(raw.get("customization_options"), f"{where}.customization_options"),
        price=price, price_tag=tag, rating=rating_text,
    )


def _goal(product: Product, instruction: str, attributes: tuple[str, ...], options: tuple[str, ...],
          rng: np.random.Generator) -> Goal:
    bound = price_bound(product.price, rng)
    return Goal(asin=product.asin, instruction=instruction.strip(".") + price_text(bound), query=product.query,
                product_category=product.product_category, name=product.title, attributes=attributes,
                options=options, price_upper=bound, category=product.category)


def load_webshop_catalog(data_dir: str | os.PathLike[str], seed: int = 0) -> Catalog:
    """A ``Catalog`` of WebShop's files (module docstring), with goals split by target product.

    Args:
        data_dir: The folder holding the files.
        seed: Seeds the price draws of price ranges and the goals' price bounds and options.

    Raises:
        ConfigError: Missing, ambiguous, malformed or oversized files, or no usable goal.
    """
    products_file, attrs_file, human_file = data_files(data_dir)
    raw_products = _read_json(products_file)
    if type(raw_products) is not list:
        raise ConfigError(str(products_file), "a JSON list of products", type(raw_products).__name__)
    attributes = _read_json(attrs_file)
    if type(attributes) is not dict:
        raise ConfigError(str(attrs_file), "a JSON object asin -> attributes", type(attributes).__name__)
    products: list[Product] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_products):
        p = _product(raw, i, attributes, seed, products_file.name)
        if p is not None and p.asin not in seen:
            seen.add(p.asin)
            products.append(p)
    if not products:
        raise ConfigError(str(products_file), "at least one product with a valid asin", "none")
    by_asin = {p.asin: p for p in products}
    specs: list[tuple[Product, str, tuple[str, ...], tuple[str, ...] | None]] = []
    if human_file is not None:
        human = _read_json(human_file)
        if type(human) is not dict:
            raise ConfigError(str(human_file), "a JSON object asin -> list of instructions", type(human).__name__)
        for asin, items in human.items():
            product = by_asin.get(asin)
            if product is None:
                continue
            if type(items) is not list:
                raise ConfigError(f"{human_file.name}[{asin!r:.20}]", "a list of instructions", type(items).__name__)
            for j, item in enumerate(items):
                where = f"{human_file.name}[{asin!r:.20}][{j}]"
                if type(item) is not dict:
                    raise ConfigError(where, "an instruction object", type(item).__name__)
                attrs = _str_list(item.get("instruction_attributes"), f"{where}.instruction_attributes")
                if not attrs:  # WebShop skips goals without attributes
                    continue
                specs.append((product, _str(item.get("instruction"), f"{where}.instruction"), attrs,
                              _str_list(item.get("instruction_options", []), f"{where}.instruction_options")))
    else:
        for product in products:
            entry = attributes.get(product.asin)
            if type(entry) is not dict or entry.get("instruction") is None:
                continue
            where = f"{attrs_file.name}[{product.asin!r}]"
            attrs = _str_list(entry.get("instruction_attributes"), f"{where}.instruction_attributes")
            if attrs:
                specs.append((product, _str(entry["instruction"], f"{where}.instruction"), attrs, None))
    members: dict[str, list[int]] = {s: [] for s in SPLITS}
    for k, spec in enumerate(specs):
        members[split_of(spec[0].asin)].append(k)

    def source(split: str, k: int) -> Goal:
        index = members[split][k]
        product, instruction, attrs, options = specs[index]
        rng = np.random.default_rng(np.random.SeedSequence([seed, 0x3EB5, index]))
        if options is None:  # a synthetic goal: one option combination, written as WebShop writes them
            chosen = [(name, values[int(rng.integers(len(values)))]) for name, values in product.options.items()
                      if values]
            options = tuple(v for _, v in chosen)
            if chosen:
                instruction = instruction.strip(".") + " with " + ", and ".join(f"{n}: {v}" for n, v in chosen)
        return _goal(product, instruction, attrs, options, rng)

    return Catalog(tuple(products), f"webshop:{products_file.name}:seed={seed}", source,
                   {s: len(v) for s, v in members.items()})


__all__ = ["MAX_FIELD_CHARS", "data_files", "files_key", "load_webshop_catalog"]
