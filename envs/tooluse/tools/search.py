"""``search`` (BM25 over a task's documents) and ``open`` (read one document by id).

Ranking is BM25 (Robertson & Zaragoza 2009, the Lucene variant with k1=1.5, b=0.75) computed by
``bm25s`` over each document's title and text. Tokens are lowercased word characters (digits kept, so
years and counts match) minus a short English stop-word list. Scores for the whole corpus are sorted by
(-score, doc_id), so results are deterministic, ties included. The index of a corpus is built once and
cached by a digest of its contents, so tools rebuilt for every episode over the same corpus are cheap.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from turngym.envs.core.errors import ConfigError
from turngym.envs.tooluse.base import Document, ToolResult
from turngym.envs.tooluse.tools._common import safe_call, string_schema

SNIPPET_CHARS = 200
"""Approximate length of the snippet shown per result."""
MAX_QUERY_CHARS = 1000
"""Longest query accepted."""
INDEX_CACHE_SIZE = 64
"""Corpora whose index is kept (least recently used evicted)."""

_TOKEN = re.compile(r"\w+", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_STOPWORDS = frozenset(
    "a an and are as at be been but by for from had has have he her his how i if in into is it its of on "
    "or she that the their them they this to was were what when where which who whom whose why will with "
    "you your".split()
)


def tokenize(text: str) -> list[str]:
    """Lowercased word tokens without stop words (digits kept)."""
    return [t for t in _TOKEN.findall(text.lower()) if t not in _STOPWORDS]


def corpus_digest(corpus: Sequence[Document]) -> str:
    """A sha256 over the documents' ids, titles and texts (the index cache key)."""
    h = hashlib.sha256()
    for d in corpus:
        for part in (d.doc_id, d.title, d.text):
            b = part.encode("utf-8", errors="surrogatepass")
            h.update(len(b).to_bytes(8, "little"))
            h.update(b)
    return h.hexdigest()


class CorpusIndex:
    """A BM25 index of one corpus plus the lookups ``search`` and ``open`` need.

    Args:
        corpus: The documents; ids must be unique.

    Raises:
        ConfigError: Duplicate document ids, or entries that are not ``Document``.
    """

    def __init__(self, corpus: Sequence[Document]):
        docs = tuple(corpus)
        for d in docs:
            if not isinstance(d, Document):
                raise ConfigError("corpus", "a sequence of Document", type(d).__name__)
        self.docs = docs
        self.by_id: dict[str, Document] = {}
        for d in docs:
            if d.doc_id in self.by_id:
                raise ConfigError("corpus", "documents with unique doc_id", f"duplicate {d.doc_id!r}")
            self.by_id[d.doc_id] = d
        self._vocab: set[str] = set()
        self._bm25: Any = None
        tokens = [tokenize(f"{d.title}\n{d.text}") for d in docs]
        for t in tokens:
            self._vocab.update(t)
        if docs and self._vocab:
            import bm25s  # deferred: importing it takes ~0.4 s

            self._bm25 = bm25s.BM25()
            self._bm25.index(tokens, show_progress=False)

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """BM25 scores of every document (zeros for tokens the corpus never uses)."""
        known = [t for t in dict.fromkeys(query_tokens) if t in self._vocab]
        if self._bm25 is None or not known:
            return np.zeros(len(self.docs))
        return np.asarray(self._bm25.get_scores(known), dtype=np.float64)

    def search(self, query: str, k: int) -> list[tuple[Document, float]]:
        """The top ``k`` documents with a positive score, best first, ties by ``doc_id``."""
        scores = self.scores(tokenize(query))
        hits = [(float(s), d) for s, d in zip(scores, self.docs, strict=True) if s > 0]
        hits.sort(key=lambda sd: (-round(sd[0], 9), sd[1].doc_id))
        return [(d, s) for s, d in hits[:k]]


_cache_lock = threading.Lock()
_cache: OrderedDict[str, CorpusIndex] = OrderedDict()


def get_index(corpus: Sequence[Document]) -> CorpusIndex:
    """The cached index of ``corpus`` (built on first use; keyed by the contents' digest)."""
    key = corpus_digest(corpus)
    with _cache_lock:
        index = _cache.get(key)
        if index is not None:
            _cache.move_to_end(key)
            return index
    index = CorpusIndex(corpus)
    with _cache_lock:
        _cache[key] = index
        while len(_cache) > INDEX_CACHE_SIZE:
            _cache.popitem(last=False)
    return index


def snippet(text: str, query_tokens: list[str], width: int = SNIPPET_CHARS) -> str:
    """About ``width`` characters around the sentence sharing the most query words (first on ties)."""
    flat = " ".join(text.split())
    if len(flat) <= width:
        return flat
    wanted = set(query_tokens)
    best_start, best_end, best_score = 0, 0, -1
    pos = 0
    for sentence in _SENTENCE_END.split(flat):
        start = flat.find(sentence, pos)
        if start < 0:
            continue
        pos = start + len(sentence)
        score = len(wanted.intersection(tokenize(sentence)))
        if score > best_score:
            best_start, best_end, best_score = start, pos, score
    if best_end - best_start >= width:
        # A long sentence: centre the window on its first matching word.
        sentence = flat[best_start:best_end]
        first = min((m.start() for m in _TOKEN.finditer(sentence) if m.group().lower() in wanted), default=0)
        lo = max(best_start, best_start + first - width // 3)
    else:
        lo = max(0, best_start - (width - (best_end - best_start)) // 2)
    lo = min(lo, len(flat) - width)
    hi = lo + width
    return ("..." if lo > 0 else "") + flat[lo:hi].strip() + ("..." if hi < len(flat) else "")


def _normal_id(doc_id: str) -> str:
    return re.sub(r"(?<!\d)0+(?=\d)", "", doc_id.strip().strip("'\"`").lower())


def _similar_ids(doc_id: str, ids: list[str], n: int = 3) -> list[str]:
    """Ids equal up to case, quotes and leading zeros (``doc3`` for ``doc03``), then difflib's closest."""
    want = _normal_id(doc_id)
    same = [i for i in ids if _normal_id(i) == want]
    return (same + [c for c in difflib.get_close_matches(doc_id, ids, n=n, cutoff=0.6) if c not in same])[:n]


def _one_line(text: str) -> str:
    return " ".join(text.split())


class SearchTool:
    """BM25 search over the task's documents.

    Args:
        corpus: The documents to search.
        k: Results returned per query.
        max_output_chars: Output cap.

    Output: up to ``k`` lines ``doc_id | title | snippet``, best first.
    """

    name = "search"
    description = (
        "Searches the document collection with keywords (BM25) and returns up to {k} results, one per line: "
        "'doc_id | title | snippet'. Use open with a doc_id to read a whole document."
    )
    parameters: dict[str, Any] = string_schema("query", "Keywords to search for, e.g. 'Maria Lenz birthplace'.")

    def __init__(self, corpus: Sequence[Document], k: int = 5, max_output_chars: int = 4000):
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ConfigError("k", "a positive int", k)
        self.k = k
        self.index = get_index(corpus)
        self.max_output_chars = int(max_output_chars)
        self.description = SearchTool.description.format(k=k)

    def call(self, arguments: dict[str, Any]) -> ToolResult:
        """Searches for ``arguments["query"]``."""
        return safe_call(self.name, self.parameters, arguments, self._run, self.max_output_chars)

    def _run(self, arguments: dict[str, Any]) -> ToolResult:
        query = arguments["query"]
        if len(query) > MAX_QUERY_CHARS:
            return ToolResult(False, f"error: query too long ({len(query)} characters; at most {MAX_QUERY_CHARS})")
        tokens = tokenize(query)
        if not tokens:
            return ToolResult(False, 'error: the query has no searchable words; search expects {"query": string} '
                                     "with keywords")
        hits = self.index.search(query, self.k)
        if not hits:
            return ToolResult(True, f"no results for {query!r}; try other keywords")
        lines = [f"{d.doc_id} | {_one_line(d.title)} | {snippet(d.text, tokens)}" for d, _ in hits]
        return ToolResult(True, "\n".join(lines))


class OpenTool:
    """Returns one document of the task's corpus by id.

    Args:
        corpus: The documents (the same as the ``search`` tool's).
        max_output_chars: Output cap (long documents keep head and tail).

    Output: ``doc_id | title`` on the first line, then the text.
    """

    name = "open"
    description = (
        "Opens a document by its doc_id (the first field of a search result line) and returns its title and "
        "full text."
    )
    parameters: dict[str, Any] = string_schema("doc_id", "The id of the document, as shown by search.")

    def __init__(self, corpus: Sequence[Document], max_output_chars: int = 4000):
        self.index = get_index(corpus)
        self.max_output_chars = int(max_output_chars)

    def call(self, arguments: dict[str, Any]) -> ToolResult:
        """Opens ``arguments["doc_id"]``."""
        return safe_call(self.name, self.parameters, arguments, self._run, self.max_output_chars)

    def _run(self, arguments: dict[str, Any]) -> ToolResult:
        doc_id = arguments["doc_id"].strip()
        doc = self.index.by_id.get(doc_id)
        if doc is None:
            shown = doc_id if len(doc_id) <= 60 else doc_id[:57] + "..."
            close = _similar_ids(doc_id[:200], list(self.index.by_id))
            hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
            return ToolResult(False, f"error: no document with doc_id {shown!r}.{hint} Use search to find "
                                     "document ids: the first field of each result line.")
        return ToolResult(True, f"{doc.doc_id} | {_one_line(doc.title)}\n{doc.text}")
