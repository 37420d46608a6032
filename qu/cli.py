"""`qu` command line: parse queries, evaluate on QueryNER, train the tagger.

    qu "vintage levis 501 w32 l30 light wash"     one JSON object
    qu --input FILE                                 one JSON object per line (FILE "-" is stdin)
    qu eval [--split test|dev] [--layers rules,tagger,llm] [--limit N]
    qu train-tagger [--epochs 14] [--init sm|blank]
    qu train-baseline                               the plain fine-tuned MiniLM tagger (baseline); with
                                                    --labels all --layers 3 the shipped one
    qu export-tagger                                a MiniLM tagger as int8 ONNX in models/qu/minilm
Heavy imports live inside the handlers so `--help` stays instant.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

SUBCOMMANDS = ("eval", "train-tagger", "train-baseline", "export-tagger")


def _null_row(query: str, error: str) -> dict:
    from qu.types import ATTRIBUTES

    row = {"query": query, **{a: None for a in ATTRIBUTES}, "spans": [], "error": error}
    return row


def _read_lines(path: str):
    f = sys.stdin if path == "-" else open(path, encoding="utf-8")
    try:
        for line in f:
            line = line.rstrip("\n").rstrip("\r")
            s = line.strip()
            if s.startswith("{"):
                try:
                    obj = json.loads(s)
                    yield str(obj.get("query", "")) if isinstance(obj, dict) else line
                    continue
                except json.JSONDecodeError:
                    pass
            yield line
    finally:
        if f is not sys.stdin:
            f.close()


def _settings(args):
    from preloved.settings import get_settings

    s = get_settings()
    if getattr(args, "llm_backend", None):
        s = s.model_copy(update={"llm_backend": args.llm_backend})
    return s


def _parse_main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(
        prog="qu",
        description="Query understanding: print the attributes of shoppers' queries "
        "as JSON. Subcommands: " + ", ".join(SUBCOMMANDS) + " (qu SUBCOMMAND --help).",
    )
    ap.add_argument("query", nargs="?", help="one query (omit with --input)")
    ap.add_argument("--input", help="file with one query per line, or JSON lines with a 'query' key; '-' for stdin")
    ap.add_argument("--layers", default="rules,tagger,llm", help="comma-separated subset of rules,tagger,llm")
    ap.add_argument("--llm-backend", help="override PRELOVED_LLM_BACKEND (e.g. openai, gguf, fake)")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                    help="threads parsing an --input file side by side (default: this machine's cores)")
    args = ap.parse_args(argv)
    if (args.query is None) == (args.input is None):
        ap.error("give exactly one of QUERY or --input FILE")
    if args.workers < 1 or args.batch_size < 1:
        ap.error("--workers and --batch-size take a whole number >= 1")
    layers = tuple(x.strip() for x in args.layers.split(",") if x.strip())
    bad = [x for x in layers if x not in ("rules", "tagger", "llm")]
    if bad:
        ap.error(f"unknown layer(s) {', '.join(bad)}; choose from rules, tagger, llm")
    from qu.extractor import QueryError, build_extractor

    if args.input is not None and args.input != "-" and not Path(args.input).is_file():
        print(f"qu: error: no such input file: {args.input}", file=sys.stderr)
        return 2
    if args.query is not None and not args.query.strip():
        print("qu: error: the query is empty or only whitespace; give at least one word", file=sys.stderr)
        return 2
    try:
        ext = build_extractor(_settings(args))
    except (FileNotFoundError, ValueError) as e:
        print(f"qu: error: {e}", file=sys.stderr)
        return 2
    if args.query is not None:
        try:
            print(json.dumps(ext.parse(args.query, layers=layers).contract(), ensure_ascii=False))
        except QueryError as e:
            print(f"qu: error: {e}", file=sys.stderr)
            return 2
        return 0
    lines = list(_read_lines(args.input))
    good = [i for i, q in enumerate(lines) if q.strip()]
    parsed = {}
    for b in range(0, len(good), args.batch_size):
        idx = good[b : b + args.batch_size]
        batch = ext.parse_batch([lines[i] for i in idx], layers=layers, workers=args.workers)
        for i, p in zip(idx, batch, strict=True):
            parsed[i] = p
    out = sys.stdout
    for i, q in enumerate(lines):
        row = parsed[i].contract() if i in parsed else _null_row(q, "empty or whitespace-only query")
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
    out.flush()
    return 0


def _eval_main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(
        prog="qu eval",
        description="Strict-span P/R/F1 per attribute on QueryNER "
        "(and its fashion subset), per layer combination. Never tune on test.",
    )
    ap.add_argument("--split", default="test", choices=["test", "dev"])
    ap.add_argument(
        "--layers",
        default=None,
        help="one layer combination in any order, e.g. tagger,rules (default: rules, tagger, rules+tagger)",
    )
    ap.add_argument("--llm-backend", help="override PRELOVED_LLM_BACKEND")
    ap.add_argument("--limit", type=int, default=None, help="score only the first N queries of each split")
    ap.add_argument("--json", dest="json_out", help="also write the full results to this file")
    ap.add_argument("--plot", help="also draw F1 per attribute and layer to this PNG file")
    args = ap.parse_args(argv)
    from qu._data import SCORED
    from qu.evaluation import evaluate, layer_set, plot
    from qu.extractor import build_extractor

    layer_sets = None
    try:
        if args.layers:
            layer_sets = [layer_set(args.layers)]
        if args.limit is not None and args.limit < 1:
            raise ValueError(f"--limit must be at least 1, got {args.limit}")
        settings = _settings(args)
        if layer_sets and "llm" in layer_sets[0].split("+") and not settings.llm_backend:
            raise ValueError("the llm layer needs a backend: --llm-backend NAME or PRELOVED_LLM_BACKEND")
        ext = build_extractor(settings)
    except (FileNotFoundError, ValueError) as e:
        print(f"qu eval: error: {e}", file=sys.stderr)
        return 2
    res = evaluate(ext, args.split, layer_sets, limit=args.limit)
    print(f"{'split':<14} {'layers':<18} {'attribute':<9} {'precision':>9} {'recall':>7} {'F1':>6}   q/s")
    for name, per in res["layers"].items():
        for ls, v in per.items():
            rows = [("micro", v["micro"])] + [(a, v["per_attribute"][a]) for a in SCORED]
            for i, (attr, sc) in enumerate(rows):
                qps = f"   {v['queries'] / max(v['seconds'], 1e-9):.0f}" if i == 0 else ""
                print(
                    f"{name:<14} {ls:<18} {attr:<9} {sc['precision']:>9.3f} {sc['recall']:>7.3f} {sc['f1']:>6.3f}" + qps
                )
    if ext.llm is not None:
        res["llm_stats"] = ext.llm.stats()
        print("llm:", json.dumps(res["llm_stats"]))
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as f:
            json.dump(res, f, indent=2)
    if args.plot:
        plot(res, args.plot)
        print(f"wrote {args.plot}")
    return 0


def _train_main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(
        prog="qu train-tagger",
        description="Train the spaCy NER tagger on QueryNER train; "
        "keep the best epoch on dev; write it to models/qu/tagger.",
    )
    ap.add_argument("--epochs", type=int, default=14)
    ap.add_argument("--init", choices=["sm", "blank"], default="sm")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--output", default=None)
    args = ap.parse_args(argv)
    from qu.tagger import DEFAULT_TAGGER_PATH, train

    rep = train(output=args.output or DEFAULT_TAGGER_PATH, epochs=args.epochs, init=args.init, seed=args.seed)
    print(json.dumps({k: v for k, v in rep.items() if k != "history"}))
    return 0


def _baseline_main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(
        prog="qu train-baseline",
        description="Fine-tune the packaged MiniLM as a token classifier (train; best epoch on dev); "
        "score on test unless --no-test. Defaults train the plain 5-attribute baseline; the shipped "
        "tagger is --labels all --layers 3 --lr 1e-4 --epochs 6.",
    )
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--labels", choices=("five", "all"), default="five",
                    help="tag our five attributes, or all 17 QueryNER labels (read as attributes)")
    ap.add_argument("--layers", type=int, default=None, help="keep the first N encoder layers (default all 6)")
    ap.add_argument("--output", default=None, help="model folder (default .cache/qu/minilm_tagger)")
    ap.add_argument("--no-test", action="store_true", help="train and pick on dev only; do not score test")
    ap.add_argument("--train-splits", default="train",
                    help="comma-separated splits to train on (default train); with dev among them the last "
                    "epoch is kept, since dev F1 is then in-sample")
    args = ap.parse_args(argv)
    splits = tuple(s.strip() for s in args.train_splits.split(",") if s.strip())
    if not splits or not set(splits) <= {"train", "dev"}:
        ap.error(f"--train-splits takes train and/or dev, got {args.train_splits!r}")
    from qu.baseline_transformer import DEFAULT_BASELINE_PATH, evaluate_baseline, train

    if args.layers is not None and not 1 <= args.layers <= 6:
        ap.error(f"--layers must be in 1..6 (the packaged MiniLM has 6), got {args.layers}")
    out = Path(args.output) if args.output else DEFAULT_BASELINE_PATH
    rep = train(output=out, epochs=args.epochs, lr=args.lr, seed=args.seed, threads=args.threads,
                labels=args.labels, layers=args.layers, splits=splits)
    scores = {"best_dev_f1": rep["best_dev_f1"], **({} if args.no_test else evaluate_baseline(out))}
    (out / "scores.json").write_text(json.dumps(scores, indent=1))
    print(json.dumps(scores, indent=1))
    return 0


def _export_main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(
        prog="qu export-tagger",
        description="Export the fine-tuned MiniLM tagger "
        "(qu train-baseline) to int8 ONNX for the fast path (settings.qu_tagger).",
    )
    ap.add_argument("--source", nargs="+", default=None,
                    help="fine-tuned model folder (default .cache/qu/minilm_tagger); several folders (seeds of "
                    "one recipe) are averaged into one model first, a weight soup")
    ap.add_argument("--output", default=None, help="default models/qu/minilm")
    args = ap.parse_args(argv)
    from qu.baseline_transformer import DEFAULT_BASELINE_PATH, soup
    from qu.onnx_tagger import DEFAULT_ONNX_PATH, export_onnx

    sources = [Path(s) for s in args.source] if args.source else [DEFAULT_BASELINE_PATH]
    for src in sources:
        if not (src / "config.json").exists():
            print(f"qu: error: no fine-tuned model at {src}; run `qu train-baseline` first", file=sys.stderr)
            return 2
    output = Path(args.output or DEFAULT_ONNX_PATH)
    if len(sources) > 1:
        try:
            src = soup(sources, DEFAULT_BASELINE_PATH.parent / "soup")
        except ValueError as e:
            print(f"qu: error: {e}", file=sys.stderr)
            return 2
    else:
        src = sources[0]
    print(export_onnx(src, output))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    handlers = {
        "eval": _eval_main,
        "train-tagger": _train_main,
        "train-baseline": _baseline_main,
        "export-tagger": _export_main,
    }
    if argv and argv[0] in handlers:
        return handlers[argv[0]](argv[1:])
    return _parse_main(argv)


if __name__ == "__main__":
    sys.exit(main())
