"""The hybrid index: BM25 + dense segments, attribute filters, fusion and the listing lifecycle.

An index is one immutable *main* segment on disk (memory-mapped) plus a small in-memory *delta*
segment holding listings added or changed since; deletes are tombstones on the main segment.
Every upsert and delete is appended to an fsynced log before it returns, and replayed on load.
`compact()` folds the delta and the tombstones into a new generation, written beside the old one
and switched to by replacing the manifest.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from retrieval import store
from retrieval.attributes import (
    CLOSED_ATTRIBUTES,
    DEFAULT_RELAX_ORDER,
    QU_FILTER_ATTRIBUTES,
    AttributeColumns,
    Constraint,
    Plan,
    known_value,
    make_plan,
)
from retrieval.bm25 import SparseBM25
from retrieval.catalogue import check_unique, listing_from_dict
from retrieval.dense import Embedder, EmbeddingCache, QueryBatcher, VectorSearch, content_hashes, embed_cached
from retrieval.errors import EmptyQueryError, IndexFormatError
from retrieval.fusion import check_method, fuse_arrays
from retrieval.spell import SHORTEST, respell
from retrieval.text import TEXT_VERSION, dense_text, lexical_text, tokenize
from retrieval.types import Hit, Listing, Retrieved, Stage

if TYPE_CHECKING:
    from qu.types import ParsedQuery

logger = logging.getLogger(__name__)

STAGES: tuple[str, ...] = ("bm25", "dense", "hybrid")


@dataclass(frozen=True)
class SearchConfig:
    """Query-time knobs (defaults chosen on ESCI dev: see docs/retrieval.md)."""

    fusion: str = "rrf"  # rrf | minmax | zscore (rrf with dense_weight 0.55: best on ESCI dev)
    dense_weight: float = 0.55  # weight of the dense list in fusion; bm25 gets 1 - dense_weight
    rrf_k: int = 60
    depth: int = 200  # candidates taken from each retriever before fusion
    min_results: int = 10  # relax parsed filters while fewer listings than this pass them
    relax_order: tuple[str, ...] = DEFAULT_RELAX_ORDER
    filter_confidence: float = 0.8  # qu attributes at least this confident become filters
    # which of qu's attributes may become filters; brand and colour only boost by default: as
    # filters they cost 0.10 / 0.02 NDCG@10 on ESCI dev (brands named for compatibility, "garmin
    # bands"; free-text colours). Explicit API filters may use every attribute.
    filter_attributes: tuple[str, ...] = ("category", "size", "gender", "condition", "price")
    boost_confidence: float = 0.3  # ... at least this confident (and below the above) become boosts
    boost_weight: float = 0.2  # a matched boost adds boost_weight * confidence * |score|
    ef_search: int = 768  # with M=32: recall@100 0.975 at p95 4.6 ms over 1M real title vectors


# -- segments ---------------------------------------------------------------------------------


@dataclass
class Segment:
    ids: list[str]
    bm25: SparseBM25
    vectors: VectorSearch
    attrs: AttributeColumns
    hashes: np.ndarray
    store: store.ListingStore | None = None  # main segment: listings on disk
    listings: list[Listing] | None = None  # delta segment: listings in memory
    row_of: dict[str, int] = field(default_factory=dict)

    def __post_init__(self):
        if not self.row_of:
            self.row_of = {i: r for r, i in enumerate(self.ids)}

    def __len__(self) -> int:
        return len(self.ids)

    def listing(self, row: int) -> Listing:
        if self.listings is not None:
            return self.listings[row]
        assert self.store is not None
        return Listing.model_validate_json(self.store.raw(row))

    def raw(self, row: int) -> bytes:
        if self.listings is not None:
            return (self.listings[row].model_dump_json() + "\n").encode("utf-8")
        assert self.store is not None
        return self.store.raw(row)


def _delta_segment(items: Sequence[tuple[Listing, np.ndarray, int]], main: Segment, dim: int) -> Segment | None:
    if not items:
        return None
    listings = [x[0] for x in items]
    vecs = np.stack([x[1] for x in items]).astype(np.float32) if items else np.zeros((0, dim), np.float32)
    bm = SparseBM25.build([tokenize(lexical_text(x)) for x in listings], stats=main.bm25.stats)
    return Segment(
        ids=[x.id for x in listings],
        bm25=bm,
        vectors=VectorSearch(vecs),
        attrs=AttributeColumns.build(listings),
        hashes=np.asarray([x[2] for x in items], np.uint64),
        listings=listings,
    )


@dataclass(frozen=True)
class _State:
    """What one search sees; replaced whole (copy on write) by every change."""

    main: Segment
    alive: np.ndarray | None  # main rows not deleted; None when none are
    delta_items: Mapping[str, tuple[Listing, np.ndarray, int]]
    delta: Segment | None

    def segments(self) -> list[tuple[Segment, np.ndarray | None]]:
        out: list[tuple[Segment, np.ndarray | None]] = [(self.main, self.alive)]
        if self.delta is not None:
            out.append((self.delta, None))
        return out

    def count(self) -> int:
        n_main = len(self.main) if self.alive is None else int(self.alive.sum())
        return n_main + len(self.delta_items)


# -- building a generation ----------------------------------------------------------------------


def _write_generation(
    folder: Path,
    listings: Sequence[Listing],
    raws: Sequence[bytes] | None,
    vectors: np.ndarray,
    hashes: np.ndarray,
    *,
    ann_threshold: int,
    hnsw_m: int,
    ef_construction: int,
    k1: float,
    b: float,
    epsilon: float,
) -> dict:
    """Write a full generation folder; returns the manifest fields it needs.

    A folder already at `folder` is a temporary one left by a write that crashed before cleaning
    up (no manifest names it): it is removed first, so the crash does not block every later write.
    """
    if folder.exists():
        logger.warning("removing %s, left behind by an earlier write that did not finish", folder)
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    t = time.perf_counter()
    bm = SparseBM25.build([tokenize(lexical_text(x)) for x in listings], k1=k1, b=b, epsilon=epsilon)
    bm_meta = bm.save(folder)
    AttributeColumns.build(listings).save(folder)
    np.save(folder / "vectors.npy", np.ascontiguousarray(vectors, dtype=np.float32))
    np.save(folder / "hashes.npy", hashes.astype(np.uint64))
    (folder / "ids.json").write_text(json.dumps([x.id for x in listings], ensure_ascii=False), encoding="utf-8")
    if raws is None:
        raws = [(x.model_dump_json(exclude_none=True) + "\n").encode("utf-8") for x in listings]
    store.ListingStore.write(folder, list(raws))
    ann = len(listings) >= ann_threshold
    if ann:
        import faiss

        logger.info("building HNSW (M=%d) over %d vectors", hnsw_m, len(listings))
        faiss.write_index(
            VectorSearch.build_hnsw(vectors, m=hnsw_m, ef_construction=ef_construction),
            str(folder / "hnsw.faiss"),
        )
    for p in folder.iterdir():  # make the files durable before the manifest points at them
        with open(p, "rb") as f:
            os.fsync(f.fileno())
    store.fsync_dir(folder)
    logger.info("wrote %s (%d listings) in %.1fs", folder, len(listings), time.perf_counter() - t)
    return {"count": len(listings), "bm25": bm_meta, "ann": ann, "dim": int(vectors.shape[1])}


def _load_segment(folder: Path, meta: dict, ef_search: int, *, prefault: bool = True) -> Segment:
    """Open a generation folder. Large segments read hnsw.faiss into memory, and the HNSW's stored
    vectors are also the segment's vector array (vectors.npy, the same float32 rows, is then left
    on disk: the vectors are not held twice). With `prefault`, the other arrays a search reads
    (BM25 postings, attribute columns, vectors.npy without an HNSW) are memory-mapped and brought
    into memory now, so that early queries do not page-fault on them."""
    ids = json.loads((folder / "ids.json").read_text(encoding="utf-8"))
    vectors = np.load(folder / "vectors.npy", mmap_mode="r")
    vectors_path = folder / "vectors.npy"
    hnsw = None
    if meta.get("ann") and (folder / "hnsw.faiss").exists():
        import faiss

        from retrieval.dense import hnsw_vectors

        hnsw = faiss.read_index(str(folder / "hnsw.faiss"))
        held = hnsw_vectors(hnsw)
        if held is not None and _same_rows(held, vectors):
            vectors, vectors_path = held, None
        else:
            logger.warning("%s: the HNSW's stored vectors differ from vectors.npy; reading both", folder)
    seg = Segment(
        ids=ids,
        bm25=SparseBM25.load(folder, meta["bm25"]),
        vectors=VectorSearch(vectors, hnsw, ef_search=ef_search),
        attrs=AttributeColumns.load(folder),
        hashes=np.load(folder / "hashes.npy", mmap_mode="r"),
        store=store.ListingStore.open(folder),
    )
    if prefault:
        t = time.perf_counter()
        bm = seg.bm25
        for arr in (bm.indptr, bm.indices, bm.data, *seg.attrs.codes.values(), seg.attrs.price):
            store.prefault(arr)
        store.prefault(vectors, vectors_path)
        logger.info("prefaulted %s in %.2fs", folder, time.perf_counter() - t)
    return seg


def _same_rows(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two (n, d) vector arrays agree in shape and on a few sampled rows."""
    if a.shape != b.shape:
        return False
    n = a.shape[0]
    rows = sorted({0, n // 3, n // 2, (2 * n) // 3, n - 1}) if n else []
    return all(np.array_equal(a[r], b[r]) for r in rows)


# -- the index ----------------------------------------------------------------------------------


_LETTER_SIZES = frozenset({"xxs", "xs", "s", "m", "l", "xl", "xxl", "3xl", "4xl", "5xl"})
_BARE_SIZE = re.compile(r"xxs|xs|s|m|l|xl|xxl|[3-5]xl|\d{1,2}(?:\.5)?")


def _without_size_marks(terms: list[str], parsed: ParsedQuery | None) -> list[str]:
    """In a fashion query (a category from qu's taxonomy), BM25's terms without the sizes qu read as
    letters or a bare number ("hoodie s/m", "dress m", "heels 5", "jumper 10"): the size filters
    and boosts use them, and as words they match brands ("s.Oliver", "M&S", "Inc 5"). Measures
    ("1 1/4", "24 inch"), waist and system sizes ("w32", "uk 8") and numbers of three digits or
    more stay, and every query that is not for clothes, shoes or bags keeps all its terms."""
    if parsed is None:
        return terms
    if "category_path" not in parsed.extra:  # not a query for clothes, shoes or bags
        return terms
    drop = [
        t
        for sp in parsed.spans
        if sp.attribute == "size" and sp.value is not None and _BARE_SIZE.fullmatch(sp.value)
        for t in tokenize(sp.text)
        if t == sp.value or t in _LETTER_SIZES
    ]
    out = list(terms)
    for t in drop:
        if t in out:
            out.remove(t)
    return out or terms


def _with_read_as(terms: list[str], parsed: ParsedQuery | None) -> list[str]:
    """BM25's terms and the words of the query as read where the shopper slipped or ran words together
    (`extra["read_as"]`, from qu and then the catalogue's spelling: "blackdress" also matches "black" and
    "dress", "balck jeans" "black", "jewerly" "jewelry")."""
    read = parsed.extra.get("read_as") if parsed is not None else None
    return [*terms, *(t for t in dict.fromkeys(tokenize(read)) if t not in terms)] if read else terms


def _without_negated(terms: list[str], parsed: ParsedQuery | None) -> list[str]:
    """BM25's terms without the values the query does not want ("dress not black": "black" would
    rank the black dresses the exclusion leaves out, and black-titled ones that lack a colour)."""
    negated = (parsed.extra.get("negated") if parsed is not None else None) or {}
    drop = {t for vals in negated.values() for v in vals for t in tokenize(str(v))}
    out = [t for t in terms if t not in drop]
    return out or terms


def _bases(segs) -> np.ndarray:
    """Each segment's first key: a candidate's key is its segment's base plus its row."""
    return np.cumsum([0] + [len(seg) for seg, _ in segs[:-1]], dtype=np.int64)


def _merge(segs, found: list[tuple[np.ndarray, np.ndarray]], depth: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-segment (rows, scores) best first -> (keys, scores) best first, at most `depth`."""
    bases = _bases(segs)
    keys = np.concatenate([np.asarray(r, dtype=np.int64) + b for (r, _), b in zip(found, bases, strict=True)])
    scores = np.concatenate([np.asarray(v, dtype=np.float64) for _, v in found])
    if len(found) > 1:
        order = np.argsort(-scores, kind="stable")[:depth]
        return keys[order], scores[order]
    return keys, scores


def _locate(segs, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keys -> (segment index, row in that segment)."""
    bases = _bases(segs)
    seg_idx = np.searchsorted(bases, keys, side="right") - 1
    return seg_idx, keys - bases[seg_idx]


class Index:
    """Hybrid BM25 + dense retrieval over a catalogue of listings, with a live lifecycle.

    Build with `Index.build(listings, out_dir)`, open with `Index.load(out_dir)`. `search` is
    safe to call from many threads while one thread calls `upsert`, `delete` or `compact`.
    """

    def __init__(
        self,
        root: Path,
        manifest: dict,
        embedder: Embedder | None,
        config: SearchConfig,
        *,
        auto_compact_at: int = 20_000,
        ann_threshold: int = 250_000,
        hnsw_m: int = 32,
        ef_construction: int = 200,
        prefault: bool = True,
    ):
        self.root = Path(root)
        self.manifest = manifest
        self.config = config
        self.auto_compact_at = auto_compact_at
        self.ann_threshold = ann_threshold
        self.hnsw_m = hnsw_m
        self.ef_construction = ef_construction
        self.prefault = prefault  # bring the searched arrays into memory at load (see _load_segment)
        self._embedder = embedder
        self._embedder_lock = threading.Lock()
        self._write_lock = threading.RLock()
        self._compact_lock = threading.Lock()
        self._compact_thread: threading.Thread | None = None
        self._qcache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._batcher: QueryBatcher | None = None  # started on the first query to embed
        gen = self.root / manifest["generation"]
        main = _load_segment(gen, manifest, config.ef_search, prefault=prefault)
        self._log = store.DeltaLog(gen / store.DELTA_LOG)
        self._state = _State(main=main, alive=None, delta_items={}, delta=None)
        self._state = self._apply(self._state, self._log.read())

    # construction ---------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        listings: Iterable[Listing],
        out_dir: str | Path,
        *,
        embedder: Embedder | None = None,
        show_progress: bool = True,
        cache_dir: str | Path | None = None,
        config: SearchConfig | None = None,
        ann_threshold: int = 250_000,
        hnsw_m: int = 32,
        ef_construction: int = 200,
        k1: float = 1.5,
        b: float = 0.75,
        epsilon: float = 0.25,
        filter_attributes: Sequence[str] | None = None,
        **kwargs,
    ) -> Index:
        """Index `listings` into `out_dir`, atomically: a failure leaves any previous index there usable.

        `filter_attributes`, when given, is stored in the manifest: the catalogue's own choice of which
        of qu's confident attributes filter (a fashion catalogue with clean brands filters on brand),
        which `preloved.pipeline.load_pipeline` applies unless the settings name their own.

        Embeddings are reused by content hash from the previous index at `out_dir` and from
        `cache_dir` (new ones are added to it), so re-indexing unchanged listings embeds nothing.
        """
        listings = list(listings)
        check_unique(listings)
        extra_meta = {}
        if filter_attributes is not None:
            unknown = sorted(set(filter_attributes) - set(QU_FILTER_ATTRIBUTES))
            if unknown:
                raise ValueError(
                    f"unknown filter attribute(s) {', '.join(unknown)}: choose from {', '.join(QU_FILTER_ATTRIBUTES)}"
                )
            extra_meta["filter_attributes"] = list(dict.fromkeys(filter_attributes))
        out = Path(out_dir)
        embedder = embedder or Embedder()
        previous = None
        if out.exists():
            if (out / store.MANIFEST).exists():
                previous = store.read_manifest(out)
            elif any(out.iterdir()):
                raise FileExistsError(f"{out} exists and is not a preloved index: choose an empty or new folder")
        if filter_attributes is None and previous is not None and "filter_attributes" in previous:
            extra_meta["filter_attributes"] = previous["filter_attributes"]  # a rebuild keeps the choice
        sources = []
        if previous is not None:
            gen = out / previous["generation"]
            sources.append((np.load(gen / "hashes.npy"), np.load(gen / "vectors.npy", mmap_mode="r")))
        cache = EmbeddingCache(Path(cache_dir) if cache_dir else None, sources)
        texts = [dense_text(x) for x in listings]
        vectors, hashes, computed = embed_cached(embedder, texts, cache, show_progress=show_progress)
        params = dict(
            ann_threshold=ann_threshold,
            hnsw_m=hnsw_m,
            ef_construction=ef_construction,
            k1=k1,
            b=b,
            epsilon=epsilon,
        )
        if previous is None:
            if out.parent.is_dir():  # first builds of this folder that crashed before cleaning up
                for p in out.parent.iterdir():
                    if p.is_dir() and p.name.startswith(f".{out.name}.tmp-"):
                        logger.warning("removing %s, left behind by a build that did not finish", p)
                        shutil.rmtree(p, ignore_errors=True)
            tmp_root = out.parent / f".{out.name}.tmp-{uuid.uuid4().hex[:8]}"
            tmp_root.mkdir(parents=True)
            try:
                gen_name = "gen-000001"
                meta = _write_generation(tmp_root / gen_name, listings, None, vectors, hashes, **params)
                cls._write_manifest(tmp_root, gen_name, {**meta, **extra_meta}, embedder)
                if out.exists():  # an empty folder
                    out.rmdir()
                os.rename(tmp_root, out)
                store.fsync_dir(out.parent)
            except BaseException:
                shutil.rmtree(tmp_root, ignore_errors=True)
                raise
        else:
            gen_name = store.next_generation(out)
            tmp_gen = out / f".{gen_name}.tmp"
            try:
                meta = _write_generation(tmp_gen, listings, None, vectors, hashes, **params)
                os.rename(tmp_gen, out / gen_name)
                cls._write_manifest(out, gen_name, {**meta, **extra_meta}, embedder)
            except BaseException:
                shutil.rmtree(tmp_gen, ignore_errors=True)
                raise
            store.remove_stale(out, keep=gen_name)
        logger.info(
            "indexed %d listings into %s (%d embedded, %d cached)",
            len(listings),
            out,
            computed,
            len(listings) - computed,
        )
        index = cls.load(
            out,
            embedder=embedder,
            config=config,
            ann_threshold=ann_threshold,
            hnsw_m=hnsw_m,
            ef_construction=ef_construction,
            **kwargs,
        )
        index.last_build = {"listings": len(listings), "embedded": computed}
        return index

    @staticmethod
    def _write_manifest(root: Path, gen_name: str, meta: dict, embedder: Embedder) -> None:
        manifest = {
            "format": store.FORMAT,
            "format_version": store.FORMAT_VERSION,
            "generation": gen_name,
            "embedder": embedder.name,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "text_version": TEXT_VERSION,
            "lexical_text": "title + brand + colour (when not in the title) + description",
            "dense_text": "brand (when not in the title) + title + description",
            **meta,
        }
        store.write_atomic(root / store.MANIFEST, json.dumps(manifest, indent=1).encode("utf-8"))

    @classmethod
    def load(
        cls,
        path: str | Path,
        *,
        embedder: Embedder | None = None,
        config: SearchConfig | None = None,
        **kwargs,
    ) -> Index:
        """Open an index folder (arrays memory-mapped) and replay its delta log.

        `prefault=False` (a keyword) skips reading the searched arrays into memory at load: faster to
        open, slower first queries.

        Raises IndexNotFoundError when there is no index at `path`.
        """
        root = Path(path)
        manifest = store.read_manifest(root)
        if manifest.get("text_version") != TEXT_VERSION:
            raise IndexFormatError(
                f"{root} was built with text version {manifest.get('text_version')!r}; this version "
                f"tokenises with version {TEXT_VERSION}: rebuild it with `preloved index`"
            )
        if embedder is not None and embedder.name != manifest.get("embedder"):
            raise IndexFormatError(
                f"{root} was embedded with {manifest.get('embedder')!r}, but the embedder given is {embedder.name!r}"
            )
        return cls(root, manifest, embedder, config or SearchConfig(), **kwargs)

    # reading -------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._state.count()

    def __contains__(self, listing_id: object) -> bool:
        return isinstance(listing_id, str) and self.get(listing_id) is not None

    def get(self, listing_id: str) -> Listing | None:
        """The live listing with this id, or None when unknown or deleted."""
        st = self._state
        item = st.delta_items.get(listing_id)
        if item is not None:
            return item[0]
        row = st.main.row_of.get(listing_id)
        if row is None or (st.alive is not None and not st.alive[row]):
            return None
        return st.main.listing(row)

    @property
    def embedder(self) -> Embedder:
        """The embedder given at load, else the packaged MiniLM with the index's sequence length."""
        if self._embedder is None:
            with self._embedder_lock:
                if self._embedder is None:
                    name = str(self.manifest.get("embedder", ""))
                    length = name.rpartition("@")[2]
                    e = Embedder(max_seq_length=int(length)) if length.isdigit() else Embedder()
                    if e.name != name:
                        raise IndexFormatError(
                            f"{self.root} was embedded with {name!r}; pass a matching Embedder to Index.load"
                        )
                    self._embedder = e
        return self._embedder

    def embed_query(self, query: str, use_cache: bool = True) -> np.ndarray:
        """The query's vector, from a small cache by normalised text unless `use_cache` is false,
        encoded on the calling thread (no hand-over to the batching thread: about 1 ms less alone)."""
        key, v = self._cached_vector(query, use_cache)
        if v is None:
            v = self.embedder.encode_query(query)
            if use_cache:
                self._remember(key, v)
        return v

    def embed_query_async(self, query: str, use_cache: bool = True, now: bool = True) -> Future:
        """`embed_query` on the index's query-encoding thread (`QueryBatcher`: queries waiting together
        are encoded in one batch), so a caller can parse the query meanwhile and pass the result to
        `search(query_vector=...)`: the ONNX encoder releases the GIL while it runs. With `now=False`
        the query waits to be encoded until `need_query_vector` asks for it (or a batch fills)."""
        key, v = self._cached_vector(query, use_cache)
        if v is not None:
            done: Future = Future()
            done.set_result(v)
            return done
        embedder = self.embedder
        with self._embedder_lock:
            if self._batcher is None:
                self._batcher = QueryBatcher(embedder.encode_queries)
        fut = self._batcher.submit(query, now=now)
        if use_cache:
            def remember(f: Future) -> None:
                if f.exception() is None:
                    self._remember(key, f.result())

            fut.add_done_callback(remember)
        return fut

    def need_query_vector(self, fut: Future) -> None:
        """Encode the query of `fut` (from `embed_query_async(now=False)`) now, with those waiting."""
        if self._batcher is not None:
            self._batcher.need(fut)

    def _cached_vector(self, query: str, use_cache: bool) -> tuple[str, np.ndarray | None]:
        """The query's key in the vector cache (normalised text), and its vector there when `use_cache`."""
        key = query.strip().lower()
        return key, (self._qcache.get(key) if use_cache else None)

    def _remember(self, key: str, vector: np.ndarray) -> None:
        self._qcache[key] = vector
        while len(self._qcache) > 4096:
            self._qcache.popitem(last=False)

    # searching -----------------------------------------------------------------------------------

    def spell(self, text: str, is_word: Callable[[str], bool]) -> str | None:
        """`text` with the words no listing has written as the catalogue's word one slip away
        ("jewerly bracelet" -> "jewelry bracelet"), or None where none is (`retrieval.spell.respell`;
        `is_word` says which words people write, which stay as they are). The words of the brands the
        catalogue's listings carry are written too ("oganifi" -> "organifi"), those of `SHORTEST` letters
        or more (a shorter brand word has too many neighbours: "stoki" is not "stok")."""
        segs = [seg for seg, _ in self._state.segments()]
        brands = [seg.attrs.value_words("brand") for seg in segs]
        return respell(text, lambda term: sum(seg.bm25.rows_with(term) for seg in segs),
                       lambda w: is_word(w) or (len(w) >= SHORTEST and any(w in b for b in brands)))

    def search(
        self,
        query: str,
        k: int = 100,
        stage: Stage = "hybrid",
        parsed: ParsedQuery | None = None,
        filters: Mapping[str, object] | None = None,
        *,
        depth: int | None = None,
        config: SearchConfig | None = None,
        use_cache: bool = True,
        query_vector: np.ndarray | None = None,
    ) -> Retrieved:
        """Rank live listings for `query` with one stage (bm25, dense) or both fused (hybrid).

        `parsed` (qu's reading of the query): confident attributes become filters (not a value
        no listing has: that one is relaxed at once), relaxed in `config.relax_order` while fewer
        than `config.min_results` listings pass, less confident
        ones boosts. `filters` (attribute -> value or list) are the API user's: hard, never
        relaxed, and they override parsed values of the same attribute. `query_vector`: the query's
        embedding when the caller already has it (`embed_query_async`).
        """
        cfg = config or self.config
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}: choose from {', '.join(STAGES)}")
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        check_method(cfg.fusion)
        if not isinstance(query, str):
            raise TypeError(f"query must be a string, got {type(query).__name__}")
        terms = tokenize(query)
        if not terms:
            raise EmptyQueryError(
                f"query {query!r} has nothing to search for: it is only stop words, punctuation or spaces"
            )
        terms = _without_negated(_without_size_marks(_with_read_as(terms, parsed), parsed), parsed)
        plan = make_plan(
            parsed,
            filters,
            filter_confidence=cfg.filter_confidence,
            boost_confidence=cfg.boost_confidence,
            filter_attributes=cfg.filter_attributes,
        )
        st = self._state
        self._check_filter_values(st, plan)
        depth = max(k, depth or cfg.depth)
        qvec = None
        if stage != "bm25":
            qvec = self.embed_query(query, use_cache) if query_vector is None else np.asarray(query_vector)
        segs = st.segments()
        plan.relax_unknown(lambda c: any(seg.attrs.knows(c.attr, v) for seg, _ in segs for v in c.values))

        def found(p: Plan) -> tuple[int, list, tuple | None]:  # listings that pass p's filters
            masks = [self._mask(seg, alive, p.filters, p.excluded) for seg, alive in segs]
            if stage == "bm25":
                lex = self._bm25(segs, masks, terms, depth)
                return len(lex[0]), masks, lex
            n = sum(len(seg) if m is None else int(np.count_nonzero(m))
                    for (seg, _), m in zip(segs, masks, strict=True))
            return n, masks, None

        n_found, masks, lex = found(plan)
        while n_found < cfg.min_results and (nxt := plan.relaxable(cfg.relax_order)) is not None:
            step, c = nxt
            logger.debug("query %r: %d results with %s; relaxing it", query, n_found, c.label())
            plan.relax(c, climb=step == "category^")
            n_found, masks, lex = found(plan)
            # after a later step (the brand), the category asked for may find enough again
            if n_found >= cfg.min_results and step != "category^" and (leaf := plan.with_leaf()) is not None:
                n_leaf, leaf_masks, leaf_lex = found(leaf)
                if n_leaf >= cfg.min_results:
                    plan, n_found, masks, lex = leaf, n_leaf, leaf_masks, leaf_lex

        # a candidate is a key, its segment's first key plus its row: arrays, not per-candidate Python
        lists: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if stage in ("bm25", "hybrid"):
            lists["bm25"] = lex if stage == "bm25" else self._bm25(segs, masks, terms, depth)
        if stage in ("dense", "hybrid"):
            lists["dense"] = self._dense(segs, masks, qvec, depth)

        if stage == "hybrid":
            w = cfg.dense_weight
            cand, score = fuse_arrays(lists, method=cfg.fusion, weights={"bm25": 1 - w, "dense": w},
                                      rrf_k=cfg.rrf_k)
        else:
            cand, score = lists[stage]
        if not len(cand):
            return Retrieved(hits=[], applied_filters=plan.applied(), relaxed_filters=tuple(plan.relaxed))
        fused = score = np.asarray(score, dtype=np.float64)
        seg_idx, rows = _locate(segs, cand)
        # per filter and boost, in that order: each candidate has the value (1), lacks the field (0) or differs (-1)
        matches = [self._row_matches(segs, seg_idx, rows, c) for c in (*plan.filters, *plan.boosts)]
        # a filter lets a listing missing the field through; one that has the value asked ranks above it
        for c, m in zip((*plan.filters, *plan.boosts), matches, strict=True):
            score = score + (m > 0) * cfg.boost_weight * c.confidence * np.abs(score)
        order = np.lexsort((np.arange(len(cand)), -score))[:k]
        explain = self._explain(plan, [m[order] for m in matches], len(order))  # the hits' only

        # per-stage scores for every hit, even when only one retriever found it
        stage_scores = self._stage_scores(segs, seg_idx[order], rows[order], terms, qvec, stage)
        ranks = {s: {key: r + 1 for r, key in enumerate(keys.tolist())} for s, (keys, _) in lists.items()}
        hits = []
        for j, (o, key, s, r) in enumerate(zip(order.tolist(), cand[order].tolist(), seg_idx[order].tolist(),
                                                rows[order].tolist(), strict=True)):
            scores = {s_: float(v[j]) for s_, v in stage_scores.items()}
            if stage == "hybrid":
                scores["fused"] = float(fused[o])
            matched = [f"{s_}#{ranks[s_][key]}" for s_ in lists if key in ranks[s_]]
            matched += explain[j]
            hits.append(Hit(id=segs[s][0].ids[r], score=float(score[o]), scores=scores, matched=tuple(matched)))
        return Retrieved(hits=hits, applied_filters=plan.applied(), relaxed_filters=tuple(plan.relaxed))

    @staticmethod
    def _check_filter_values(st: _State, plan: Plan) -> None:
        """Raise ValueError for an explicit filter value of a closed vocabulary (CLOSED_ATTRIBUTES)
        that no listing's value matches and qu does not know: a typo, not a request for nothing.
        A known value with no listings now ("girls" in a shop without girls' clothes) passes."""
        segs = [seg for seg, _ in st.segments()]
        for c in plan.filters:
            if c.source != "filter" or c.attr not in CLOSED_ATTRIBUTES:
                continue
            for v in c.values:
                if any(seg.attrs.knows(c.attr, v) for seg in segs) or known_value(c.attr, v):
                    continue
                vocab = sorted({x for seg in segs for x in seg.attrs.vocabs[c.attr]})
                known = (
                    f"values in this index include {', '.join(vocab[:8])}{', ...' if len(vocab) > 8 else ''}"
                    if vocab
                    else f"no listing in this index has a {c.attr}"
                )
                raise ValueError(f"filter {c.attr!r}: unknown value {v!r} matches no {c.attr}; {known}")

    @staticmethod
    def _mask(seg: Segment, alive: np.ndarray | None, filters: Sequence[Constraint],
              excluded: Sequence[Constraint] = ()) -> np.ndarray | None:
        mask = None if alive is None else np.asarray(alive)
        for m in [*(seg.attrs.mask(c) for c in filters), *(seg.attrs.without(c) for c in excluded)]:
            mask = m if mask is None else (mask & m)
        return mask

    @staticmethod
    def _bm25(segs, masks, terms, depth) -> tuple[np.ndarray, np.ndarray]:
        found = [seg.bm25.top_k(terms, depth, m) for (seg, _), m in zip(segs, masks, strict=True)]
        return _merge(segs, found, depth)

    @staticmethod
    def _dense(segs, masks, qvec, depth) -> tuple[np.ndarray, np.ndarray]:
        found = [seg.vectors.search(qvec, depth, m) for (seg, _), m in zip(segs, masks, strict=True)]
        return _merge(segs, found, depth)

    @staticmethod
    def _stage_scores(segs, seg_idx, rows, terms, qvec, stage) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        if stage in ("bm25", "hybrid"):
            b = np.zeros(len(rows))
            for s, (seg, _) in enumerate(segs):
                sel = np.flatnonzero(seg_idx == s)
                if len(sel):
                    b[sel] = seg.bm25.row_scores(terms, rows[sel])
            out["bm25"] = b
        if stage in ("dense", "hybrid"):
            d = np.zeros(len(rows))
            for s, (seg, _) in enumerate(segs):
                sel = np.flatnonzero(seg_idx == s)
                if len(sel):
                    rr = rows[sel]
                    o = np.argsort(rr)
                    d[sel[o]] = np.asarray(seg.vectors.vectors[rr[o]]) @ qvec
            out["dense"] = d
        return out

    @staticmethod
    def _explain(plan: Plan, matches: list[np.ndarray], n: int) -> list[list[str]]:
        """Per candidate (n of them), the filters and boosts it matched; `matches` are `_row_matches`
        per filter, then per boost."""
        out: list[list[str]] = [[] for _ in range(n)]
        groups = [(c, "filter" if c.source == "filter" else "filter, from query") for c in plan.filters]
        groups += [(c, "relaxed, boost" if c.attr in plan.relaxed else "boost") for c in plan.boosts]
        for (c, kind), m in zip(groups, matches, strict=True):
            label = c.label()
            yes, missing = f"{label} ({kind})", f"{label} ({kind}; listing has no {c.attr})"
            boost = kind.endswith("boost")
            for j, v in enumerate(m.tolist()):
                if v > 0:
                    out[j].append(yes)
                elif v == 0 and not boost:
                    out[j].append(missing)
        return out

    @staticmethod
    def _row_matches(segs, seg_idx, rows, c: Constraint) -> np.ndarray:
        m = np.zeros(len(rows), dtype=np.int8)
        for s, (seg, _) in enumerate(segs):
            sel = np.flatnonzero(seg_idx == s)
            if len(sel):
                m[sel] = seg.attrs.row_matches(c, rows[sel])
        return m

    # lifecycle -----------------------------------------------------------------------------------

    def upsert(self, listings: Iterable[Listing | Mapping]) -> int:
        """Add or replace listings. Durable (logged and fsynced) and searchable when this returns."""
        items = [x if isinstance(x, Listing) else listing_from_dict(dict(x)) for x in listings]
        if not items:
            return 0
        check_unique(items)
        vecs = self.embedder.encode([dense_text(x) for x in items])
        hashes = content_hashes([dense_text(x) for x in items], self.embedder.name)
        rec = {
            "op": "upsert",
            "listings": [x.model_dump(mode="json", exclude_none=True) for x in items],
            "dim": int(vecs.shape[1]),
            "vectors": store.pack_vectors(vecs),
            "hashes": [int(h) for h in hashes],
        }
        with self._write_lock:
            self._log.append(rec)
            self._state = self._apply(self._state, [rec])
        self._maybe_compact()
        return len(items)

    def delete(self, ids: Iterable[str]) -> int:
        """Remove listings (sold). Durable and invisible to the next query; returns how many existed."""
        ids = [str(i) for i in ids]
        with self._write_lock:
            st = self._state
            present = [i for i in dict.fromkeys(ids) if self._live(st, i)]
            if not present:
                return 0
            rec = {"op": "delete", "ids": present}
            self._log.append(rec)
            self._state = self._apply(st, [rec])
        self._maybe_compact()
        return len(present)

    @staticmethod
    def _live(st: _State, i: str) -> bool:
        if i in st.delta_items:
            return True
        row = st.main.row_of.get(i)
        return row is not None and (st.alive is None or bool(st.alive[row]))

    def _apply(self, st: _State, records: Sequence[dict]) -> _State:
        """A new state with log records applied in order (the old state stays valid for running
        searches). The delta segment is built once, after the last record: replaying a log of N
        records at load costs one delta build, not N."""
        delta = dict(st.delta_items)
        kill: list[int] = []
        changed = False  # whether the delta's listings changed, so its segment must be rebuilt
        for rec in records:
            if rec["op"] == "upsert":
                vecs = store.unpack_vectors(rec["vectors"], rec["dim"])
                for d, v, h in zip(rec["listings"], vecs, rec["hashes"], strict=True):
                    listing = Listing.model_validate(d)
                    delta.pop(listing.id, None)
                    delta[listing.id] = (listing, v, int(h))
                    if listing.id in st.main.row_of:
                        kill.append(st.main.row_of[listing.id])
                changed = True
            elif rec["op"] == "delete":
                for i in rec["ids"]:
                    changed |= delta.pop(i, None) is not None
                    if i in st.main.row_of:
                        kill.append(st.main.row_of[i])
            else:
                raise IndexFormatError(f"unknown delta-log operation {rec['op']!r} in {self._log.path}")
        alive = st.alive
        if kill:
            alive = np.ones(len(st.main), dtype=bool) if alive is None else alive.copy()
            alive[kill] = False
        if len(st.main):
            dim = int(st.main.vectors.vectors.shape[1])
        else:  # an empty main segment: the delta vectors' own width
            dim = len(next(iter(delta.values()))[1]) if delta else 384
        seg = _delta_segment(list(delta.values()), st.main, dim) if changed else st.delta
        return _State(main=st.main, alive=alive, delta_items=delta, delta=seg)

    def _maybe_compact(self) -> None:
        st = self._state
        pending = len(st.delta_items) + (0 if st.alive is None else int((~st.alive).sum()))
        if pending >= self.auto_compact_at and not self._compact_lock.locked():
            self.compact(background=True)

    @property
    def pending_changes(self) -> int:
        """Upserted plus deleted listings not yet folded into the main segment."""
        st = self._state
        return len(st.delta_items) + (0 if st.alive is None else int((~st.alive).sum()))

    def compact(self, *, background: bool = False) -> threading.Thread | None:
        """Fold the delta and deletions into a new on-disk generation (no re-embedding).

        Searches and writes continue meanwhile; writes made during compaction are carried over.
        With background=True, runs in a thread and returns it.
        """
        if background:
            t = threading.Thread(target=self.compact, name="preloved-compact", daemon=True)
            self._compact_thread = t
            t.start()
            return t
        with self._compact_lock:
            with self._write_lock:
                st = self._state
                done = self._log.records
                if not self.pending_changes:
                    return None
            main = st.main
            rows = np.arange(len(main)) if st.alive is None else np.flatnonzero(st.alive)
            listings = [main.listing(int(r)) for r in rows] + [x[0] for x in st.delta_items.values()]
            raws = [main.raw(int(r)) for r in rows] + [
                (x[0].model_dump_json(exclude_none=True) + "\n").encode("utf-8") for x in st.delta_items.values()
            ]
            dim = int(main.vectors.vectors.shape[1])
            dvec = [x[1] for x in st.delta_items.values()]
            vectors = np.concatenate(
                [
                    np.asarray(main.vectors.vectors[rows]),
                    np.stack(dvec) if dvec else np.zeros((0, dim), np.float32),
                ]
            )
            hashes = np.concatenate(
                [
                    np.asarray(main.hashes[rows]),
                    np.asarray([x[2] for x in st.delta_items.values()], dtype=np.uint64),
                ]
            )
            gen_name = store.next_generation(self.root)
            tmp = self.root / f".{gen_name}.tmp"
            try:
                meta = _write_generation(
                    tmp,
                    listings,
                    raws,
                    vectors,
                    hashes,
                    ann_threshold=self.ann_threshold,
                    hnsw_m=self.hnsw_m,
                    ef_construction=self.ef_construction,
                    k1=main.bm25.stats.k1,
                    b=main.bm25.stats.b,
                    epsilon=self.manifest.get("epsilon", 0.25),
                )
                os.rename(tmp, self.root / gen_name)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            new_main = _load_segment(self.root / gen_name, meta, self.config.ef_search, prefault=self.prefault)
            with self._write_lock:
                later = self._log.read()[done:]
                new_log = store.DeltaLog(self.root / gen_name / store.DELTA_LOG)
                for rec in later:
                    new_log.append(rec)
                new_state = self._apply(_State(main=new_main, alive=None, delta_items={}, delta=None), later)
                manifest = {
                    **self.manifest,
                    **meta,
                    "generation": gen_name,
                    "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                }
                store.write_atomic(self.root / store.MANIFEST, json.dumps(manifest, indent=1).encode("utf-8"))
                self.manifest = manifest
                self._log = new_log
                self._state = new_state
            store.remove_stale(self.root, keep=gen_name)
            logger.info(
                "compacted %s into %s (%d listings, %d later changes)",
                self.root,
                gen_name,
                len(listings),
                len(later),
            )
        return None

    def wait_for_compaction(self, timeout: float | None = None) -> None:
        t = self._compact_thread
        if t is not None:
            t.join(timeout)

    def listings(self) -> Iterable[Listing]:
        """Every live listing (main segment first, then the delta)."""
        st = self._state
        for r in range(len(st.main)):
            if st.alive is None or st.alive[r]:
                yield st.main.listing(r)
        for item in st.delta_items.values():
            yield item[0]


__all__ = ["Index", "SearchConfig", "STAGES"]
