"""BM25 search over a catalog: WebShop's search engine, with bm25s instead of pyserini/Lucene.

WebShop indexes one document per product (``search_engine/convert_product_file_format.py``): the title, the
description, the first bullet point and the option text (``name: v1, v2, and name: ...``), lowercased, and
returns the top ``SEARCH_RETURN_N = 50`` hits of Lucene's BM25. Here the same document is ranked by bm25s
(the Lucene BM25 variant, k1=1.5, b=0.75). Lucene's English analyzer stems with Porter's algorithm; no stemmer
is installed here, so tokens get a light plural folding (``shoes`` -> ``shoe``, ``berries`` -> ``berry``) on
both sides, which covers the plural/singular mismatches product searches have.

Results are sorted by (-score, catalog position), so ties are broken the same way in every process; a query
whose words the catalog never uses returns nothing. The index is built once per catalog (``Catalog.index``)
and results of recent queries are memoized (an env's G episodes repeat the same searches).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from turngym.envs.web.shop.types import Product

#: WebShop's number of results per search.
SEARCH_RETURN_N = 50
#: Queries whose results are memoized per index (least recently used evicted).
RESULT_CACHE_SIZE = 4096
_TOKEN = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset(
    "a an and are as at be been but by for from had has have i i'm if in into is it its me my of on or our "
    "that the their them they this to was were what which with would you your looking need want find get "
    "like buy".split()
)


def _fold(token: str) -> str:
    """Light plural folding (module docstring): the same on documents and queries."""
    if len(token) > 4 and token.endswith("ies"):
        return token[:-3] + "y"
    if len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return token


def tokenize(text: str) -> list[str]:
    """Lowercased alphanumeric tokens, stop words dropped, plurals folded."""
    return [_fold(t) for t in _TOKEN.findall(text.lower()) if t not in _STOPWORDS]


def document(product: Product) -> str:
    """The text WebShop indexes for a product (module docstring)."""
    option_text = ", and ".join(f"{name}: {', '.join(values)}" for name, values in product.options.items())
    first_bullet = product.bullets[0] if product.bullets else ""
    return " ".join((product.title, product.description, first_bullet, option_text)).lower()


class ShopIndex:
    """The BM25 index of one catalog's products.

    Args:
        products: The catalog's products, in catalog order (results refer to these positions).
    """

    def __init__(self, products: Sequence[Product]):
        import bm25s  # deferred: importing it takes ~0.4 s, and only envs that search need it

        self.size = len(products)
        corpus = [tokenize(document(p)) for p in products]
        self._vocab = {t for doc in corpus for t in doc}
        self._bm25 = bm25s.BM25()
        self._bm25.index(corpus, show_progress=False)
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, tuple[int, ...]] = OrderedDict()

    def search(self, query: str, k: int = SEARCH_RETURN_N) -> tuple[int, ...]:
        """Catalog positions of the top ``k`` products for ``query``, best first, ties by position.

        Args:
            query: Free text (the agent's keywords).
            k: How many results at most.

        Returns:
            Positions of products with a positive score (none when no query word is in the catalog).
        """
        key = f"{k}\x00{query}"
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        tokens = [t for t in dict.fromkeys(tokenize(query)) if t in self._vocab]
        result: tuple[int, ...] = ()
        if tokens:
            scores = np.asarray(self._bm25.get_scores(tokens), dtype=np.float64)
            # Scores are rounded so that float noise cannot reorder equal scores across platforms.
            scores = np.round(scores, 9)
            positive = np.flatnonzero(scores > 0)
            if len(positive) > k:
                # Keep everything tied with the k-th best, then order by (-score, position).
                kth = np.partition(scores[positive], len(positive) - k)[len(positive) - k]
                positive = positive[scores[positive] >= kth]
            order = np.lexsort((positive, -scores[positive]))
            result = tuple(int(i) for i in positive[order][:k])
        with self._lock:
            self._cache[key] = result
            while len(self._cache) > RESULT_CACHE_SIZE:
                self._cache.popitem(last=False)
        return result


__all__ = ["SEARCH_RETURN_N", "ShopIndex", "document", "tokenize"]
