"""WebShop's reward (``web_agent_site/engine/goal.py`` ``get_reward``), term for term.

For a purchase of product ``p`` with chosen options ``o`` against goal ``g``::

    score = (attribute matches + option matches + price match) / (len(g.attributes) + len(g.options) + 1) * r_type

* attribute match: a goal attribute matches when ``token_set_ratio`` (thefuzz's, see ``fuzzy_score``) with one
  of the product's attributes is > 85, or else when it is a substring of the lowercased title, bullet points
  (joined by spaces) or description;
* option match: a goal option value matches when ``token_set_ratio`` > 85 with one of the chosen values, both
  passed through ``normalize_color`` (the first of WebShop's colour words contained in the text, else the text);
* price match: ``price <= g.price_upper`` (1 or 0; with no bound, ``price_upper`` is 1,000,000, so it is 1);
* ``r_type`` (type match): 1.0, lowered to 0.5 when neither the queries are equal, nor >= 2 category-path
  segments are shared, nor the title score is > 0.2; to 0.1 when the title score is < 0.1; to 0.0 when it is 0.
  The title score is ``|nouns(p.title) & nouns(g.name)| / |nouns(g.name)|`` (0.2 when the goal name has none).

Deviation (documented in the README section too): WebShop finds the title nouns with spaCy's
``en_core_web_sm`` part-of-speech tagger (tokens tagged NOUN or PROPN), which no package registry here serves.
``title_nouns`` is a deterministic stand-in: the lowercased alphabetic tokens of 3+ letters minus English
function words and a list of adjectives and modifiers common in product titles (colours, sizes, materials
used as modifiers, marketing words). Brand names stay in, as spaCy tags them PROPN. The title score can
therefore differ from WebShop's on titles whose nouns spaCy tags otherwise; everything else is WebShop's.

thefuzz (``fuzz.token_set_ratio``) is computed with rapidfuzz, which thefuzz itself wraps: thefuzz first drops
the characters U+0080..U+00FF ("asciidammit"), then lowercases and replaces non-alphanumerics with spaces
(``rapidfuzz.utils.default_process``), and returns the score rounded to an int.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rapidfuzz import fuzz
from rapidfuzz.utils import default_process

from turngym.envs.web.shop.types import Goal, Product

#: A match needs a fuzzy score above this (WebShop's threshold).
FUZZY_THRESHOLD = 85

#: WebShop's colour words (``web_agent_site/engine/normalize.py`` COLOR_SET), in its order: the first one
#: contained in an option value is what the value is compared as.
COLOR_SET: tuple[str, ...] = (
    "alabaster", "apricot", "aqua", "ash", "asphalt", "azure", "banana", "beige", "black", "blue", "blush",
    "bordeaux", "bronze", "brown", "burgundy", "camel", "camo", "caramel", "champagne", "charcoal", "cheetah",
    "chestnut", "chocolate", "christmas", "coffee", "cognac", "copper", "coral", "cranberry", "cream", "crystal",
    "dark", "denim", "eggplant", "elephant", "espresso", "fuchsia", "gold", "granite", "grape", "graphite",
    "grass", "gray", "green", "grey", "heather", "indigo", "ivory", "ivy", "khaki", "lavender", "lemon",
    "leopard", "light", "lilac", "lime", "magenta", "maroon", "mauve", "merlot", "midnight", "mint", "mocha",
    "multicolor", "mushroom", "mustard", "natural", "navy", "nude", "olive", "orange", "peach", "pewter", "pink",
    "plum", "purple", "rainbow", "red", "rose", "royal", "rust", "sand", "sapphire", "seashell", "silver", "skull",
    "slate", "steel", "stone", "stonewash", "sunflower", "tan", "taupe", "teal", "tiger", "turquoise", "violet",
    "walnut", "wheat", "white", "wine", "yellow",
)

_LATIN1 = {c: None for c in range(128, 256)}
_WORD = re.compile(r"[a-z]+")
#: Function words (never nouns in spaCy's tagging).
_FUNCTION_WORDS = frozenset(
    "a an and are as at be but by for from in into is it its of on or per than that the this to up with without "
    "you your our set pcs pack piece pieces inch inches ounce ounces count".split()
)
#: Adjectives and modifiers common in product titles (spaCy tags them ADJ, ADV, VERB or NUM, not NOUN).
_MODIFIERS = frozenset(
    """new best premium perfect great high low large small medium big mini extra super ultra soft hard long short
    light dark heavy thin thick slim wide narrow tall round square flat deep full half double single triple
    natural organic pure fresh dried raw sweet sour spicy salty smooth rich bold mild strong gentle daily
    classic modern vintage rustic casual formal elegant cute pretty beautiful fancy simple basic plain
    lightweight breathable waterproof portable adjustable durable comfortable reusable washable rechargeable
    wireless smart digital electric electronic automatic manual compatible universal professional
    men mens women womens kids girls boys baby unisex adult
    black white red blue green yellow pink purple orange brown grey gray beige navy teal khaki ivory gold silver
    clear multicolor
    cotton polyester leather wooden metal plastic steel stainless aluminum velvet silicone glass ceramic
    free friendly resistant proof safe certified based made fit fitted inspired designed quick fast easy
    non anti ready extra all one two three four five six seven eight ten hundred""".split()
)


def fuzzy_score(a: str, b: str) -> int:
    """Thefuzz's ``fuzz.token_set_ratio(a, b)`` (module docstring): an int in [0, 100]."""
    return int(round(fuzz.token_set_ratio(default_process(a.translate(_LATIN1)),
                                          default_process(b.translate(_LATIN1)))))


def normalize_color(text: str) -> str:
    """WebShop's ``normalize_color``: the first ``COLOR_SET`` word contained in ``text``, else ``text``."""
    for color in COLOR_SET:
        if color in text:
            return color
    return text


def title_nouns(title: str) -> list[str]:
    """The nouns of a title, as the stand-in for spaCy's tagger (module docstring)."""
    return [w for w in _WORD.findall(title.lower())
            if len(w) >= 3 and w not in _FUNCTION_WORDS and w not in _MODIFIERS]


@dataclass(frozen=True)
class Score:
    """A purchase's score and its parts (WebShop's ``get_reward(..., verbose=True)`` info).

    Attributes:
        score: The reward in [0, 1].
        r_type: The type factor (1.0, 0.5, 0.1 or 0.0).
        r_att: Fraction of goal attributes matched.
        r_option: Fraction of goal options matched (None when the goal has none).
        r_price: Whether the price is within the bound.
        query_match: The product's query equals the goal's.
        category_match: The category paths share >= 2 segments.
        title_score: Noun overlap of the titles.
        num_attr_matches: Goal attributes matched.
        num_option_matches: Goal options matched.
    """

    score: float
    r_type: float
    r_att: float
    r_option: float | None
    r_price: bool
    query_match: bool
    category_match: bool
    title_score: float
    num_attr_matches: int
    num_option_matches: int

    def as_dict(self) -> dict[str, float | bool | int | None]:
        """The fields as a JSON-compatible dict."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def type_reward(product: Product, goal: Goal) -> tuple[float, bool, bool, float]:
    """(r_type, query_match, category_match, title_score): WebShop's ``get_type_reward``."""
    query_match = product.query == goal.query
    bought = {s.strip() for s in product.product_category.split("›")}
    wanted = {s.strip() for s in goal.product_category.split("›")}
    category_match = len(bought & wanted) >= 2
    desired = title_nouns(goal.name)
    title_score = 0.2 if not desired else len(set(title_nouns(product.title)) & set(desired)) / len(desired)
    r_type = 1.0
    if not (query_match or category_match or title_score > 0.2):
        r_type = 0.5
    if title_score < 0.1:
        r_type = 0.1
    if title_score == 0.0:
        r_type = 0.0
    return r_type, query_match, category_match, title_score


def attribute_matches(product: Product, goal: Goal) -> int:
    """Goal attributes the product matches (WebShop's ``get_attribute_reward``)."""
    title = product.title.lower()
    bullets = " ".join(product.bullets).lower()
    description = product.description.lower()
    n = 0
    for wanted in goal.attributes:
        if any(fuzzy_score(have, wanted) > FUZZY_THRESHOLD for have in product.attributes):
            n += 1
        elif wanted in title or wanted in bullets or wanted in description:
            n += 1
    return n


def option_matches(chosen: Iterable[str], wanted: Iterable[str]) -> int:
    """Goal option values matched by the chosen values (WebShop's ``get_option_reward``)."""
    have = [normalize_color(v) for v in chosen]
    n = 0
    for w in (normalize_color(v) for v in wanted):
        if any(fuzzy_score(h, w) > FUZZY_THRESHOLD for h in have):
            n += 1
    return n


def score_purchase(product: Product, goal: Goal, options: Mapping[str, str]) -> Score:
    """WebShop's ``get_reward`` for buying ``product`` with ``options`` (option name -> chosen value).

    Args:
        product: The product bought.
        goal: The goal of the episode.
        options: The options chosen on the item page (only the values count, as in WebShop).

    Returns:
        The score and its parts.
    """
    r_type, query_match, category_match, title_score = type_reward(product, goal)
    r_price = product.price <= goal.price_upper
    n_att = attribute_matches(product, goal)
    n_opt = option_matches(list(options.values()), goal.options)
    total = (n_att + n_opt + int(r_price)) / (len(goal.attributes) + len(goal.options) + 1)
    return Score(
        score=total * r_type, r_type=r_type, r_att=n_att / len(goal.attributes) if goal.attributes else 0.0,
        r_option=n_opt / len(goal.options) if goal.options else None, r_price=r_price, query_match=query_match,
        category_match=category_match, title_score=title_score, num_attr_matches=n_att, num_option_matches=n_opt,
    )


__all__ = ["COLOR_SET", "FUZZY_THRESHOLD", "Score", "attribute_matches", "fuzzy_score", "normalize_color",
           "option_matches", "score_purchase", "title_nouns", "type_reward"]
