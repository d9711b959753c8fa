"""The shop's data types: a product and a shopping goal, with WebShop's fields under readable names.

WebShop keeps products and goals as dicts (``web_agent_site/engine/engine.py`` ``load_products`` and
``goal.py`` ``get_human_goals``); the table maps its keys to the attributes here.

============================ ===========================
WebShop key                  attribute
============================ ===========================
``asin``                     ``Product.asin``
``Title`` / ``name``         ``Product.title``
``category``                 ``Product.category``
``query``                    ``Product.query``
``product_category``         ``Product.product_category``
``BulletPoints``             ``Product.bullets``
``Description``              ``Product.description``
``Attributes``               ``Product.attributes``
``options``                  ``Product.options`` (name -> values)
``Price`` / product_prices   ``Product.price_tag`` / ``Product.price``
``Rating``                   ``Product.rating``
goal ``instruction_text``    ``Goal.instruction``
goal ``attributes``          ``Goal.attributes``
goal ``goal_options``        ``Goal.options`` (values, as WebShop's human goals)
goal ``price_upper``         ``Goal.price_upper``
============================ ===========================
"""

from __future__ import annotations

from dataclasses import dataclass

#: ``Goal.price_upper`` when a goal has no price bound (WebShop's value: every price passes).
NO_PRICE_BOUND = 1_000_000.0


@dataclass(frozen=True, slots=True, eq=False)
class Product:
    """One product of a catalog.

    Attributes:
        asin: Unique id, shown on the results page and clicked to open the item (10 characters, ``B0...``).
        title: The product name.
        category: Top-level category (``beauty``, ``food``, ``fashion``, ``furniture``, ``electronics``).
        query: The search that found the product in WebShop (lowercase); part of the type reward.
        product_category: Category path, segments joined by " › ".
        bullets: Bullet points (the Features sub-page).
        description: The Description sub-page.
        attributes: Attribute phrases (matched against goal attributes).
        options: Option name -> offered values, in display order (names and values lowercase, as WebShop's).
        price: The price the reward compares with the goal's bound.
        price_tag: The price as shown (``$23.99``, or ``$10.0 to $15.0`` for a WebShop range).
        rating: Average rating as shown (``4.3`` or ``N.A.``).
    """

    asin: str
    title: str
    category: str
    query: str
    product_category: str
    bullets: tuple[str, ...]
    description: str
    attributes: tuple[str, ...]
    options: dict[str, tuple[str, ...]]
    price: float
    price_tag: str
    rating: str


@dataclass(frozen=True, slots=True)
class Goal:
    """A shopping instruction and what the reward checks (WebShop's goal dict).

    Attributes:
        asin: The product the goal was written from (never shown to the agent).
        instruction: The instruction text the agent sees.
        query: The target's ``query`` (type reward).
        product_category: The target's category path (type reward).
        name: The target's title (type reward: noun overlap).
        attributes: The attributes asked for (1-3 of the target's).
        options: The option values asked for (one per option group of the target).
        price_upper: The price bound (``NO_PRICE_BOUND`` when the instruction states none).
        category: The target's top-level category.
    """

    asin: str
    instruction: str
    query: str
    product_category: str
    name: str
    attributes: tuple[str, ...]
    options: tuple[str, ...]
    price_upper: float
    category: str = ""


__all__ = ["NO_PRICE_BOUND", "Goal", "Product"]
