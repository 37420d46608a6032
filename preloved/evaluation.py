"""`preloved eval`: NDCG@10 and Recall@100 per stage through the real pipeline, with a paired bootstrap of
each stage against hybrid, a printed table, a JSON report and a bar plot; on ESCI (a split of the public
benchmark) or on a team's own judged queries over its own index (`--judgments`)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import math
import time
from pathlib import Path

from tqdm import tqdm

from preloved.esci import product_pool, qrels
from preloved.metrics import ESCI_GAIN, ndcg, paired_bootstrap, recall
from preloved.settings import Settings, get_settings

logger = logging.getLogger(__name__)


def esci_index(settings: Settings) -> Path:
    """Index the ESCI product pool once; the folder is keyed by the pool's content and the text version
    (another tokenizer needs another index)."""
    from retrieval import Index, Listing
    from retrieval.text import TEXT_VERSION

    pool = product_pool(settings.data_dir)
    key = hashlib.sha1(json.dumps([TEXT_VERSION, pool], sort_keys=True).encode()).hexdigest()[:12]
    out = settings.cache_dir / f"esci-index-{key}"
    if not (out / "manifest.json").is_file():
        Index.build([Listing(**p) for p in pool], out, show_progress=True)
    return out


class JudgmentsError(ValueError):
    """A judgments file that cannot be read as asked: says which line and why."""


class ReportError(ValueError):
    """Reports that cannot be compared: says which and why."""


def _gain(row: dict) -> float:
    """A judgment's gain: `gain` as a number >= 0, or `label` as ESCI's E/S/C/I (1, 0.1, 0.01, 0) or a number."""
    value = row.get("gain", row.get("label"))
    if isinstance(value, str) and value.strip().upper() in ESCI_GAIN:
        return ESCI_GAIN[value.strip().upper()]
    try:
        gain = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"needs a gain (a number >= 0) or a label (E, S, C, I or a number); got {value!r}") from None
    if not math.isfinite(gain) or gain < 0:
        raise ValueError(f"gain {value!r} is not a finite number >= 0")
    return gain


def _judgment_rows(path: Path, text: str):
    """(line number, row) of a JSON lines file, or of a CSV / TSV file with a header."""
    if path.suffix.lower() in (".csv", ".tsv"):
        rows = csv.DictReader(io.StringIO(text, newline=""), delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
        yield from ((rows.line_num, row) for row in rows)
        return
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise JudgmentsError(f"{path}:{n}: bad JSON ({e.msg})") from None
        if not isinstance(row, dict):
            raise JudgmentsError(f"{path}:{n}: each line must be a JSON object")
        yield n, row


def read_judgments(path: str | Path) -> dict[str, dict[str, float]]:
    """query -> {listing id: gain} from a judgments file: JSON lines, or CSV / TSV with a header, each
    row a `query`, the judged listing's `id` and its `gain` (a number >= 0, linear in NDCG) or `label`
    (ESCI's E/S/C/I, or a number). Every bad row is a `JudgmentsError` naming its line; a pair judged
    twice with two gains is one too."""
    path = Path(path)
    if not path.is_file():
        raise JudgmentsError(f"judgments file not found: {path}")
    out: dict[str, dict[str, float]] = {}
    where: dict[tuple[str, str], int] = {}
    try:
        text = path.read_bytes().decode("utf-8-sig")  # a spreadsheet's byte-order mark is skipped
    except UnicodeDecodeError as e:
        raise JudgmentsError(f"{path}: not UTF-8 text (byte {e.start} of the file)") from None
    for n, row in _judgment_rows(path, text):
        query, pid = row.get("query"), row.get("id", row.get("listing_id", row.get("product_id")))
        if not isinstance(query, str) or not query.strip():
            raise JudgmentsError(f"{path}:{n}: needs a non-empty string \"query\"")
        if pid is None or str(pid).strip() == "":
            raise JudgmentsError(f"{path}:{n}: needs the judged listing's \"id\"")
        try:
            gain = _gain(row)
        except ValueError as e:
            raise JudgmentsError(f"{path}:{n}: {e}") from None
        query, pid = query.strip(), str(pid).strip()
        seen = out.setdefault(query, {}).get(pid)
        if seen is not None and seen != gain:
            raise JudgmentsError(f"{path}:{n}: ({query!r}, {pid!r}) was judged {seen} on line "
                                 f"{where[query, pid]} and {gain} here")
        out[query][pid] = gain
        where.setdefault((query, pid), n)
    if not out:
        raise JudgmentsError(f"{path} holds no judgments")
    return out


def run_esci_eval(split: str = "test", stages: list[str] | None = None, out: Path | None = None,
                  rerank_depth: int = 50, settings: Settings | None = None) -> dict:
    settings = settings or get_settings()
    return run_eval(qrels(settings.data_dir, split), esci_index(settings), f"ESCI {split}", stages, out,
                    rerank_depth, settings, extra={"split": split})


def run_judged_eval(judgments: str | Path, index_dir: str | Path | None = None, stages: list[str] | None = None,
                    out: Path | None = None, rerank_depth: int = 50, settings: Settings | None = None) -> dict:
    """`run_eval` on a team's own judged queries (`read_judgments`) over its own index (default: the
    settings' index). Queries with no positive gain are left out (NDCG is undefined there) and judged
    listings the index lacks stay in the ideal ranking (no search can find them); both are counted in
    the report and warned about."""
    settings = settings or get_settings()
    judged = read_judgments(judgments)
    index_dir = Path(index_dir) if index_dir is not None else settings.index_dir
    scorable = {q: g for q, g in judged.items() if max(g.values()) > 0}
    if len(scorable) < len(judged):
        logger.warning("%d of %d judged queries have no positive gain and are left out (e.g. %r)",
                       len(judged) - len(scorable), len(judged), next(q for q in judged if q not in scorable))
    if not scorable:
        raise JudgmentsError(f"{judgments}: no query has a judged listing with a gain above 0: nothing to score")
    extra = {"judgments": str(judgments), "index": str(index_dir), "left_out_queries": len(judged) - len(scorable)}
    return run_eval(scorable, index_dir, Path(judgments).name, stages, out, rerank_depth, settings, extra=extra)


def run_eval(judged: dict[str, dict[str, float]], index_dir: Path, name: str, stages: list[str] | None = None,
             out: Path | None = None, rerank_depth: int = 50, settings: Settings | None = None,
             extra: dict | None = None) -> dict:
    """Search every judged query through the pipeline over `index_dir`, stage by stage: the report (printed
    as a table; with `out`, written as JSON and a bar plot beside it), with each query's NDCG@10 per stage."""
    from preloved.pipeline import STAGES, load_pipeline

    settings = settings or get_settings()
    stages = stages or list(STAGES)
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise ValueError(f"unknown stages {unknown}: choose from {', '.join(STAGES)}")
    pipeline = load_pipeline(settings, index_dir=index_dir, with_reranker="rerank" in stages)
    missing = {pid for g in judged.values() for pid in g if pid not in pipeline.index}
    if missing:
        logger.warning("%d judged listings are not in the index %s (e.g. %r): no search can find them",
                       len(missing), index_dir, sorted(missing)[0])
    queries = list(judged)
    report: dict = {"name": name, **(extra or {}), "queries": len(queries), "products": len(pipeline.index),
                    "judged_not_in_index": len(missing), "rerank_depth": rerank_depth, "stages": {}}
    per_query: dict[str, list[float]] = {}
    for stage in stages:
        report["stages"][stage], per_query[stage] = run_stage(pipeline, judged, stage, rerank_depth,
                                                              desc=f"{name} {stage}")
    if "hybrid" in per_query:
        for stage, scores in per_query.items():
            if stage != "hybrid":
                report["stages"][stage]["vs_hybrid"] = paired_bootstrap(per_query["hybrid"], scores)
    # each query's NDCG@10 per stage, for reading which queries a stage wins and loses
    report["per_query_ndcg@10"] = {q: {stage: round(scores[i], 4) for stage, scores in per_query.items()}
                                   for i, q in enumerate(queries)}
    _print_table(report)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")
        _plot(report, out.with_suffix(".png"))
    return report


def run_stage(pipeline, judged: dict[str, dict[str, float]], stage: str, rerank_depth: int | None = None,
              use_cache: bool = True, desc: str = "") -> tuple[dict, list[float]]:
    """Search every judged query one at a time (k=100): NDCG@10, Recall@100 and p50/p95 ms of the
    stage, and the per-query NDCG@10 for paired comparisons."""
    nd, rc, ms = [], [], []
    for q in tqdm(list(judged), desc=desc or stage, leave=False):
        t = time.perf_counter()
        res = pipeline.search(q, k=100, stages=stage, rerank_depth=rerank_depth, use_cache=use_cache)
        ms.append((time.perf_counter() - t) * 1000)
        ids = [h.id for h in res.hits]
        nd.append(ndcg(ids, judged[q]))
        rc.append(recall(ids, judged[q], 100))
    ms.sort()
    summary = {"ndcg@10": sum(nd) / len(nd), "recall@100": sum(rc) / len(rc),
               "p50_ms": ms[len(ms) // 2], "p95_ms": ms[int(0.95 * (len(ms) - 1))]}
    return summary, nd


def _print_table(report: dict) -> None:
    print(f"{report['name']}: {report['queries']} queries, {report['products']} products")
    print(f"{'stage':<8} {'NDCG@10':>8} {'R@100':>7} {'p50 ms':>8} {'p95 ms':>8}  vs hybrid (95% CI, p)")
    for stage, r in report["stages"].items():
        vs = r.get("vs_hybrid")
        cmp = f"{vs['mean_diff']:+.4f} ({vs['ci95'][0]:+.4f}..{vs['ci95'][1]:+.4f}, p={vs['p']:.3f})" if vs else ""
        print(f"{stage:<8} {r['ndcg@10']:>8.4f} {r['recall@100']:>7.4f} {r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f}  {cmp}")


def _plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = list(report["stages"])
    fig, ax = plt.subplots(figsize=(6, 3.2))
    vals = [report["stages"][s]["ndcg@10"] for s in stages]
    ax.bar(stages, vals, color=["#8da0cb", "#66c2a5", "#fc8d62", "#e78ac3"][: len(stages)])
    for i, v in enumerate(vals):
        ax.text(i, v + 0.005, f"{v:.3f}", ha="center", fontsize=9)
    ax.set_ylim(0, 1)
    ax.set_ylabel("NDCG@10")
    ax.set_title(f"{report['name']} ({report['queries']} queries)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def read_report(path: str | Path) -> dict[str, dict[str, float]]:
    """A `preloved eval` report's NDCG@10 per query and stage (`per_query_ndcg@10`), or a `ReportError`
    saying why it cannot be compared."""
    path = Path(path)
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"report not found: {path}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ReportError(f"{path}: not a JSON report ({e})") from None
    per_query = report.get("per_query_ndcg@10") if isinstance(report, dict) else None
    if not isinstance(per_query, dict) or not per_query:
        raise ReportError(f"{path} holds no per-query scores (per_query_ndcg@10): write it with "
                             "`preloved eval --out` (session 32 on)")
    return per_query


def compare_reports(before: str | Path, after: str | Path, top: int = 10, plot: Path | None = None) -> dict:
    """Two `preloved eval` reports of the same judged queries, stage by stage: each stage's NDCG@10 before
    and after over the queries both hold, the paired bootstrap of after against before, how many queries got
    better and worse, and the `top` biggest gains and losses. Printed as a table; drawn to `plot` (PNG), each
    query a point, before against after, where given."""
    a, b = read_report(before), read_report(after)
    queries = [q for q in a if q in b]
    if not queries:
        raise ReportError(f"{before} and {after} share no query: they were not run on the same judgments")
    stages = [s for s in next(iter(a.values())) if s in next(iter(b.values()))]
    if not stages:
        raise ReportError(f"{before} and {after} share no stage")
    out: dict = {"before": str(before), "after": str(after), "queries": len(queries),
                 "left_out": len(a) + len(b) - 2 * len(queries), "stages": {}}
    points = {stage: ([a[q][stage] for q in queries], [b[q][stage] for q in queries]) for stage in stages}
    for stage, (x, y) in points.items():
        moved = sorted(((yi - xi, q, xi, yi) for q, xi, yi in zip(queries, x, y, strict=True) if yi != xi),
                       key=lambda m: (-m[0], m[1]))
        out["stages"][stage] = {
            "before": sum(x) / len(x), "after": sum(y) / len(y), "vs_before": paired_bootstrap(x, y),
            "better": sum(d > 0 for d, *_ in moved), "worse": sum(d < 0 for d, *_ in moved),
            "gains": [{"query": q, "before": xi, "after": yi} for d, q, xi, yi in moved[:top] if d > 0],
            "losses": [{"query": q, "before": xi, "after": yi} for d, q, xi, yi in reversed(moved[-top:]) if d < 0],
        }
    _print_comparison(out)
    if plot is not None:
        _plot_comparison(out, points, plot)
    return out


def _plot_comparison(out: dict, points: dict[str, tuple[list[float], list[float]]], path: Path) -> None:
    """A panel per stage: each query's NDCG@10 before (x) and after (y); above the diagonal, better."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(points), figsize=(3.4 * len(points), 3.6), squeeze=False)
    for ax, (stage, (x, y)) in zip(axes[0], points.items(), strict=True):
        r = out["stages"][stage]
        colour = ["#1b9e77" if yi > xi else "#d95f02" if yi < xi else "#999999" for xi, yi in zip(x, y, strict=True)]
        ax.plot([0, 1], [0, 1], color="#cccccc", lw=1, zorder=0)
        ax.scatter(x, y, s=12, c=colour, alpha=0.7, linewidths=0)
        ax.set(xlim=(-0.03, 1.03), ylim=(-0.03, 1.03), xlabel="NDCG@10 before", ylabel="NDCG@10 after")
        ax.set_aspect("equal")
        ax.set_title(f"{stage}: {r['before']:.3f} -> {r['after']:.3f}\n{r['better']} better, {r['worse']} worse "
                     f"(p={r['vs_before']['p']:.3f})", fontsize=9)
    fig.suptitle(f"{out['queries']} queries", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _print_comparison(out: dict) -> None:
    left = f" ({out['left_out']} in one report only, left out)" if out["left_out"] else ""
    print(f"{out['before']} -> {out['after']}: {out['queries']} queries{left}")
    print(f"{'stage':<8} {'before':>8} {'after':>8}  {'after - before (95% CI, p)':<36} {'better':>6} {'worse':>6}")
    for stage, r in out["stages"].items():
        vs = r["vs_before"]
        cmp = f"{vs['mean_diff']:+.4f} ({vs['ci95'][0]:+.4f}..{vs['ci95'][1]:+.4f}, p={vs['p']:.3f})"
        print(f"{stage:<8} {r['before']:>8.4f} {r['after']:>8.4f}  {cmp:<36} {r['better']:>6} {r['worse']:>6}")
    stage, r = list(out["stages"].items())[-1]
    for title, rows in (("gains", r["gains"]), ("losses", r["losses"])):
        if rows:
            print(f"{stage}, biggest {title}:")
            for m in rows:
                print(f"  {m['after'] - m['before']:+.3f}  {m['before']:.3f} -> {m['after']:.3f}  {m['query']}")
