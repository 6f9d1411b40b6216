"""BM25 over chunks with bm25s as the engine and one fixed, documented tokenizer.

Tokenizer (`BM25Tokenizer`, the same for documents and queries): lowercase, split on the regex
`\\b\\w\\w+\\b` (Unicode words of two or more characters, as scikit-learn and bm25s do), drop
the 33 English stopwords of Lucene's classic list (bm25s.stopwords.STOPWORDS_EN) when
`stopwords=True`, then Snowball English stemming (nltk) when `stem=True`. Both are on by default:
on Cranfield stemming lifts nDCG@10 from 0.337 to 0.365 (benchmarks/bm25.py measures it).

Scoring is bm25s's `method`, k1=1.5, b=0.75 by default:
  lucene (default): idf = ln(1 + (N - df + 0.5) / (df + 0.5)), always positive;
  robertson:        idf = ln((N - df + 0.5) / (df + 0.5)), clipped at 0;
both with term weight tf / (tf + k1 * (1 - b + b * dl / avgdl)), summed over query tokens
(a repeated query token counts again). These equal rank_bm25's `BM25Okapi` divided by (k1 + 1)
(it keeps Robertson's constant numerator factor, which does not change rankings): exactly for
`robertson` with `epsilon=0`, and for `lucene` with BM25Okapi's idf replaced by Lucene's.
tests/test_bm25.py checks both on Cranfield to 1e-5.

Only chunks with a positive score are returned: a chunk sharing no term with the query is not a
hit (so a query may get fewer than k results).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, Self

import bm25s
import numpy as np
from bm25s.stopwords import STOPWORDS_EN

from promptops.errors import ConfigError
from promptops.rag.chunking import Chunk
from promptops.rag.retrievers.base import Hits, write_manifest

BM25Method = Literal["lucene", "robertson"]
TOKEN_PATTERN = r"(?u)\b\w\w+\b"
_STATE_FILE = "bm25.json"
_ENGINE_DIR = "bm25s"


@functools.cache
def _snowball_stem() -> Callable[[str], str]:
    """nltk's Snowball English stemmer, memoised per word (vocabularies repeat a lot)."""
    try:
        from nltk.stem.snowball import SnowballStemmer
    except ImportError as exc:  # nltk comes with rouge-score, a core dependency
        raise ConfigError("stemming needs nltk; install it or use stem=False") from exc
    return functools.lru_cache(maxsize=1 << 20)(SnowballStemmer("english").stem)


class BM25Tokenizer:
    """Text to BM25 terms; see the module docstring for the exact rules."""

    def __init__(self, stopwords: bool = True, stem: bool = True) -> None:
        self.stopwords = stopwords
        self.stem = stem
        self._split = re.compile(TOKEN_PATTERN).findall
        self._stop = frozenset(STOPWORDS_EN) if stopwords else frozenset()
        self._stem_word = _snowball_stem() if stem else None

    def __call__(self, text: str) -> list[str]:
        words: list[str] = [w for w in self._split(text.lower()) if w not in self._stop]
        if self._stem_word is not None:
            stem = self._stem_word
            return [stem(w) for w in words]
        return words

    def describe(self) -> dict[str, Any]:
        """The tokenizer's settings as they enter the index fingerprint."""
        return {
            "pattern": TOKEN_PATTERN,
            "lowercase": True,
            "stopwords": "lucene-english-33" if self.stopwords else None,
            "stemmer": "snowball-english" if self.stem else None,
        }


@dataclass(frozen=True)
class _BM25State:
    k1: float
    b: float
    method: BM25Method
    stopwords: bool
    stem: bool
    n_threads: int
    chunk_ids: list[str]


class BM25Retriever:
    """Sparse lexical retrieval (see module docstring); `n_threads` > 1 searches queries on a
    thread pool (numpy releases the GIL for most of the per-query work)."""

    name = "bm25"

    def __init__(
        self,
        k1: float = 1.5,
        b: float = 0.75,
        method: BM25Method = "lucene",
        stopwords: bool = True,
        stem: bool = True,
        n_threads: int = 0,
    ) -> None:
        if method not in ("lucene", "robertson"):
            raise ConfigError(f"unknown BM25 method {method!r}", where="method")
        self.k1 = k1
        self.b = b
        self.method: BM25Method = method
        self.n_threads = n_threads
        self.tokenizer = BM25Tokenizer(stopwords=stopwords, stem=stem)
        self._engine: bm25s.BM25 | None = None
        self._chunk_ids: list[str] = []

    def config(self) -> dict[str, Any]:
        return {
            "k1": self.k1,
            "b": self.b,
            "method": self.method,
            "tokenizer": self.tokenizer.describe(),
            "engine": f"bm25s {bm25s.__version__}",
        }

    def fit(self, chunks: Sequence[Chunk]) -> None:
        if not chunks:
            raise ConfigError("cannot index an empty corpus", where="corpus")
        tokens = [self.tokenizer(c.retrieval_text) for c in chunks]
        engine = bm25s.BM25(k1=self.k1, b=self.b, method=self.method)
        engine.index(tokens, show_progress=False)
        self._engine = engine
        self._chunk_ids = [c.chunk_id for c in chunks]

    @property
    def engine(self) -> bm25s.BM25:
        """The fitted bm25s index (for callers that want its raw scores)."""
        if self._engine is None:
            raise ConfigError("the BM25 retriever is not fitted", where=self.name)
        return self._engine

    def search(self, queries: Sequence[str], k: int) -> list[Hits]:
        engine = self.engine
        term_ids = [engine.get_tokens_ids(self.tokenizer(q)) for q in queries]
        if self.n_threads > 1 and len(queries) > 1:
            with ThreadPoolExecutor(max_workers=self.n_threads) as pool:
                return list(pool.map(lambda ids: self._top_k(ids, k), term_ids))
        return [self._top_k(ids, k) for ids in term_ids]

    def _top_k(self, term_ids: list[int], k: int) -> Hits:
        """bm25s's scores for one query, then top-k among the chunks that scored at all.

        Selecting among the (usually few) positive scores instead of partitioning the whole
        score vector, as bm25s.retrieve does, is what keeps this faster than bm25s itself.
        """
        if not term_ids:
            return []
        scores = self.engine.get_scores_from_ids(term_ids)
        hits = np.flatnonzero(scores > 0)
        if hits.size > k:
            hits = hits[np.argpartition(-scores[hits], k - 1)[:k]]
        hit_scores = scores[hits]
        order = np.lexsort((hits, -hit_scores))  # best first, ties by fit order
        ids = self._chunk_ids
        pairs = zip(hits[order].tolist(), hit_scores[order].tolist(), strict=True)
        return [(ids[i], s) for i, s in pairs]

    def scores(self, query: str) -> np.ndarray:
        """The BM25 score of every chunk for one query, in fit order (for analysis and tests)."""
        terms = self.tokenizer(query)
        if not terms:
            return np.zeros(len(self._chunk_ids), dtype=np.float32)
        return np.asarray(self.engine.get_scores(terms))

    @property
    def chunk_ids(self) -> list[str]:
        """Chunk ids in fit order (the column order of `scores`)."""
        return list(self._chunk_ids)

    def save(self, directory: Path) -> None:
        engine = self.engine
        directory.mkdir(parents=True, exist_ok=True)
        engine.save(str(directory / _ENGINE_DIR), show_progress=False)
        state = _BM25State(
            k1=self.k1,
            b=self.b,
            method=self.method,
            stopwords=self.tokenizer.stopwords,
            stem=self.tokenizer.stem,
            n_threads=self.n_threads,
            chunk_ids=self._chunk_ids,
        )
        (directory / _STATE_FILE).write_text(json.dumps(asdict(state)))
        write_manifest(directory, self)

    @classmethod
    def load(cls, directory: Path) -> Self:
        state = _BM25State(**json.loads((directory / _STATE_FILE).read_text()))
        retriever = cls(
            k1=state.k1,
            b=state.b,
            method=state.method,
            stopwords=state.stopwords,
            stem=state.stem,
            n_threads=state.n_threads,
        )
        retriever._engine = bm25s.BM25.load(
            str(directory / _ENGINE_DIR), show_progress=False, verbosity=0
        )
        retriever._chunk_ids = state.chunk_ids
        return retriever
