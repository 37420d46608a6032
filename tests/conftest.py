"""Shared fixtures: the 20-listing corpus and its real index, built once per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
TINY_CATALOGUE = ROOT / "tests" / "data" / "tiny_catalogue.jsonl"


@pytest.fixture(scope="session")
def tiny_catalogue_path() -> Path:
    return TINY_CATALOGUE
