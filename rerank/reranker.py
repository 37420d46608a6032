"""The serving reranker: a fine-tuned cross-encoder (torch or ONNX int8), fused with retrieval scores."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Literal

import numpy as np

from qu.onnx_session import int8_session
from rerank._fusion import fuse
from rerank._text import listing_text
from retrieval.types import Hit, Listing

logger = logging.getLogger(__name__)
RERANKER_CONFIG = "preloved_reranker.json"
TRAIN_COMMAND = "preloved train-reranker --config rerank/configs/default.json && python -m rerank.export"
Backend = Literal["auto", "torch", "onnx"]
MAX_TEXT_CHARS = 2000  # longer texts are cut before tokenising (the model reads max_length tokens anyway)


class RerankerNotFoundError(FileNotFoundError):
    def __init__(self, path: Path, reason: str):
        super().__init__(f"no reranker at {path} ({reason}); train and export one with: {TRAIN_COMMAND}")


class _OnnxScorer:
    """onnxruntime session + fast tokenizer: raw logits for (query, text) pairs, no optimum needed."""

    def __init__(self, folder: Path, file_name: str, max_length: int, threads: int | None, spin: bool = True):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # spinning idle pool threads answer one query faster, but burn the cores concurrent searches need
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        if threads:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        self.session = int8_session(folder / file_name, opts)  # the same scores on every CPU
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tok.enable_truncation(max_length=max_length, strategy="longest_first")
        self.tok.enable_padding(
            pad_id=self.tok.token_to_id("[PAD]") or 0
        )  # dynamic: pad to the batch's longest

    def __call__(self, query: str, texts: Sequence[str]) -> np.ndarray:
        enc = self.tok.encode_batch([(query, t) for t in texts])
        feed = {
            "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64),
        }
        out = self.session.run(None, {k: v for k, v in feed.items() if k in self.inputs})[0]
        return np.asarray(out, dtype=np.float64).reshape(-1)


class _TorchScorer:
    def __init__(self, folder: Path, max_length: int, device: str | None, threads: int | None):
        import torch
        from sentence_transformers.cross_encoder import CrossEncoder

        if threads:
            torch.set_num_threads(threads)
        self.model = CrossEncoder(str(folder), max_length=max_length, device=device)
        self.model.eval()

    def __call__(self, query: str, texts: Sequence[str]) -> np.ndarray:
        import torch

        with torch.inference_mode():
            out = self.model.predict(
                [(query, t) for t in texts],
                batch_size=len(texts),
                activation_fn=torch.nn.Identity(),
                show_progress_bar=False,
                convert_to_numpy=True,
            )
        return np.asarray(out, dtype=np.float64).reshape(-1)


class CrossEncoderReranker:
    """Reranks hits with a fine-tuned cross-encoder fused with the retrieval scores (weights from the folder).

    `path` is a folder written by `rerank.train` (torch weights) or `rerank.export` (ONNX int8).
    Scores are cached by (model, query, listing id, listing text) in a bounded LRU. `spin_threads`
    lets the ONNX session's idle threads spin (onnxruntime's default, the fastest for one query at a
    time); `load_reranker` takes it from settings.rerank_spin_threads, off for a server.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        backend: Backend = "auto",
        device: str | None = None,
        batch_size: int = 64,
        threads: int | None = None,
        cache_size: int = 50_000,
        max_length: int | None = None,
        fusion_weights: dict[str, float] | None = None,
        spin_threads: bool = True,
    ):
        self.path = Path(path)
        cfg_path = self.path / RERANKER_CONFIG
        if not self.path.is_dir():
            raise RerankerNotFoundError(self.path, "folder missing")
        if not cfg_path.is_file():
            raise RerankerNotFoundError(self.path, f"{RERANKER_CONFIG} missing")
        self.config = json.loads(cfg_path.read_text())
        self.text_format = self.config.get("text_format", "title_brand_colour")
        self.max_length = int(max_length or self.config.get("max_length", 48))
        self.fusion_weights = dict(
            self.config.get("fusion_weights", {}) if fusion_weights is None else fusion_weights
        )
        onnx_file = self.config.get("onnx_file")
        has_torch = (self.path / "model.safetensors").is_file()
        if backend == "auto":
            backend = "onnx" if onnx_file and (self.path / onnx_file).is_file() else "torch"
        if backend == "onnx":
            if not onnx_file or not (self.path / onnx_file).is_file():
                raise RerankerNotFoundError(self.path, f"ONNX file {onnx_file!r} missing")
            self._score = _OnnxScorer(self.path, onnx_file, self.max_length, threads, spin_threads)
        elif backend == "torch":
            if not has_torch:
                raise RerankerNotFoundError(self.path, "model.safetensors missing")
            self._score = _TorchScorer(self.path, self.max_length, device, threads)
        else:
            raise ValueError(f"unknown backend {backend!r}: choose from auto, torch, onnx")
        self.backend = backend
        self.batch_size = batch_size
        self.model_id = hashlib.sha1(
            json.dumps(self.config, sort_keys=True).encode() + str(self.path.resolve()).encode()
        ).hexdigest()[:12]
        self._cache: OrderedDict[tuple, float] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def text(self, listing: Listing) -> str:
        return listing_text(listing, self.text_format)[:MAX_TEXT_CHARS]

    def score(
        self,
        query: str,
        texts: Sequence[str],
        ids: Sequence[str] | None = None,
        batch_size: int | None = None,
    ) -> np.ndarray:
        """Raw cross-encoder scores of (query, text) pairs, batched by slicing, cached when ids are given."""
        bs = batch_size or self.batch_size
        out = np.zeros(len(texts))
        keys = (
            [(self.model_id, query, i, t) for i, t in zip(ids, texts, strict=True)]
            if ids is not None
            else None
        )
        todo = list(range(len(texts)))
        if keys is not None and self._cache_size:
            with self._lock:
                todo = []
                for n, k in enumerate(keys):
                    if k in self._cache:
                        out[n] = self._cache[k]
                        self._cache.move_to_end(k)
                    else:
                        todo.append(n)
        for s in range(0, len(todo), bs):
            part = todo[s : s + bs]
            out[part] = self._score(query, [texts[n] for n in part])
        if keys is not None and self._cache_size and todo:
            with self._lock:
                for n in todo:
                    self._cache[keys[n]] = float(out[n])
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return out

    def rerank(
        self, query: str, hits: Sequence[Hit], listings: Sequence[Listing], use_cache: bool = True
    ) -> list[Hit]:
        """Hits reordered by the fused score; duplicate ids keep their first (best-retrieved) occurrence.
        `use_cache=False` scores every pair afresh (and stores nothing)."""
        if len(hits) != len(listings):
            raise ValueError(
                f"rerank needs one listing per hit; got {len(hits)} hits and {len(listings)} listings"
            )
        seen: set[str] = set()
        pairs = []
        for h, lst in zip(hits, listings, strict=True):
            if h.id != lst.id:
                raise ValueError(f"hit {h.id!r} was given the listing {lst.id!r}: pass listings in hit order")
            if h.id not in seen:
                seen.add(h.id)
                pairs.append((h, lst))
        if not pairs:
            return []
        uh = [h for h, _ in pairs]
        ce = self.score(query, [self.text(lst) for _, lst in pairs], ids=[h.id for h in uh] if use_cache else None)
        final = fuse(ce, uh, self.fusion_weights) if self.fusion_weights else ce
        order = np.argsort(-final, kind="stable")
        return [
            replace(uh[i], score=float(final[i]), scores={**uh[i].scores, "rerank": float(ce[i])})
            for i in order
        ]


def load_reranker(settings=None, **kwargs) -> CrossEncoderReranker:
    """The reranker at `settings.reranker_path` (default models/reranker), loaded once by the caller."""
    if settings is None:
        from preloved.settings import get_settings

        settings = get_settings()
    kwargs.setdefault("threads", getattr(settings, "threads", None))
    kwargs.setdefault("max_length", getattr(settings, "rerank_max_length", None))
    kwargs.setdefault("spin_threads", getattr(settings, "rerank_spin_threads", False))
    return CrossEncoderReranker(settings.reranker_path, **kwargs)
