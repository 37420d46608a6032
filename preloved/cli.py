"""`preloved` command line: build the demo catalogue, index a catalogue, search, serve, train, evaluate, compare
two evaluations.

Heavy imports live inside the handlers so that `preloved --help` answers at once.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

logger = logging.getLogger("preloved")
# The demo catalogue's structured fields filter (relaxed to a boost when too few listings match). Its
# brands are clean (one per listing), so brand filters there as a shopper expects ("nike trainers":
# Nike only); on ESCI's free-text Amazon brands it only boosts (docs/retrieval.md). Its colours are its
# own too: on 10 colour queries 95 of the top 100 hits have the colour asked, against 87 when colour
# only boosted and the reranker reordered.
DEMO_FILTER_ATTRIBUTES = ("brand", "category", "size", "gender", "condition", "price", "colour")


class CLIError(Exception):
    """A user error: printed as one line on stderr, exit status 2."""


def _read_queries(source: str):
    """Yield queries from a file or stdin ('-'): plain lines, or JSON lines with a "query" key."""
    f = sys.stdin if source == "-" else open(source, encoding="utf-8", errors="replace")  # noqa: SIM115
    try:
        for lineno, line in enumerate(f, 1):
            text = line.rstrip("\n")
            if text.lstrip().startswith("{"):
                try:
                    obj = json.loads(text)
                except json.JSONDecodeError as e:
                    yield lineno, None, f"line {lineno}: bad JSON ({e.msg})"
                    continue
                if not isinstance(obj, dict) or not isinstance(obj.get("query"), str):
                    yield lineno, None, f'line {lineno}: a JSON line needs a string "query" key'
                    continue
                text = obj["query"]
            yield lineno, text, None
    finally:
        if f is not sys.stdin:
            f.close()


def cmd_catalogue(args) -> int:
    from preloved.catalogue import build_catalogue
    from preloved.settings import get_settings

    settings = get_settings()
    out = build_catalogue(settings.data_dir, Path(args.out) if args.out else settings.catalogue_path.parent)
    print(out)
    return 0


def cmd_index(args) -> int:
    from retrieval import CatalogueError, Index, read_catalogue

    path = Path(args.catalog)
    if not path.is_file():
        raise CLIError(f"catalogue file not found: {path}")
    try:
        listings = read_catalogue(path)
    except CatalogueError as e:
        raise CLIError(str(e)) from e
    from preloved.pipeline import index_options
    from preloved.settings import get_settings

    settings = get_settings()
    try:
        index = Index.build(listings, Path(args.out), show_progress=not args.quiet,
                            cache_dir=settings.cache_dir / "embeddings", filter_attributes=args.filter_attributes,
                            **index_options(settings))
    except ValueError as e:
        raise CLIError(str(e)) from e
    print(json.dumps({"index": str(args.out), "listings": len(index)}))
    return 0


def cmd_search(args) -> int:
    from preloved.pipeline import BadQueryError, load_pipeline
    from preloved.settings import get_settings

    settings = get_settings()
    index_dir = _existing_index(args.index)
    if not 1 <= args.k <= settings.max_k:
        raise CLIError(f"--k {args.k} is out of range: choose 1..{settings.max_k}")
    source = args.input
    if source is None and args.query is None:
        raise CLIError("give a query, or --input FILE ('-' for stdin)")
    if source is not None and source != "-" and not Path(source).is_file():
        raise CLIError(f"input file not found: {source}")
    stages = args.stages or settings.default_stages
    pipeline = load_pipeline(settings, index_dir=index_dir, with_reranker=stages == "rerank")
    queries = _read_queries(source) if source is not None else [(1, args.query, None)]
    for lineno, query, error in queries:
        if error is None:
            try:
                result = pipeline.search(query, k=args.k, stages=stages, rerank_depth=args.rerank_depth)
            except BadQueryError as e:
                error = f"line {lineno}: {e}" if source is not None else str(e)
            else:
                out = {"query": query, "parsed": result.parsed.contract(), "results": result.results(args.debug),
                       "timings_ms": result.timings_ms}
                if args.debug:  # what filtered and what was relaxed to a boost, as /search says it
                    out.update(applied_filters=dict(result.applied_filters),
                               relaxed_filters=list(result.relaxed_filters), rerank_depth=result.rerank_depth)
        if error is not None:
            if source is None:
                raise CLIError(error)
            logger.warning(error)
            out = {"query": query, "error": error, "parsed": None, "results": []}
        print(json.dumps(out, ensure_ascii=False), flush=True)
    return 0


def _existing_index(path: str | None) -> Path | None:
    if path is None:
        return None
    p = Path(path)
    if not p.is_dir():
        raise CLIError(f"index folder not found: {p} (build one with `preloved index --catalog FILE --out {p}`)")
    return p


def ensure_demo_index(settings) -> Path:
    """Build the demo catalogue and its index on first use; later calls return the folder, with a
    warning where an older preloved built the catalogue (the index may hold API writes: kept). An index
    tokenised with another text version, which no longer loads, is moved aside and rebuilt."""
    from preloved.catalogue import BUILDER_VERSION, build_catalogue, builder_version
    from retrieval import Index, read_catalogue
    from retrieval.text import TEXT_VERSION

    built = builder_version(settings.catalogue_path.parent)
    manifest = settings.index_dir / "manifest.json"
    meta = json.loads(manifest.read_text()) if manifest.is_file() else None
    if meta is not None and (was := meta.get("text_version")) != TEXT_VERSION:
        # tokenised by an older preloved: it cannot be loaded; kept aside whole (API writes too), rebuilt
        aside = settings.index_dir.with_name(f"{settings.index_dir.name}.text-v{was}")
        n = 1
        while aside.exists():
            n += 1
            aside = settings.index_dir.with_name(f"{settings.index_dir.name}.text-v{was}.{n}")
        settings.index_dir.rename(aside)
        logger.warning("the demo index in %s was tokenised by an older preloved (text version %s, now %d): moved "
                       "to %s, with any listings written through the API, and rebuilt from the demo catalogue",
                       settings.index_dir, was, TEXT_VERSION, aside)
        meta = None
    if meta is not None:
        filters = meta.get("filter_attributes")
        if (built is not None and built < BUILDER_VERSION) or (
            filters is not None and set(filters) != set(DEMO_FILTER_ATTRIBUTES)
        ):  # the demo index may hold API writes: not replaced
            logger.warning(
                "the demo catalogue in %s and its index were built by an older preloved (catalogue builder %s, "
                "now %d; filters %s, now %s); to rebuild both: `preloved catalogue`, then remove %s (listings "
                "written through the API go with it)",
                settings.catalogue_path.parent, built, BUILDER_VERSION, ", ".join(filters or ()),
                ", ".join(DEMO_FILTER_ATTRIBUTES), settings.index_dir,
            )
        return settings.index_dir
    if not settings.catalogue_path.is_file() or (built is not None and built < BUILDER_VERSION):
        logger.info("building the demo catalogue from %s", settings.data_dir)
        build_catalogue(settings.data_dir, settings.catalogue_path.parent)
    logger.info("indexing the demo catalogue into %s (first run only)", settings.index_dir)
    from preloved.pipeline import index_options

    Index.build(read_catalogue(settings.catalogue_path), settings.index_dir, show_progress=True,
                cache_dir=settings.cache_dir / "embeddings", filter_attributes=DEMO_FILTER_ATTRIBUTES,
                **index_options(settings))
    return settings.index_dir


def cmd_serve(args) -> int:
    from preloved.settings import get_settings, limit_library_threads

    settings = get_settings()
    limit_library_threads(settings.library_threads)  # before the demo index build loads numpy
    from service import serve

    index_dir = _existing_index(args.index) or ensure_demo_index(settings)
    serve(settings, host=args.host or settings.host, port=args.port or settings.port, index_dir=index_dir)
    return 0


def cmd_train_reranker(args) -> int:
    from rerank.train import main as train_main

    return train_main(["--config", args.config, *args.extra])


def cmd_eval(args) -> int:
    from preloved.evaluation import JudgmentsError, run_esci_eval, run_judged_eval
    from preloved.pipeline import STAGES

    out = Path(args.out) if args.out else None
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    if not stages or set(stages) - set(STAGES):
        raise CLIError(f"--stages {args.stages!r}: choose from {', '.join(STAGES)}")
    if args.judgments is None:
        if args.index is not None:
            raise CLIError("--index needs --judgments (ESCI is searched over its own product pool)")
        run_esci_eval(split=args.split or "test", stages=stages, out=out,
                      rerank_depth=args.rerank_depth)
        return 0
    if args.split is not None:
        raise CLIError("--split is ESCI's: with --judgments, the file's queries are the ones scored")
    try:
        run_judged_eval(args.judgments, args.index, stages=stages, out=out,
                        rerank_depth=args.rerank_depth)
    except JudgmentsError as e:
        raise CLIError(str(e)) from e
    return 0


def cmd_compare(args) -> int:
    from preloved.evaluation import ReportError, compare_reports

    try:
        out = compare_reports(args.before, args.after, top=args.top,
                              plot=Path(args.out).with_suffix(".png") if args.out else None)
    except ReportError as e:
        raise CLIError(str(e)) from e
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="preloved", description=__doc__.splitlines()[0])
    p.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("catalogue", help="build data/catalogue/ (the demo catalogue) from data/")
    s.add_argument("--out", help="output folder (default: data/catalogue)")
    s.set_defaults(func=cmd_catalogue)

    s = sub.add_parser("index", help="index a listings JSONL file")
    s.add_argument("--catalog", "--catalogue", required=True,
                   help="listings: JSON lines, a .json array, or .csv / .tsv with a header; id, title, optional fields")
    s.add_argument("--out", required=True, help="index folder to write (replaced atomically)")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.add_argument("--filter-attributes", nargs="+", metavar="ATTR",
                   help="which of qu's confident attributes filter on this catalogue (stored in the index; "
                        "default: the settings' qu_filter_attributes); the others boost")
    s.set_defaults(func=cmd_index)

    s = sub.add_parser("search", help="search an index; one JSON line per query")
    s.add_argument("query", nargs="?", help="a single query (or use --input)")
    s.add_argument("--index", help="index folder (default: the demo index)")
    s.add_argument("--input", help="queries file, '-' for stdin: one per line or JSON lines with 'query'")
    s.add_argument("--k", type=int, default=10, help="results per query (1..100, default 10)")
    s.add_argument("--stages", choices=("bm25", "dense", "hybrid", "rerank"),
                   help="bm25, dense, hybrid, or rerank = hybrid then cross-encoder "
                        "(default: settings.default_stages, rerank)")
    s.add_argument("--rerank-depth", type=int, default=50, help="hybrid candidates the reranker scores")
    s.add_argument("--debug", action="store_true", help="per-stage scores and matched attributes")
    s.set_defaults(func=cmd_search)

    s = sub.add_parser("serve", help="run the HTTP API (default: over the demo index, built on first run)")
    s.add_argument("--host", help="default 127.0.0.1")
    s.add_argument("--port", type=int, help="default 8000")
    s.add_argument("--index", help="index folder (default: the demo index)")
    s.set_defaults(func=cmd_serve)

    s = sub.add_parser("train-reranker", help="fine-tune the cross-encoder from a config file")
    s.add_argument("--config", required=True, help="JSON/TOML config (see rerank/configs/)")
    s.add_argument("extra", nargs=argparse.REMAINDER, help="further options passed to the trainer")
    s.set_defaults(func=cmd_train_reranker)

    s = sub.add_parser("eval", help="NDCG@10, Recall@100 per stage, bootstrap vs hybrid: ESCI, or your own judgments")
    s.add_argument("--split", choices=("dev", "test"), help="the ESCI split (default test)")
    s.add_argument("--judgments", help="your own judged queries instead of ESCI: JSON lines or CSV/TSV with a "
                                       "header, each row a query, a listing id and a gain (>= 0) or label (E/S/C/I)")
    s.add_argument("--index", help="the index the judgments are scored over (default: the demo index)")
    s.add_argument("--stages", default="bm25,dense,hybrid,rerank")
    s.add_argument("--rerank-depth", type=int, default=50)
    s.add_argument("--out", help="write the report JSON here")
    s.set_defaults(func=cmd_eval)

    s = sub.add_parser("compare", help="two eval reports of the same judgments: per stage, after against before")
    s.add_argument("before", help="a `preloved eval --out` report")
    s.add_argument("after", help="another, of the same judged queries")
    s.add_argument("--top", type=int, default=10, help="the biggest gains and losses to list (default 10)")
    s.add_argument("--out", help="write the comparison JSON here, and a plot beside it (.png): each query's "
                                 "NDCG@10 before against after, per stage")
    s.set_defaults(func=cmd_compare)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except (CLIError, FileNotFoundError) as e:  # IndexNotFoundError is a FileNotFoundError
        print(f"preloved {args.command}: error: {e}", file=sys.stderr)
        return 2
    except ValueError as e:
        from retrieval import CatalogueError, IndexFormatError

        if not isinstance(e, IndexFormatError | CatalogueError):  # e.g. the demo catalogue, read by `serve`
            raise
        print(f"preloved {args.command}: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
