"""On-disk layout of an index: a manifest naming the current generation folder, written atomically.

    <index>/manifest.json          {"format": ..., "format_version": 1, "generation": "gen-000001", ...}
    <index>/gen-000001/            ids.json, listings.jsonl (+ offsets), vectors.npy, hashes.npy,
                                   bm25_*.npy, attr_*.npy, hnsw.faiss (large catalogues), delta.log

Every file is written into a temporary name and renamed; the manifest is replaced last, so a
crash at any point leaves the previous generation in force.
"""

from __future__ import annotations

import base64
import json
import logging
import mmap
import os
import shutil
from pathlib import Path

import numpy as np

from retrieval.errors import IndexFormatError, IndexNotFoundError

logger = logging.getLogger(__name__)

FORMAT = "preloved.retrieval"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DELTA_LOG = "delta.log"


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def read_manifest(root: Path) -> dict:
    root = Path(root)
    if not root.is_dir():
        raise IndexNotFoundError(root, "no such folder")
    mp = root / MANIFEST
    if not mp.is_file():
        raise IndexNotFoundError(root, "no manifest.json")
    try:
        man = json.loads(mp.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise IndexFormatError(f"{mp} is not valid JSON ({e.msg})") from None
    if man.get("format") != FORMAT:
        raise IndexFormatError(f"{mp} is not a preloved retrieval index (format {man.get('format')!r})")
    if man.get("format_version") != FORMAT_VERSION:
        raise IndexFormatError(
            f"{mp} has format_version {man.get('format_version')!r}; this version reads "
            f"{FORMAT_VERSION}: rebuild the index with `preloved index`"
        )
    if not (root / man["generation"]).is_dir():
        raise IndexNotFoundError(root, f"generation folder {man['generation']} is missing")
    return man


def next_generation(root: Path) -> str:
    nums = [int(p.name[4:]) for p in root.glob("gen-*") if p.name[4:].isdigit()]
    return f"gen-{max(nums, default=0) + 1:06d}"


def remove_stale(root: Path, keep: str) -> None:
    """Delete generation folders other than `keep` and leftover temporary folders."""
    for p in root.iterdir():
        if p.is_dir() and p.name != keep and (p.name.startswith("gen-") or p.name.startswith(".gen-")):
            shutil.rmtree(p, ignore_errors=True)


def prefault(arr: np.ndarray, path: Path | None = None) -> None:
    """Bring every page of a (memory-mapped) array into this process now, so that queries do not
    page-fault on first touch: ask the kernel to read ahead (madvise, or fadvise on `path`), then
    read one byte per page. Pages of a mapped file stay shared with the page cache."""
    base, mm = arr, None
    while base is not None and mm is None:  # the np.memmap an ndarray view was taken from
        mm = getattr(base, "_mmap", None)
        base = getattr(base, "base", None)
    if mm is not None and hasattr(mmap, "MADV_WILLNEED"):
        try:
            mm.madvise(mmap.MADV_WILLNEED)
        except OSError:
            pass
    if path is not None and hasattr(os, "posix_fadvise"):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
        except OSError:
            pass
        finally:
            os.close(fd)
    a = np.asarray(arr)
    if not a.size or not a.flags.c_contiguous:
        return
    int(a.reshape(-1).view(np.uint8)[:: mmap.PAGESIZE].sum())  # a strided view: copies nothing


class ListingStore:
    """Listings kept as their JSON lines, read back by row through a memory map."""

    def __init__(self, path: Path, offsets: np.ndarray):
        self.path = path
        self.offsets = offsets
        self._f = open(path, "rb")
        size = os.fstat(self._f.fileno()).st_size
        self._mm = mmap.mmap(self._f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""

    @staticmethod
    def write(folder: Path, lines: list[bytes]) -> None:
        offsets = np.zeros(len(lines) + 1, dtype=np.int64)
        with open(folder / "listings.jsonl", "wb") as f:
            pos = 0
            for i, line in enumerate(lines):
                f.write(line)
                pos += len(line)
                offsets[i + 1] = pos
            f.flush()
            os.fsync(f.fileno())
        np.save(folder / "listings_offsets.npy", offsets)

    @classmethod
    def open(cls, folder: Path) -> ListingStore:
        return cls(folder / "listings.jsonl", np.load(folder / "listings_offsets.npy", mmap_mode="r"))

    def raw(self, row: int) -> bytes:
        return bytes(self._mm[int(self.offsets[row]) : int(self.offsets[row + 1])])


class DeltaLog:
    """Append-only, fsynced log of upserts and deletes since the generation was written."""

    def __init__(self, path: Path):
        self.path = path
        self.records = 0

    def read(self) -> list[dict]:
        if not self.path.exists():
            return []
        out = []
        data = self.path.read_bytes()
        good = 0
        for line in data.splitlines(keepends=True):
            if not line.endswith(b"\n"):
                logger.warning("%s: dropping a partial last record (%d bytes)", self.path, len(line))
                break
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                logger.warning("%s: dropping an unreadable record at byte %d", self.path, good)
                break
            good += len(line)
        if good != len(data):
            with open(self.path, "r+b") as f:
                f.truncate(good)
                os.fsync(f.fileno())
        self.records = len(out)
        return out

    def append(self, record: dict) -> None:
        line = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        with open(self.path, "ab") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        self.records += 1


def pack_vectors(v: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(v, dtype="<f4").tobytes()).decode("ascii")


def unpack_vectors(s: str, dim: int) -> np.ndarray:
    return np.frombuffer(base64.b64decode(s), dtype="<f4").reshape(-1, dim).astype(np.float32)
