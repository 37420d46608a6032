"""Okapi BM25 over a scipy sparse matrix: the hot-path lexical retriever.

Scores reproduce rank-bm25's `BM25Okapi` exactly (same idf, same floor for terms in more than
half the documents: `epsilon * mean idf`), see tests/retrieval/test_bm25_parity.py. Scoring a
query touches only the postings of its terms, so the cost grows with how common they are, not
with the catalogue.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

_FILES = ("indptr", "indices", "data", "idf")


@dataclass(frozen=True)
class BM25Stats:
    """Corpus statistics a segment scores with: a delta segment borrows the main segment's."""

    n_docs: int
    avgdl: float
    vocab: dict[str, int]
    idf: np.ndarray  # per vocab column
    k1: float = 1.5
    b: float = 0.75

    def idf_of(self, term: str) -> float:
        """Idf of a term; a term the corpus never saw counts as appearing in one document."""
        col = self.vocab.get(term)
        if col is not None:
            return float(self.idf[col])
        n = max(self.n_docs, 1)
        return math.log(n + 0.5) - math.log(1.5)


def okapi_idf(df: np.ndarray, n_docs: int, epsilon: float) -> np.ndarray:
    """rank-bm25's BM25Okapi idf: log((N-n+.5)/(n+.5)); negatives floored at epsilon * mean idf."""
    idf = np.log(n_docs - df + 0.5) - np.log(df + 0.5)
    if len(idf):
        floor = epsilon * (idf.sum() / len(idf))
        idf = np.where(idf < 0, floor, idf)
    return idf


class SparseBM25:
    """A term-by-document weight matrix (CSC); `top_k` scores a query and returns the best rows."""

    def __init__(
        self, indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, stats: BM25Stats, n_docs: int
    ):
        self.indptr, self.indices, self.data = indptr, indices, data
        self.stats = stats
        self.n_docs = n_docs  # rows in this segment (may differ from stats.n_docs for a delta)

    @classmethod
    def build(
        cls,
        docs: Sequence[Sequence[str]],
        *,
        k1: float = 1.5,
        b: float = 0.75,
        epsilon: float = 0.25,
        stats: BM25Stats | None = None,
    ) -> SparseBM25:
        """Index tokenised documents. With `stats`, score with those corpus statistics (a delta)."""
        vocab: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        tfs: list[int] = []
        lens = np.zeros(len(docs), dtype=np.float64)
        for r, doc in enumerate(docs):
            lens[r] = len(doc)
            for term, tf in Counter(doc).items():
                c = vocab.get(term)
                if c is None:
                    c = vocab[term] = len(vocab)
                rows.append(r)
                cols.append(c)
                tfs.append(tf)
        n = len(docs)
        r_arr = np.asarray(rows, dtype=np.int64)
        c_arr = np.asarray(cols, dtype=np.int64)
        tf_arr = np.asarray(tfs, dtype=np.float64)
        if stats is None:
            avgdl = float(lens.sum() / n) if n else 0.0
            df = np.bincount(c_arr, minlength=len(vocab)).astype(np.float64)
            idf = okapi_idf(df, n, epsilon)
            stats = BM25Stats(n_docs=n, avgdl=avgdl, vocab=vocab, idf=idf, k1=k1, b=b)
        else:
            # a delta: its own small vocabulary, the main corpus's idf and average length
            idf = np.asarray(
                [stats.idf_of(t) for t in sorted(vocab, key=vocab.__getitem__)], dtype=np.float64
            )
            stats = BM25Stats(
                n_docs=stats.n_docs, avgdl=stats.avgdl, vocab=vocab, idf=idf, k1=stats.k1, b=stats.b
            )
        k1, b = stats.k1, stats.b
        avgdl = stats.avgdl if stats.avgdl > 0 else 1.0
        w = tf_arr * (k1 + 1) / (tf_arr + k1 * (1 - b + b * lens[r_arr] / avgdl)) if len(tf_arr) else tf_arr
        mat = sp.csc_matrix((w, (r_arr, c_arr)), shape=(n, len(vocab)))
        mat.sort_indices()
        return cls(
            mat.indptr.astype(np.int64), mat.indices.astype(np.int32), mat.data.astype(np.float64), stats, n
        )

    def scores(self, terms: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(rows, scores) of every row with a nonzero score; query duplicates count, as in rank-bm25."""
        counts = Counter(terms)
        parts_idx, parts_val = [], []
        for term, qf in counts.items():
            c = self.stats.vocab.get(term)
            if c is None or c + 1 >= len(self.indptr):
                continue
            s, e = int(self.indptr[c]), int(self.indptr[c + 1])
            if s == e:
                continue
            parts_idx.append(np.asarray(self.indices[s:e]))
            parts_val.append(np.asarray(self.data[s:e]) * (self.stats.idf[c] * qf))
        if not parts_idx:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
        if len(parts_idx) == 1:
            return parts_idx[0].astype(np.int64), parts_val[0]
        acc = np.zeros(self.n_docs, dtype=np.float64)
        touched = np.zeros(self.n_docs, dtype=bool)
        for idx, val in zip(parts_idx, parts_val, strict=True):
            acc[idx] += val  # no duplicate rows within one term's postings
            touched[idx] = True
        rows = np.flatnonzero(touched)
        return rows, acc[rows]

    def top_k(
        self, terms: Sequence[str], k: int, mask: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The k best rows (ties broken by row) whose `mask` is true, with their scores."""
        rows, vals = self.scores(terms)
        if mask is not None and len(rows):
            keep = mask[rows]
            rows, vals = rows[keep], vals[keep]
        return top_k(rows, vals, k)

    def save(self, folder: Path) -> dict:
        for name in _FILES:
            arr = self.stats.idf if name == "idf" else getattr(self, name)
            np.save(folder / f"bm25_{name}.npy", arr)
        terms = sorted(self.stats.vocab, key=self.stats.vocab.__getitem__)
        (folder / "bm25_vocab.json").write_text(json.dumps(terms, ensure_ascii=False), encoding="utf-8")
        return {"n_docs": self.n_docs, "avgdl": self.stats.avgdl, "k1": self.stats.k1, "b": self.stats.b}

    @classmethod
    def load(cls, folder: Path, meta: dict, *, mmap: bool = True) -> SparseBM25:
        mode = "r" if mmap else None
        arrs = {name: np.load(folder / f"bm25_{name}.npy", mmap_mode=mode) for name in _FILES}
        terms = json.loads((folder / "bm25_vocab.json").read_text(encoding="utf-8"))
        vocab = {t: i for i, t in enumerate(terms)}
        stats = BM25Stats(
            n_docs=meta["n_docs"],
            avgdl=meta["avgdl"],
            vocab=vocab,
            idf=np.asarray(arrs["idf"]),
            k1=meta["k1"],
            b=meta["b"],
        )
        return cls(arrs["indptr"], arrs["indices"], arrs["data"], stats, meta["n_docs"])


def top_k(rows: np.ndarray, vals: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Best k by value, descending, ties by ascending row."""
    if len(rows) > k:
        part = np.argpartition(-vals, k - 1)[:k]
        # keep every row tied with the k-th value so the tie-break by row is exact
        kth = vals[part].min()
        part = np.flatnonzero(vals >= kth)
        rows, vals = rows[part], vals[part]
    order = np.lexsort((rows, -vals))[:k]
    return rows[order], vals[order]
