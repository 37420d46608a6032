"""Okapi BM25 over a scipy sparse matrix: the hot-path lexical retriever.

Scores reproduce rank-bm25's `BM25Okapi` exactly (same idf, same floor for terms in more than
half the documents: `epsilon * mean idf`), see tests/retrieval/test_bm25_parity.py. Scoring a
query touches only the postings of its terms, so the cost grows with how common they are, not
with the catalogue.
"""

from __future__ import annotations

import json
import math
import threading
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
        # plain ndarray views of memory-mapped arrays: np.memmap's indexing is slower per call
        self.indptr, self.indices, self.data = np.asarray(indptr), np.asarray(indices), np.asarray(data)
        self.stats = stats
        self.n_docs = n_docs  # rows in this segment (may differ from stats.n_docs for a delta)
        self._scratch = threading.local()  # per thread: reusable score accumulators (see `scores`)

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

    # pruning pays once a query's terms have this many postings in all; seeds above SEED_MAX rows
    # (every term common) are not worth it either: the query is scored in full
    PRUNE_MIN_POSTINGS = 20_000
    SEED_MAX = 50_000

    def _terms(self, terms: Sequence[str]) -> list[tuple[int, int, float]]:
        """(postings start, end, weight idf * query count) per distinct query term that has postings,
        in the order `scores` adds them up (float sums depend on the order)."""
        out = []
        for term, qf in Counter(terms).items():
            c = self.stats.vocab.get(term)
            if c is None or c + 1 >= len(self.indptr):
                continue
            s, e = int(self.indptr[c]), int(self.indptr[c + 1])
            if s != e:
                out.append((s, e, self.stats.idf[c] * qf))
        return out

    def rows_with(self, term: str) -> int:
        """How many of this segment's rows hold `term` (deleted rows too)."""
        c = self.stats.vocab.get(term)
        return 0 if c is None or c + 1 >= len(self.indptr) else int(self.indptr[c + 1] - self.indptr[c])

    def scores(self, terms: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(rows, scores) of every row with a nonzero score; query duplicates count, as in rank-bm25."""
        return self._scores(self._terms(terms))

    def _scores(self, parts, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """`scores`, of the rows `mask` allows only (dropping postings before adding them up)."""
        parts_idx, parts_val = [], []
        for s, e, w in parts:
            post, data = self.indices[s:e], self.data[s:e]
            if mask is not None:
                keep = mask[post]
                post, data = post[keep], data[keep]
            parts_idx.append(post)
            parts_val.append(data * w)
        if not parts_idx:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
        if len(parts_idx) == 1:
            return parts_idx[0].astype(np.int64), parts_val[0]
        # accumulate into this thread's zeroed buffers and zero the touched rows again after: a
        # fresh N-row array per query costs page faults on every page the postings touch
        acc, touched = self._take_scratch("acc", lambda: (np.zeros(self.n_docs), np.zeros(self.n_docs, bool)))
        for idx, val in zip(parts_idx, parts_val, strict=True):
            acc[idx] += val  # no duplicate rows within one term's postings
            touched[idx] = True
        rows = np.flatnonzero(touched)
        out = acc[rows]
        acc[rows] = 0.0
        touched[rows] = False
        self._scratch.acc = (acc, touched)
        return rows, out

    def _take_scratch(self, name: str, make):
        """This thread's buffer `name`, all zero (or -1); the caller puts it back when it is clean
        again, so a buffer left dirty by an exception half-way is never reused."""
        buf = getattr(self._scratch, name, None)
        if buf is None:
            buf = make()
        setattr(self._scratch, name, None)
        return buf

    def _slots(self) -> np.ndarray:
        return self._take_scratch("slots", lambda: np.full(self.n_docs, -1, dtype=np.int32))

    def _union(self, spans: Sequence[tuple[int, int]], extra: Sequence[np.ndarray] = ()) -> np.ndarray:
        """The sorted distinct rows in the postings [s, e) of `spans` and in the arrays `extra`."""
        arrays = [self.indices[s:e] for s, e in spans] + list(extra)
        if len(arrays) == 1:
            return np.asarray(arrays[0])
        if sum(len(a) for a in arrays) < self.n_docs // 64:
            return _sorted_unique(np.concatenate(arrays))
        table = self._slots()
        for a in arrays:
            table[a] = 0
        rows = np.flatnonzero(table >= 0)
        table[rows] = -1
        self._scratch.slots = table
        return rows.astype(self.indices.dtype)

    def _score_rows(self, parts: Sequence[tuple[int, int, float]], rows: np.ndarray) -> np.ndarray:
        """Exact scores of `rows` (distinct), the terms added in `parts`' order as `scores` does, so the
        floats are identical: per term, a binary search of the rows in its postings, or for long
        row sets a walk over the postings with a table of the rows."""
        out = np.zeros(len(rows))
        if not len(rows):
            return out
        r = np.asarray(rows, dtype=self.indices.dtype)
        table = None
        for s, e, w in parts:
            post = self.indices[s:e]
            if len(r) * 16 < e - s:
                pos = np.searchsorted(post, r)
                np.minimum(pos, e - s - 1, out=pos)
                hit = post[pos] == r
                out[hit] += self.data[s + pos[hit]] * w
            else:
                if table is None:
                    table = self._slots()
                    table[r] = np.arange(len(r), dtype=np.int32)
                slot = table[post]
                hit = slot >= 0
                out[slot[hit]] += self.data[s:e][hit] * w
        if table is not None:
            table[r] = -1
            self._scratch.slots = table
        return out

    def row_scores(self, terms: Sequence[str], rows: np.ndarray) -> np.ndarray:
        """The score of each of `rows` (0 where no term occurs), equal to `scores`' for that row."""
        rows = np.asarray(rows, dtype=np.int64)
        uniq, inv = np.unique(rows, return_inverse=True)
        return self._score_rows(self._terms(terms), uniq)[inv]

    def top_k(
        self, terms: Sequence[str], k: int, mask: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The k best rows (ties broken by row) whose `mask` is true, with their scores."""
        parts = self._terms(terms)
        # under a narrow filter, dropping the postings it excludes is cheaper than pruning (measured)
        if len(parts) > 1 and k > 0 and (mask is None or np.count_nonzero(mask) * 32 >= len(mask)):
            got = self._top_k_pruned(parts, k, mask)
            if got is not None:
                return got
        rows, vals = self._scores(parts, mask)
        return top_k(rows, vals, k)

    def _top_k_pruned(self, parts, k: int, mask: np.ndarray | None):
        """`top_k` without scoring every posting of common terms (MaxScore): score the rows of the
        rarest terms in full; their k-th best score is a floor `theta` for the k-th best overall.
        Terms whose best contributions together stay below theta ("lazy") cannot lift a row that
        lacks every other term into the top k, so only rows in the other terms' postings are scored
        (in full); of the longest of those, only rows whose own contribution could still reach
        theta. Same rows, same scores (same float sums), same tie-break as scoring everything. None
        where it would not save work: the caller then scores every posting."""
        lens = [e - s for s, e, _ in parts]
        if sum(lens) < self.PRUNE_MIN_POSTINGS or any(float(w) <= 0 for _, _, w in parts):
            return None
        by_len = sorted(range(len(parts)), key=lens.__getitem__)
        seed_spans: list[tuple[int, int]] = []
        seed = np.empty(0, dtype=self.indices.dtype)
        for j in by_len[:-1]:
            if sum(e - s for s, e in seed_spans) + lens[j] > self.SEED_MAX:
                break
            seed_spans.append(parts[j][:2])
            seed = self._union(seed_spans)
            if mask is not None:
                seed = seed[mask[seed]]
            if len(seed) >= k:
                break
        if len(seed) < k:  # too few: add the k best postings of the next term (any rows do for a floor)
            s, e, _ = parts[by_len[len(seed_spans)]]
            post, vals = self.indices[s:e], self.data[s:e]
            if mask is not None:
                keep = mask[post]
                post, vals = post[keep], vals[keep]
            if len(post) > k:
                post = post[np.argpartition(-vals, k - 1)[:k]]
            seed = _sorted_unique(np.concatenate([seed, post]))
            if len(seed) < k:
                return None
        seed_scores = self._score_rows(parts, seed)
        theta = float(np.partition(seed_scores, len(seed) - k)[len(seed) - k])
        # the most a term adds to one row (max of data * w: rounding is monotone, so exact)
        bound = [float(np.max(self.data[s:e])) * float(w) for s, e, w in parts]
        lazy: set[int] = set()
        cum = 0.0
        for j in sorted(range(len(parts)), key=bound.__getitem__):
            if (cum + bound[j]) * (1 + 1e-9) >= theta:  # margin for float sums in another order
                break
            cum += bound[j]
            lazy.add(j)
        # a row in none of the other essential terms' postings gets from the longest one at least
        # theta minus what the lazy terms can add, or it cannot reach theta: keep only those
        ess = sorted((j for j in range(len(parts)) if j not in lazy), key=lens.__getitem__)
        if not ess:
            return None
        s, e, w = parts[ess[-1]]
        need = theta - sum(bound[j] for j in lazy)
        if need <= 0 and not lazy:
            return None
        post = self.indices[s:e]
        if need > 0:  # (a margin for float sums; compared on the stored weights: no N-sized product)
            post = post[self.data[s:e] >= (need - 1e-9 * theta) / float(w)]
        cand = self._union([parts[j][:2] for j in ess[:-1]], [post])
        if mask is not None:
            cand = cand[mask[cand]]
        return top_k(cand.astype(np.int64), self._score_rows(parts, cand), k)

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


def _sorted_unique(a: np.ndarray) -> np.ndarray:
    """np.unique by sorting (numpy 2's np.unique hashes first, several times slower on ints)."""
    a = np.sort(a)
    if len(a) > 1:
        a = a[np.concatenate(([True], a[1:] != a[:-1]))]
    return a


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
