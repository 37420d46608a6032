"""The command-line contracts, run as a user runs them: subprocesses of the installed scripts."""

from __future__ import annotations

import json
import math
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


def test_eval_scores_your_own_judgments_over_your_own_index(cli_index, tmp_path):
    judgments = tmp_path / "judged.jsonl"
    judgments.write_text("\n".join(json.dumps(r) for r in [
        {"query": "black nike trainers", "id": "1", "gain": 1},
        {"query": "black nike trainers", "id": "2", "label": "S"},  # ESCI's letters read as their gains
        {"query": "black nike trainers", "id": "999", "gain": 1},  # not in the index: stays in the ideal
        {"query": "red dress", "id": 9, "label": "E"},
        {"query": "red dress", "id": "12", "gain": 0},
        {"query": "green wellies", "id": "3", "label": "I"},  # no positive gain: left out, counted
    ]) + "\n")
    out = tmp_path / "report.json"
    r = run("preloved", "eval", "--judgments", str(judgments), "--index", str(cli_index), "--stages", "bm25,hybrid",
            "--out", str(out))
    assert r.returncode == 0, r.stderr
    report = json.loads(out.read_text())
    assert (report["queries"], report["left_out_queries"], report["judged_not_in_index"]) == (2, 1, 1)
    assert report["products"] == 20 and out.with_suffix(".png").is_file()
    hybrid = report["stages"]["hybrid"]
    # "red dress" finds listing 9 first (NDCG 1); the trainers find 1 then 2, and never the 999 the ideal holds
    best_trainers = (1 + 0.1 / math.log2(3)) / (1 + 1 / math.log2(3) + 0.1 / 2)
    assert hybrid["ndcg@10"] == pytest.approx((1 + best_trainers) / 2)
    assert hybrid["recall@100"] == pytest.approx((2 / 3 + 1) / 2)
    assert set(report["stages"]["bm25"]["vs_hybrid"]) == {"mean_diff", "ci95", "p"}
    assert report["per_query_ndcg@10"]["red dress"]["hybrid"] == 1.0
    assert report["per_query_ndcg@10"]["black nike trainers"]["hybrid"] == pytest.approx(best_trainers, abs=1e-4)
    assert "judged.jsonl: 2 queries, 20 products" in r.stdout


@pytest.mark.parametrize(("rows", "args", "error"), [
    ('{"query": "red dress", "id": "9", "gain": 1}\n{"query": "red dress", "id": "9", "gain": 0.5}\n', (),
     "judged.jsonl:2: ('red dress', '9') was judged 1.0 on line 1 and 0.5 here"),
    ('{"query": "red dress", "id": "9", "gain": -1}\n', (), "judged.jsonl:1: gain -1 is not a finite number >= 0"),
    ('{"query": "red dress", "id": "9", "label": "great"}\n', (), "judged.jsonl:1: needs a gain"),
    ('{"query": "red dress", "gain": 1}\n', (), 'judged.jsonl:1: needs the judged listing\'s "id"'),
    ('{"query": "red dress", "id": "9", "gain": 1}\nnot json\n', (), "judged.jsonl:2: bad JSON"),
    ('{"query": "red dress", "id": "9", "label": "I"}\n', (), "no query has a judged listing with a gain above 0"),
    ('{"query": "red dress", "id": "9", "gain": 1}\n', ("--split", "dev"), "--split is ESCI's"),
    ('{"query": "red dress", "id": "9", "gain": 1}\n', ("--stages", "hybrid,bert"), "choose from bm25"),
])
def test_eval_names_the_line_of_a_bad_judgment(cli_index, tmp_path, rows, args, error):
    judgments = tmp_path / "judged.jsonl"
    judgments.write_text(rows)
    r = run("preloved", "eval", "--judgments", str(judgments), "--index", str(cli_index), "--stages", "bm25", *args)
    assert r.returncode == 2 and error in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_eval_reads_judgments_as_csv(tmp_path):
    from preloved.evaluation import JudgmentsError, read_judgments

    path = tmp_path / "judged.csv"  # as a spreadsheet saves it: a byte-order mark, a quoted comma
    path.write_text('\ufeffquery,id,label\nred dress,9,E\n"jeans, blue",4,0.5\nred dress,12,C\n', encoding="utf-8")
    assert read_judgments(path) == {"red dress": {"9": 1.0, "12": 0.01}, "jeans, blue": {"4": 0.5}}
    path.write_text("query,id,gain\nred dress,9,1\nred dress,,1\n")
    with pytest.raises(JudgmentsError, match=r"judged.csv:3: needs the judged listing's \"id\""):
        read_judgments(path)
    path.write_bytes(b"query,id,gain\nrobe de soir\xe9e,9,1\n")  # Latin-1, not UTF-8
    with pytest.raises(JudgmentsError, match="not UTF-8 text"):
        read_judgments(path)


def _report(path: Path, per_query: dict) -> Path:
    path.write_text(json.dumps({"name": path.stem, "per_query_ndcg@10": per_query}))
    return path


def test_compare_says_what_a_change_won_and_lost_per_stage(tmp_path):
    before = _report(tmp_path / "before.json", {
        "caphalon pot": {"hybrid": 0.0, "rerank": 0.1}, "red dress": {"hybrid": 1.0, "rerank": 1.0},
        "cosas de escritorio": {"hybrid": 0.5, "rerank": 0.6}, "only before": {"hybrid": 1.0, "rerank": 1.0}})
    after = _report(tmp_path / "after.json", {
        "caphalon pot": {"hybrid": 0.8, "rerank": 0.9}, "red dress": {"hybrid": 1.0, "rerank": 1.0},
        "cosas de escritorio": {"hybrid": 0.3, "rerank": 0.5}})
    out = tmp_path / "cmp.json"
    r = run("preloved", "compare", str(before), str(after), "--top", "1", "--out", str(out))
    assert r.returncode == 0, r.stderr
    cmp = json.loads(out.read_text())
    assert (cmp["queries"], cmp["left_out"]) == (3, 1)
    rerank = cmp["stages"]["rerank"]
    assert rerank["before"] == pytest.approx(1.7 / 3) and rerank["after"] == pytest.approx(2.4 / 3)
    assert rerank["vs_before"]["mean_diff"] == pytest.approx(0.7 / 3)
    assert (rerank["better"], rerank["worse"]) == (1, 1)
    assert [m["query"] for m in rerank["gains"]] == ["caphalon pot"]
    assert [m["query"] for m in rerank["losses"]] == ["cosas de escritorio"]
    assert "rerank, biggest gains:\n  +0.800  0.100 -> 0.900  caphalon pot" in r.stdout
    plot = out.with_suffix(".png")  # each query a point, before against after, per stage
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 10_000


@pytest.mark.parametrize(("after", "error"), [
    (None, "report not found"),
    ("not json", "not a JSON report"),
    ({"name": "old"}, "holds no per-query scores"),
    ({"per_query_ndcg@10": {"another query": {"hybrid": 1.0}}}, "share no query"),
])
def test_compare_refuses_reports_it_cannot_pair(tmp_path, after, error):
    before = _report(tmp_path / "before.json", {"red dress": {"hybrid": 1.0}})
    path = tmp_path / "after.json"
    if after is not None:
        path.write_text(after if isinstance(after, str) else json.dumps(after))
    r = run("preloved", "compare", str(before), str(path))
    assert r.returncode == 2 and error in r.stderr and "Traceback" not in r.stderr, r.stderr
