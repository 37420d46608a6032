from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "tests" / "data" / "tiny_catalogue.jsonl"


@pytest.fixture(scope="session")
def embedder():
    from retrieval import Embedder

    e = Embedder(device="cpu")
    e.encode(["warm up"])
    return e


@pytest.fixture(scope="session")
def tiny_listings():
    from retrieval import read_catalogue

    return read_catalogue(TINY)


@pytest.fixture(scope="session")
def tiny_index_dir(tmp_path_factory, embedder, tiny_listings):
    from retrieval import Index

    out = tmp_path_factory.mktemp("tiny") / "index"
    Index.build(tiny_listings, out, embedder=embedder, show_progress=False)
    return out


@pytest.fixture()
def tiny_index(tiny_index_dir, embedder):
    """A fresh read-only view of the shared tiny index (do not write to it)."""
    from retrieval import Index

    return Index.load(tiny_index_dir, embedder=embedder)


@pytest.fixture()
def writable_index(tmp_path, embedder, tiny_listings, tiny_index_dir):
    """A private copy of the tiny index for lifecycle tests."""
    import shutil

    from retrieval import Index

    out = tmp_path / "index"
    shutil.copytree(tiny_index_dir, out)
    return Index.load(out, embedder=embedder)
