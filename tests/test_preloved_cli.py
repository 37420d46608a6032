"""The command-line contracts, run as a user runs them: subprocesses of the installed scripts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / args[0]), *args[1:]], input=stdin, capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


@pytest.fixture(scope="module")
def cli_index(tmp_path_factory, tiny_catalogue_path) -> Path:
    out = tmp_path_factory.mktemp("cli") / "idx"
    r = run("preloved", "index", "--catalog", str(tiny_catalogue_path), "--out", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["listings"] == 20
    return out


def test_help_is_instant():
    r = run("preloved", "--help")
    assert r.returncode == 0 and "search" in r.stdout and "serve" in r.stdout


@pytest.mark.parametrize("stages", ["hybrid", "rerank"])  # bm25 and dense: tests/test_pipeline.py
def test_search_jsonl_one_line_per_query(cli_index, stages):
    queries = ["black nike trainers", "levis 501 jeans w32", "", '{"query": "red dress"}']
    r = run("preloved", "search", "--index", str(cli_index), "--input", "-", "--k", "5", "--stages", stages,
            stdin="\n".join(queries) + "\n")
    assert r.returncode == 0, r.stderr
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert [o["query"] for o in lines] == ["black nike trainers", "levis 501 jeans w32", "", "red dress"]
    assert "error" in lines[2] and lines[2]["results"] == []
    first = lines[0]
    assert len(first["results"]) == 5
    assert {"id", "score", "title"} <= set(first["results"][0])
    assert first["results"][0]["id"] in {"1", "2"}  # the Nike black trainers / running shoes
    assert first["parsed"]["brand"] in ("nike", ["nike"])
    assert lines[3]["results"][0]["id"] == "9"  # Zara red floral midi dress


def test_search_debug_says_what_filtered_and_why_each_hit_ranks(cli_index):
    r = run("preloved", "search", "--index", str(cli_index), "--k", "3", "--stages", "hybrid", "--debug",
            "black nike trainers")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    # two trainers in the tiny catalogue are too few for k=3: the category filter is relaxed to a boost
    assert out["applied_filters"] == {} and out["relaxed_filters"] == ["category"]
    assert out["rerank_depth"] is None  # hybrid: no reranker ran
    top = out["results"][0]
    assert {"bm25", "dense"} <= set(top["scores"]) and top["matched"]


def test_search_errors_are_clear(cli_index, tmp_path):
    r = run("preloved", "search", "--index", str(tmp_path / "missing"), "jeans")
    assert r.returncode == 2 and "index folder not found" in r.stderr and "Traceback" not in r.stderr
    r = run("preloved", "search", "--index", str(cli_index), "--k", "0", "--stages", "bm25", "jeans")
    assert r.returncode == 2 and "out of range" in r.stderr
    r = run("preloved", "search", "--index", str(cli_index), "--stages", "bm25", "x" * 600)
    assert r.returncode == 2 and "512" in r.stderr


def test_index_bad_catalogue_names_the_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "1", "title": "ok"}\n{"id": "2", "title": \n')
    r = run("preloved", "index", "--catalog", str(bad), "--out", str(tmp_path / "idx"), "--quiet")
    assert r.returncode == 2 and "line 2" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "idx").exists()


def test_index_unknown_filter_attribute_is_a_clear_error(tmp_path, tiny_catalogue_path):
    r = run("preloved", "index", "--catalog", str(tiny_catalogue_path), "--out", str(tmp_path / "idx"), "--quiet",
            "--filter-attributes", "brand", "vibe")
    assert r.returncode == 2 and "unknown filter attribute(s) vibe" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "idx").exists()


def test_a_demo_catalogue_an_older_builder_wrote_is_kept_with_a_warning(tmp_path, tiny_catalogue_path, caplog):
    """The demo index may hold listings written through the API, so serving never replaces it; it says
    how to rebuild where an older preloved built the catalogue under it."""
    import logging
    import shutil

    from preloved.catalogue import BUILDER_VERSION, builder_version
    from preloved.cli import DEMO_FILTER_ATTRIBUTES, ensure_demo_index
    from preloved.settings import Settings
    from retrieval import Index, read_catalogue

    cat = tmp_path / "catalogue" / "catalogue.jsonl"
    cat.parent.mkdir()
    shutil.copy(tiny_catalogue_path, cat)
    assert builder_version(cat.parent) is None
    (cat.parent / "card.json").write_text(json.dumps({"listings": 20}))  # before versions were recorded
    assert builder_version(cat.parent) == 1
    settings = Settings(index_dir=tmp_path / "index", catalogue_path=cat, data_dir=tmp_path / "no-data",
                        cache_dir=tmp_path / "cache")
    Index.build(read_catalogue(cat), settings.index_dir, show_progress=False)
    manifest = (settings.index_dir / "manifest.json").read_bytes()
    with caplog.at_level(logging.WARNING, logger="preloved"):
        assert ensure_demo_index(settings) == settings.index_dir
    assert f"builder 1, now {BUILDER_VERSION}" in caplog.text and "`preloved catalogue`" in caplog.text
    assert (settings.index_dir / "manifest.json").read_bytes() == manifest  # kept as it was
    caplog.clear()
    (cat.parent / "card.json").write_text(json.dumps({"listings": 20, "builder_version": BUILDER_VERSION}))
    with caplog.at_level(logging.WARNING, logger="preloved"):
        ensure_demo_index(settings)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    # an index built with other filters than the demo's: said too
    Index.build(read_catalogue(cat), settings.index_dir, show_progress=False, filter_attributes=("brand",))
    with caplog.at_level(logging.WARNING, logger="preloved"):
        ensure_demo_index(settings)
    assert "filters brand, now brand, category" in caplog.text
    Index.build(read_catalogue(cat), settings.index_dir, show_progress=False, filter_attributes=DEMO_FILTER_ATTRIBUTES)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="preloved"):
        ensure_demo_index(settings)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_demo_index_of_another_text_version_is_moved_aside_and_rebuilt(tmp_path, tiny_catalogue_path, caplog):
    """An index tokenised by an older preloved does not load; serving the demo moves it aside whole (it may
    hold API writes) and builds the demo index afresh, saying so."""
    import logging
    import shutil

    from preloved.catalogue import BUILDER_VERSION
    from preloved.cli import DEMO_FILTER_ATTRIBUTES, ensure_demo_index
    from preloved.settings import Settings
    from retrieval import Index, read_catalogue
    from retrieval.text import TEXT_VERSION

    cat = tmp_path / "catalogue" / "catalogue.jsonl"
    cat.parent.mkdir()
    shutil.copy(tiny_catalogue_path, cat)
    (cat.parent / "card.json").write_text(json.dumps({"listings": 20, "builder_version": BUILDER_VERSION}))
    settings = Settings(index_dir=tmp_path / "index", catalogue_path=cat, data_dir=tmp_path / "no-data",
                        cache_dir=tmp_path / "cache")
    Index.build(read_catalogue(cat), settings.index_dir, show_progress=False, filter_attributes=DEMO_FILTER_ATTRIBUTES)
    manifest = settings.index_dir / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "text_version": TEXT_VERSION - 1}))
    with caplog.at_level(logging.WARNING, logger="preloved"):
        assert ensure_demo_index(settings) == settings.index_dir
    aside = tmp_path / f"index.text-v{TEXT_VERSION - 1}"
    assert f"moved to {aside}" in caplog.text
    assert json.loads((aside / "manifest.json").read_text())["text_version"] == TEXT_VERSION - 1  # kept whole
    assert len(Index.load(settings.index_dir)) == 20  # rebuilt, and it loads
