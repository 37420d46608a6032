"""Fixtures for the service tests: a real pipeline over the 20-listing corpus, built once per
session; an app per test over a private copy of the index (writes don't leak between tests);
a real uvicorn server on 127.0.0.1 for the browser and concurrency tests."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from svc_support import API_KEY, LiveServer, copy_pipeline_with

from preloved.pipeline import SearchPipeline, load_pipeline
from preloved.settings import Settings


@pytest.fixture(scope="session")
def service_index_dir(tmp_path_factory, tiny_catalogue_path) -> Path:
    from retrieval import Index, read_catalogue

    out = tmp_path_factory.mktemp("service") / "index"
    Index.build(read_catalogue(tiny_catalogue_path), out, show_progress=False)
    return out


@pytest.fixture(scope="session")
def service_settings(service_index_dir, tmp_path_factory) -> Settings:
    return Settings(api_key=API_KEY, index_dir=service_index_dir,
                    cache_dir=tmp_path_factory.mktemp("service-cache"))


@pytest.fixture(scope="session")
def base_pipeline(service_settings) -> SearchPipeline:
    """Loaded once: the real extractor, index and reranker (without a reranker when none is
    exported yet: the tests that need one then skip, saying so)."""
    from rerank import RerankerNotFoundError

    try:
        return load_pipeline(service_settings, service_settings.index_dir)
    except RerankerNotFoundError as e:
        warnings.warn(f"service tests run without a reranker: {e}", stacklevel=1)
        return load_pipeline(service_settings, service_settings.index_dir, with_reranker=False)


@pytest.fixture
def needs_reranker(base_pipeline) -> None:
    if base_pipeline.reranker is None:
        pytest.skip("no reranker exported at settings.reranker_path (models/reranker)")


@pytest.fixture
def pipeline(base_pipeline, tmp_path) -> SearchPipeline:
    return copy_pipeline_with(base_pipeline, tmp_path / "index")


@pytest.fixture
def strict_pipeline(base_pipeline, tmp_path) -> SearchPipeline:
    """Confident attributes read from the query are hard filters (brand and colour too, which the
    default config only boosts), kept while one listing passes (the default relaxes below 10)."""
    return copy_pipeline_with(base_pipeline, tmp_path / "strict-index", min_results=1,
                              filter_attributes=("brand", "category", "colour", "size", "gender", "condition",
                                                 "price"))


@pytest.fixture
def client(service_settings, pipeline) -> Iterator[TestClient]:
    from service import create_app

    with TestClient(create_app(service_settings, pipeline)) as c:
        yield c


@pytest.fixture
def auth() -> dict[str, str]:
    return {"X-API-Key": API_KEY}


@pytest.fixture
def live_server(service_settings, pipeline) -> Iterator[LiveServer]:
    from service import create_app

    with LiveServer(create_app(service_settings, pipeline)) as server:
        yield server
