"""Retrieval speed and memory at 10k, 100k and 1M listings (titles from the real catalogues).

    .venv/bin/python bench/retrieval_speed.py --sizes 10000 100000 1000000

Listings: the Fashion Product Images catalogue's 44k real titles (with their gender, article type
and colour); beyond that, titles recombined from three real ones (leading word of one, middle of
a second, last word of a third) with the attributes of their donors. Vectors (`--vectors real`,
the default): every title embedded by the MiniLM, as the index would for a marketplace, through a
persistent embedding cache, so only the first build at a size pays for it (1M: about 55 minutes
on 2 cores). `--vectors mixed` gives a recombined title the normalised mix of its donors' vectors
plus a little noise instead: fast, but those vectors crowd together and understate ANN recall.
Each size is built in one subprocess and
queried in a fresh one (resident memory measured there), with rank-bm25 timed on the same
corpus in a third. Writes bench/results/retrieval_speed.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
WORK = ROOT / "bench" / "results" / "tmp" / "speed"
SIZES_CHOICES = ("xs", "s", "m", "l", "xl", "uk 6", "uk 8", "uk 10", "w30", "w31", "w32", "one size")

import numpy as np  # noqa: E402


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def pct(xs: list[float]) -> dict:
    a = np.asarray(xs) * 1000
    return {
        "p50_ms": round(float(np.percentile(a, 50)), 3),
        "p95_ms": round(float(np.percentile(a, 95)), 3),
        "mean_ms": round(float(a.mean()), 3),
        "n": len(xs),
    }


def donors(limit: int = 12_000) -> list[dict]:
    """The first `limit` real titles (embedding all 44k took too long on the shared machine)."""
    rows = []
    with open(ROOT / "data" / "fashion-product-images" / "styles.csv", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            t = (r.get("productDisplayName") or "").strip()
            if t and len(rows) < limit:
                rows.append(
                    {
                        "title": t,
                        "gender": r["gender"],
                        "category": r["articleType"],
                        "colour": r["baseColour"],
                        "brand": t.split()[0],
                    }
                )
    return rows


def donor_vectors(rows: list[dict]) -> tuple[np.ndarray, float]:
    path = WORK / "donor_vectors.npy"
    meta = WORK / "donor_vectors.json"
    if path.exists() and meta.exists():
        return np.load(path), json.loads(meta.read_text())["titles_per_s"]
    import torch

    from retrieval import Embedder

    torch.set_num_threads(1)
    e = Embedder(device="cpu")
    t = time.perf_counter()
    v = e.encode([r["title"] for r in rows], show_progress=True)
    rate = len(rows) / (time.perf_counter() - t)
    WORK.mkdir(parents=True, exist_ok=True)
    np.save(path, v)
    meta.write_text(json.dumps({"titles_per_s": rate}))
    return v, rate


def make_catalogue(n: int, rows: list[dict], vecs: np.ndarray, seed: int = 0):
    from retrieval import Listing

    rng = np.random.default_rng(seed)
    listings, out_vecs = [], np.empty((n, vecs.shape[1]), dtype=np.float32)
    m = len(rows)
    sizes = rng.integers(0, len(SIZES_CHOICES), n)
    prices = rng.integers(3, 300, n)
    for i in range(n):
        if i < m:
            r = rows[i]
            title, v = r["title"], vecs[i]
            attrs = {k: r[k] for k in ("brand", "gender", "category", "colour")}
        else:
            a, b, c = rng.integers(0, m, 3)
            ta, tb, tc = rows[a]["title"].split(), rows[b]["title"].split(), rows[c]["title"].split()
            title = " ".join([ta[0], *tb[1:-1], tc[-1]])
            v = 0.4 * vecs[a] + 0.3 * vecs[b] + 0.3 * vecs[c] + rng.normal(0, 0.02, vecs.shape[1])
            v = v / np.linalg.norm(v)
            attrs = {
                "brand": rows[a]["brand"],
                "gender": rows[b]["gender"],
                "colour": rows[b]["colour"],
                "category": rows[c]["category"],
            }
        listings.append(
            Listing(
                id=f"L{i}",
                title=title,
                size=SIZES_CHOICES[sizes[i]],
                price=float(prices[i]),
                **{k: v_ for k, v_ in attrs.items() if v_},
            )
        )
        out_vecs[i] = v
    return listings, out_vecs


def queries(n: int) -> list[str]:
    qs = []
    for name in ("fashion_test", "fashion_dev"):
        qs += [json.loads(x)["query"] for x in open(ROOT / "data" / "queryner" / f"{name}.jsonl", encoding="utf-8")]
    from retrieval.text import tokenize

    qs = [q for q in dict.fromkeys(qs) if tokenize(q)]
    return qs[:n]


def phase_build(n: int, ann_threshold: int, vectors: str = "real") -> dict:
    """Build the index of n listings. `vectors="real"` embeds every title with the MiniLM, as a
    marketplace would, through a persistent embedding cache (WORK/embed_cache) so that a rerun
    embeds nothing; `"mixed"` gives recombined titles their donors' mixed vectors instead (fast, but
    such vectors crowd together and understate ANN recall)."""
    import shutil

    from retrieval import Embedder, Index
    from retrieval.dense import EmbeddingCache, content_hashes
    from retrieval.text import dense_text

    rows = donors()
    vecs, rate = donor_vectors(rows)
    t = time.perf_counter()
    listings, lv = make_catalogue(n, rows, vecs)
    gen_s = time.perf_counter() - t
    e = Embedder(device="cpu")
    if vectors == "real":
        del lv
        cache_dir = WORK / "embed_cache"
    else:
        cache_dir = WORK / f"cache_{n}"
        shutil.rmtree(cache_dir, ignore_errors=True)
        EmbeddingCache(cache_dir).put(content_hashes([dense_text(x) for x in listings], e.name), lv)
        del lv
    out = WORK / f"index_{n}"
    shutil.rmtree(out, ignore_errors=True)
    t = time.perf_counter()
    index = Index.build(
        listings, out, embedder=e, show_progress=vectors == "real", cache_dir=cache_dir, ann_threshold=ann_threshold
    )
    build_s = time.perf_counter() - t
    if vectors != "real":
        shutil.rmtree(cache_dir, ignore_errors=True)
    import resource

    size_mb = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 2**20
    return {
        "listings": n,
        "vectors": vectors,
        "make_catalogue_s": round(gen_s, 1),
        "build_s": round(build_s, 1),
        "embedded_in_build": index.last_build["embedded"],
        **(
            {}
            if vectors == "real"
            else {"embedding_titles_per_s_measured": round(rate, 1), "embedding_s_estimated": round(n / rate, 1)}
        ),
        "index_disk_mb": round(size_mb, 1),
        "build_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def phase_query(n: int, nq: int) -> dict:
    import faiss
    import torch

    torch.set_num_threads(1)
    faiss.omp_set_num_threads(1)
    from retrieval import Index
    from retrieval.text import tokenize

    rss0 = rss_mb()
    t = time.perf_counter()
    index = Index.load(WORK / f"index_{n}")
    load_s = time.perf_counter() - t
    qs = queries(nq)
    try:
        from qu import load_extractor

        extractor = load_extractor()
    except Exception as e:  # noqa: BLE001 - qu is another package; time without it when it cannot load
        print(f"qu not loadable ({e!r}); hybrid_with_qu is left out", file=sys.stderr)
        extractor = None
    main = index._state.main
    index.search(qs[0], k=100)  # warm up: loads the embedder
    if extractor:
        extractor.parse(qs[0])
    times: dict[str, list[float]] = {
        k: []
        for k in (
            "qu",
            "embed_query",
            "bm25_top100",
            "dense_top100",
            "hybrid_retrieval",
            "hybrid_with_qu",
            "hybrid_with_qu_overlapped",
            "exact_top100",
            "embed_query_cpu",
            "bm25_top100_cpu",
            "dense_top100_cpu",
            "hybrid_retrieval_cpu",
        )
    }
    recalls = []
    for q in qs:
        parsed = None
        if extractor:
            t = time.perf_counter()
            parsed = extractor.parse(q)
            times["qu"].append(time.perf_counter() - t)
        t, c = time.perf_counter(), time.thread_time()
        qv = index.embedder.encode_query(q)
        times["embed_query_cpu"].append(time.thread_time() - c)
        times["embed_query"].append(time.perf_counter() - t)
        terms = tokenize(q)
        t, c = time.perf_counter(), time.thread_time()
        main.bm25.top_k(terms, 100)
        times["bm25_top100_cpu"].append(time.thread_time() - c)
        times["bm25_top100"].append(time.perf_counter() - t)
        t, c = time.perf_counter(), time.thread_time()
        rows, _ = main.vectors.search(qv, 100)
        times["dense_top100_cpu"].append(time.thread_time() - c)
        times["dense_top100"].append(time.perf_counter() - t)
        index._qcache.clear()
        t, c = time.perf_counter(), time.thread_time()
        index.search(q, k=100, stage="hybrid", parsed=parsed)
        times["hybrid_retrieval_cpu"].append(time.thread_time() - c)
        dt = time.perf_counter() - t
        times["hybrid_retrieval"].append(dt)
        if extractor:
            times["hybrid_with_qu"].append(dt + times["qu"][-1])
            # as SearchPipeline runs it: the query embedded in a worker thread while qu parses
            t = time.perf_counter()
            vec = index.embed_query_async(q, use_cache=False)
            parsed = extractor.parse(q)
            index.search(q, k=100, stage="hybrid", parsed=parsed, query_vector=vec.result())
            times["hybrid_with_qu_overlapped"].append(time.perf_counter() - t)
    rss_serving = rss_mb()
    sweep = {}
    if main.vectors.hnsw is not None:  # recall of the ANN against exact search (touches every vector)
        from retrieval.dense import VectorSearch

        exact = []
        for q in qs:
            qv = index.embedder.encode_query(q)
            t = time.perf_counter()
            sc = np.asarray(main.vectors.vectors) @ qv
            ex = np.argpartition(-sc, 100)[:100]
            times["exact_top100"].append(time.perf_counter() - t)
            exact.append((qv, set(ex.tolist()), float(sc[ex].min()), sc))
        for ef in sorted({64, 128, 256, 512, 1024, main.vectors.ef_search}):
            vs = VectorSearch(main.vectors.vectors, main.vectors.hnsw, ef_search=ef)
            ts, strict, ties = [], [], []
            for qv, ex_ids, kth, sc in exact:
                t = time.perf_counter()
                rows, _ = vs.search(qv, 100)
                ts.append(time.perf_counter() - t)
                strict.append(len(ex_ids & set(rows.tolist())) / 100)
                # a hit scoring the same as the exact 100th (duplicate titles embed identically) is no miss
                ties.append(float(np.sum(sc[rows] >= kth - 1e-6)) / 100)
            sweep[ef] = {
                **pct(ts),
                "recall@100": round(float(np.mean(strict)), 4),
                "recall@100_ties_counted": round(float(np.mean(ties)), 4),
            }
            if ef == main.vectors.ef_search:
                recalls = strict
    out = {
        "listings": n,
        "queries": len(qs),
        "load_s": round(load_s, 2),
        "ann": main.vectors.hnsw is not None,
        "rss_mb_after_queries": round(rss_serving, 1),
        "rss_mb_after_recall_check": round(rss_mb(), 1),
        "rss_mb_before_load": round(rss0, 1),
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),
    }
    out.update({k: pct(v) for k, v in times.items() if v})
    if recalls:
        out["ann_recall@100_vs_exact"] = round(float(np.mean(recalls)), 4)
        out["ef_search"] = main.vectors.ef_search
        out["hnsw_m"] = int(main.vectors.hnsw.hnsw.nb_neighbors(1))
        out["ann_ef_search_sweep"] = sweep
    return out


def phase_reference(n: int, nq: int) -> dict:
    from rank_bm25 import BM25Okapi

    from retrieval import Index
    from retrieval.text import lexical_text, tokenize

    index = Index.load(WORK / f"index_{n}")
    docs = [tokenize(lexical_text(x)) for x in index.listings()]
    t = time.perf_counter()
    ref = BM25Okapi(docs)
    build_s = time.perf_counter() - t
    del docs
    qs = queries(nq)
    ts = []
    for q in qs:
        t = time.perf_counter()
        s = ref.get_scores(tokenize(q))
        np.argpartition(-s, 100)[:100]
        ts.append(time.perf_counter() - t)
    return {"rank_bm25_build_s": round(build_s, 1), "rank_bm25_top100": pct(ts)}


def phase_bm25_only(n: int, nq: int, nref: int) -> dict:
    """BM25 alone at size n (no vectors, no HNSW build): ours and rank-bm25 on the same corpus."""
    from rank_bm25 import BM25Okapi

    from retrieval.bm25 import SparseBM25
    from retrieval.text import lexical_text, tokenize

    rows = donors()
    vecs = np.zeros((len(rows), 1), dtype=np.float32)
    t = time.perf_counter()
    listings, _ = make_catalogue(n, rows, vecs)
    docs = [tokenize(lexical_text(x)) for x in listings]
    del listings
    prep_s = time.perf_counter() - t
    t = time.perf_counter()
    bm = SparseBM25.build(docs)
    build_s = time.perf_counter() - t
    qs = queries(nq)
    ts, tc = [], []
    for q in qs:
        terms = tokenize(q)
        t, c = time.perf_counter(), time.thread_time()
        bm.top_k(terms, 100)
        tc.append(time.thread_time() - c)
        ts.append(time.perf_counter() - t)
    t = time.perf_counter()
    ref = BM25Okapi(docs)
    ref_build = time.perf_counter() - t
    rs = []
    for q in qs[:nref]:
        t = time.perf_counter()
        np.argpartition(-ref.get_scores(tokenize(q)), 100)[:100]
        rs.append(time.perf_counter() - t)
    return {
        "listings": n,
        "prepare_s": round(prep_s, 1),
        "sparse_bm25_build_s": round(build_s, 1),
        "postings": int(len(bm.data)),
        "bm25_top100": pct(ts),
        "bm25_top100_cpu": pct(tc),
        "rank_bm25_build_s": round(ref_build, 1),
        "rank_bm25_top100": pct(rs),
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),
    }


def phase_ann_only(n: int, nq: int) -> dict:
    """The ANN alone at size n: HNSW over mixed donor vectors, timed and checked against exact search."""
    import faiss
    import torch

    from retrieval import Embedder
    from retrieval.dense import VectorSearch

    rows = donors()
    dv, _ = donor_vectors(rows)
    rng = np.random.default_rng(0)
    m = len(dv)
    vecs = np.empty((n, dv.shape[1]), dtype=np.float32)
    vecs[: min(n, m)] = dv[: min(n, m)]
    for s in range(m, n, 100_000):
        e = min(n, s + 100_000)
        idx = rng.integers(0, m, (e - s, 3))
        v = 0.4 * dv[idx[:, 0]] + 0.3 * dv[idx[:, 1]] + 0.3 * dv[idx[:, 2]]
        v += rng.normal(0, 0.02, v.shape).astype(np.float32)
        vecs[s:e] = v / np.linalg.norm(v, axis=1, keepdims=True)
    t = time.perf_counter()
    hnsw = VectorSearch.build_hnsw(vecs, m=16, ef_construction=128)
    build_s = time.perf_counter() - t
    faiss.omp_set_num_threads(1)
    torch.set_num_threads(1)
    e = Embedder(device="cpu")
    qv = e.encode(queries(nq))
    exact, ex_t = [], []
    for q in qv:
        t = time.perf_counter()
        sc = vecs @ q
        top = np.argpartition(-sc, 100)[:100]
        ex_t.append(time.perf_counter() - t)
        exact.append((set(top.tolist()), float(sc[top].min()), sc))
    out = {
        "listings": n,
        "hnsw_build_s": round(build_s, 1),
        "hnsw_m": 16,
        "ef_construction": 128,
        "exact_top100_numpy": pct(ex_t),
        "recall_note": "strict: share of the exact top-100 ids found; eps: share of returned hits scoring within "
        "1e-3 of the exact 100th score (ann-benchmarks' epsilon recall), since the recombined vectors have "
        "near-ties at rank 100",
    }
    for ef in (256, 1024):
        vs = VectorSearch(vecs, hnsw, ef_search=ef)
        ts, tc, rec, rec_eps = [], [], [], []
        for q, (ex_ids, kth, sc) in zip(qv, exact, strict=True):
            t, c = time.perf_counter(), time.thread_time()
            rows_, _ = vs.search(q, 100)
            tc.append(time.thread_time() - c)
            ts.append(time.perf_counter() - t)
            rec.append(len(ex_ids & set(rows_.tolist())) / 100)
            rec_eps.append(float(np.mean(sc[rows_] >= kth - 1e-3)) if len(rows_) else 0.0)
        out[f"ef_search_{ef}"] = {
            "ann_top100": pct(ts),
            "ann_top100_cpu": pct(tc),
            "recall@100_strict": round(float(np.mean(rec)), 4),
            "recall@100_eps1e-3": round(float(np.mean(rec_eps)), 4),
        }
    return {
        **out,
        "rss_mb": round(rss_mb(), 1),
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),
    }


def run_phase(phase: str, n: int, args) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--phase",
        phase,
        "--sizes",
        str(n),
        "--queries",
        str(args.queries),
        "--ref-queries",
        str(args.ref_queries),
        "--ann-threshold",
        str(args.ann_threshold),
        "--vectors",
        args.vectors,
    ]
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"{phase} {n} failed:\n{r.stderr[-3000:]}")
    res = json.loads(r.stdout.strip().splitlines()[-1])
    res[f"{phase}_wall_s"] = round(time.perf_counter() - t, 1)
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--ref-queries", type=int, default=20)
    ap.add_argument("--ann-threshold", type=int, default=250_000)
    ap.add_argument(
        "--vectors",
        choices=("real", "mixed"),
        default="real",
        help="real: embed every title (cached in bench/results/tmp/speed/embed_cache; 1M takes about an hour "
        "of 2 cores the first time); mixed: donors' mixed vectors, no embedding",
    )
    ap.add_argument("--phase", choices=("build", "query", "reference", "bm25_only", "ann_only"))
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "retrieval_speed.json"))
    ap.add_argument("--key", help="with --phase: also merge the phase's result into --out under this key")
    args = ap.parse_args()
    if args.phase:
        n = args.sizes[0]
        fn = {
            "build": lambda: phase_build(n, args.ann_threshold, args.vectors),
            "query": lambda: phase_query(n, args.queries),
            "reference": lambda: phase_reference(n, args.ref_queries),
            "bm25_only": lambda: phase_bm25_only(n, args.queries, args.ref_queries),
            "ann_only": lambda: phase_ann_only(n, args.queries),
        }[args.phase]
        load0 = round(os.getloadavg()[0], 2)
        res = fn()
        print(json.dumps(res))
        if args.key:
            out_path = Path(args.out)
            results = json.loads(out_path.read_text()) if out_path.exists() else {}
            cmd = " ".join(a if " " not in a else repr(a) for a in sys.argv[1:])
            res = {
                **res,
                "load_average_1min_at_start": load0,
                "command": f".venv/bin/python bench/retrieval_speed.py {cmd}",
            }
            results[args.key] = res
            out_path.write_text(json.dumps(results, indent=1))
        return
    WORK.mkdir(parents=True, exist_ok=True)
    out_path = Path(args.out)
    results = json.loads(out_path.read_text()) if out_path.exists() else {}
    import platform

    results["machine"] = {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "note": "2 cores; each phase records the 1-minute load average it ran under",
    }
    for n in args.sizes:
        res = {}
        for phase in ("build", "query", "reference"):
            res.update(run_phase(phase, n, args))
            print(json.dumps({phase: n, **res}), flush=True)
        results[str(n)] = res
        out_path.write_text(json.dumps(results, indent=1))
    print(
        f"{'listings':>9} {'build s':>8} {'bm25 p50/p95':>14} {'dense p50/p95':>14} {'hybrid p95':>10} "
        f"{'+qu p95':>8} {'rank-bm25 p50':>13} {'RSS MB':>7} {'recall':>6}"
    )
    for n in args.sizes:
        r = results[str(n)]
        print(
            f"{n:>9} {r.get('build_s', r.get('build_s_without_embedding')):>8} "
            f"{r['bm25_top100']['p50_ms']:>6}/{r['bm25_top100']['p95_ms']:<7} "
            f"{r['dense_top100']['p50_ms']:>6}/{r['dense_top100']['p95_ms']:<7} "
            f"{r['hybrid_retrieval']['p95_ms']:>10} "
            f"{r.get('hybrid_with_qu', {}).get('p95_ms', '-'):>8} {r['rank_bm25_top100']['p50_ms']:>13} "
            f"{r['rss_mb_after_queries']:>7} {r.get('ann_recall@100_vs_exact', '-'):>6}"
        )


if __name__ == "__main__":
    main()
