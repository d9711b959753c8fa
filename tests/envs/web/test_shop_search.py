"""BM25 search over the catalog (issue 14). Fails on main: the shop package is a placeholder."""

from __future__ import annotations

from helpers_shop import product

from turngym.envs.web.shop.catalog import get_catalog
from turngym.envs.web.shop.search import SEARCH_RETURN_N, ShopIndex, document, tokenize


def test_top_50_best_first_and_relevant():
    cat = get_catalog(2000, 0)
    hits = cat.index.search("gluten free dark chocolate bar sea salt")
    assert len(hits) == SEARCH_RETURN_N == 50
    assert "Chocolate" in cat.products[hits[0]].title
    assert cat.index.search("gluten free dark chocolate bar sea salt") == hits


def test_ties_break_by_catalog_position_and_unknown_words_find_nothing():
    same = [product(asin=f"B0TIE0000{i}") for i in range(5)]
    index = ShopIndex([product(asin="B0OTHER001", title="Garden Hose", description="hose"), *same])
    assert index.search("running shoes") == (1, 2, 3, 4, 5)
    assert index.search("zzqx unknownword") == () and index.search("") == () and index.search("the and") == ()
    assert index.search("running shoes", k=2) == (1, 2)


def test_documents_are_webshops_fields_and_plurals_fold():
    p = product(options={"size": ("8", "9")})
    doc = document(p)
    assert doc == doc.lower() and "size: 8, 9" in doc and "non slip" in doc
    assert tokenize("Shoes BERRIES glass") == ["shoe", "berry", "glass"]
