"""The reranker's GPU run: teacher variants picked by dev NDCG@10, students distilled from an ensemble.

    CUBLAS_WORKSPACE_CONFIG=:4096:8 python bench/rerank_gpu.py --out bench/results/rerank_gpu.json \
        --teachers lambda16 listnet16 lambda16_len48 --ensemble 3 --budget 480

One prepared script for a lent GPU (issue 5). The teachers named (rerank/configs/gpu/teacher_NAME.json)
are trained in order with `rerank.train` (the same CrossEncoderTrainer recipe as on CPU, device auto
and bf16) while the time budget lasts; the `--ensemble` best by fused dev NDCG@10 become the teachers
of each `--students` config, rerank/configs/gpu/student_NAME.json, distilled in order (their
standardised scores averaged as the labels; the student starts from the best teacher's first layers),
and one L3 student is also distilled from the best teacher alone, to show what the ensemble adds.
If time is left, the first teacher is trained a second time to check determinism. Each student is
exported to int8 ONNX (`rerank.export`) and, with `--pack DIR`, tarred there. `--sweep` adds the
scoring-throughput sweep over batch size and precision. Test is never scored here: pick on dev, then
measure the exports with `python -m rerank.evaluate` on the CPU they ship to.
Results are written after every step, so a run cut short still reports what finished.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tarfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rerank.config import load_config  # noqa: E402
from rerank.export import export  # noqa: E402
from rerank.train import train  # noqa: E402

logger = logging.getLogger("rerank_gpu")


def _best_epoch(summary: dict) -> dict:
    return max(summary["epochs_log"], key=lambda r: r["dev_ndcg@10_fused"])


def _run(cfg_path: Path, overrides: dict, suffix: str = "") -> dict:
    cfg = load_config(cfg_path, overrides)
    if suffix:  # a smoke run never leaves checkpoints where a real run would resume from them
        cfg = cfg.model_copy(update={"output_dir": cfg.output_dir.with_name(cfg.output_dir.name + suffix)})
    summary = train(cfg, show_progress=False)
    best = _best_epoch(summary)
    runtime = next((r for r in summary["trainer_log"] if "train_runtime" in r), {})
    return {
        "config": str(cfg_path),
        "output_dir": str(cfg.output_dir),
        "pairs_by_source": summary["pairs_by_source"],
        "training_rows": summary["training_rows"],
        "best_epoch": best["epoch"],
        "dev_fused": best["dev_ndcg@10_fused"],
        "dev_cross_encoder": best["dev_ndcg@10_cross_encoder"],
        "dev_hybrid": best["dev_ndcg@10_hybrid"],
        "fusion_weights": best["fusion_weights"],
        "epochs_log": summary["epochs_log"],
        "untrained_dev": summary["untrained_dev"],
        "train_runtime_s": runtime.get("train_runtime"),
        "train_steps": summary["trainer_log"][-1].get("step") if summary["trainer_log"] else None,
        "seconds": summary["seconds"],
        "device": summary["device"],
    }


def sweep(model_dir: str, texts: list[tuple[str, str]], lengths=(32, 64), batches=(32, 64, 128, 256, 512, 1024)):
    """Pairs/s of the cross-encoder forward pass per (precision, max length, batch), padded to the length."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    rows = []
    for dtype_name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16), ("fp16", torch.float16)):
        model = AutoModelForSequenceClassification.from_pretrained(model_dir, dtype=dtype).cuda().eval()
        for length in lengths:
            for bs in batches:
                pairs = (texts * (bs * 20 // len(texts) + 1))[: bs * 20]
                enc = tok(
                    [q for q, _ in pairs],
                    [t for _, t in pairs],
                    padding="max_length",
                    truncation=True,
                    max_length=length,
                    return_tensors="pt",
                )
                enc = {k: v.cuda() for k, v in enc.items()}
                with torch.inference_mode():
                    for i in range(0, 2 * bs, bs):  # warm-up
                        model(**{k: v[i : i + bs] for k, v in enc.items()})
                    torch.cuda.synchronize()
                    t = time.perf_counter()
                    for i in range(0, len(pairs), bs):
                        model(**{k: v[i : i + bs] for k, v in enc.items()})
                    torch.cuda.synchronize()
                    dt = time.perf_counter() - t
                rows.append(
                    {
                        "precision": dtype_name,
                        "max_length": length,
                        "batch": bs,
                        "pairs_per_s": round(len(pairs) / dt),
                        "ms_per_batch": round(1000 * dt / (len(pairs) / bs), 3),
                    }
                )
                logger.info("sweep %s", rows[-1])
        del model
        torch.cuda.empty_cache()
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "rerank_gpu.json"))
    ap.add_argument("--export-dir", default=str(ROOT / ".cache" / "rerank" / "gpu-export"))
    ap.add_argument("--configs", default=str(ROOT / "rerank" / "configs" / "gpu"))
    ap.add_argument("--teachers", nargs="+", default=["lambda16", "listnet16", "lambda16_len48"])
    ap.add_argument("--ensemble", type=int, default=3, help="distil the students from the n best teachers")
    ap.add_argument("--students", nargs="+", default=["l3", "l4", "l3_len24"],
                    help="rerank/configs/gpu/student_NAME.json, distilled in this order while the budget lasts")
    ap.add_argument("--budget", type=float, default=480, help="seconds: a step starts only if it is expected to "
                    "end within 45%% of it (teachers, determinism rerun) or 95%% (students)")
    ap.add_argument("--base-model", help="override the teachers' base_model (a local folder)")
    ap.add_argument("--pack", help="tar.gz each exported student into this folder (the files to bring back)")
    ap.add_argument("--sweep", action="store_true", help="also sweep scoring throughput (batch x precision)")
    ap.add_argument("--smoke", action="store_true", help="one epoch on a few queries, on CPU: checks the wiring")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    import torch

    t0 = time.time()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    res: dict = {
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
        "torch": torch.__version__,
        "teachers": {},
        "students": {},
        "skipped": [],
        "errors": {},
    }

    def save():
        res["seconds"] = round(time.time() - t0, 1)
        out.write_text(json.dumps(res, indent=2) + "\n")

    def fits(expected_s: float, frac: float) -> bool:  # expected: the last step of the same kind took as long
        return time.time() - t0 + expected_s < frac * args.budget

    common: dict = {}
    if args.smoke:
        small = ROOT / ".cache" / "rerank" / "smoke_train.jsonl"
        small.parent.mkdir(parents=True, exist_ok=True)
        lines = (ROOT / "data" / "esci" / "esci_us_train.jsonl").read_text().splitlines()[:80]
        small.write_text("\n".join(lines) + "\n")
        common = {
            "epochs": 1,
            "epoch_eval_depth": 5,
            "device": "cpu",
            "early_stopping_patience": None,
            "train": [str(small)],
        }
    teacher_over = dict(common, **({"base_model": args.base_model} if args.base_model else {}))
    suffix = "-smoke" if args.smoke else ""
    cfg_dir = Path(args.configs)
    for name in args.teachers:
        last = list(res["teachers"].values())[-1]["seconds"] if res["teachers"] else 0
        if res["teachers"] and not fits(last, 0.45):
            res["skipped"].append(f"teacher {name}")
            continue
        try:
            res["teachers"][name] = _run(cfg_dir / f"teacher_{name}.json", teacher_over, suffix)
        except Exception:
            res["errors"][name] = traceback.format_exc()
            logger.exception("teacher %s failed", name)
        save()
    if not res["teachers"]:
        return 1
    ranked = sorted(res["teachers"], key=lambda n: -res["teachers"][n]["dev_fused"])
    best, first = ranked[0], next(iter(res["teachers"]))
    ensemble = ranked[: args.ensemble]
    res["best_teacher"], res["ensemble"] = best, ensemble
    logger.info("teachers on dev: %s", {n: res["teachers"][n]["dev_fused"] for n in ranked})
    save()
    teacher_dirs = {n: res["teachers"][n]["output_dir"] for n in ranked}
    students = [(n, cfg_dir / f"student_{n}.json", [teacher_dirs[t] for t in ensemble]) for n in args.students]
    if len(ensemble) > 1:  # what the ensemble adds: the same L3 from the best teacher alone
        students.insert(2, ("l3_single", cfg_dir / "student_l3.json", [teacher_dirs[best]]))
    for name, path, teachers in students:
        last = list(res["students"].values())[-1]["seconds"] if res["students"] else 60
        if not fits(last, 0.95):
            res["skipped"].append(f"student {name}")
            continue
        over = dict(common, base_model=teacher_dirs[best], distill_from=teachers)
        if name == "l3_single":  # the config's own output_dir, beside which this one is written
            over["output_dir"] = json.loads(path.read_text())["output_dir"] + "-single"
        try:
            res["students"][name] = _run(path, over, suffix) | {"teachers": [Path(t).name for t in teachers]}
            dst = export(Path(res["students"][name]["output_dir"]), Path(args.export_dir) / f"student-{name}")
            if args.pack:
                Path(args.pack).mkdir(parents=True, exist_ok=True)
                with tarfile.open(Path(args.pack) / f"student-{name}.tar.gz", "w:gz") as tar:
                    tar.add(dst, arcname=dst.name)
        except Exception:
            res["errors"][name] = traceback.format_exc()
            logger.exception("student %s failed", name)
        save()
    if fits(res["teachers"][first]["seconds"], 0.95):  # determinism, last: the first teacher's config and seed again
        try:
            again = _run(
                cfg_dir / f"teacher_{first}.json",
                dict(teacher_over, output_dir=res["teachers"][first]["output_dir"] + "-rerun"),
            )  # the output_dir already carries the smoke suffix
            res["determinism"] = {
                "teacher": first,
                "first": [r["dev_ndcg@10_fused"] for r in res["teachers"][first]["epochs_log"]],
                "rerun": [r["dev_ndcg@10_fused"] for r in again["epochs_log"]],
                "first_ce": [r["dev_ndcg@10_cross_encoder"] for r in res["teachers"][first]["epochs_log"]],
                "rerun_ce": [r["dev_ndcg@10_cross_encoder"] for r in again["epochs_log"]],
            }
        except Exception:
            res["errors"]["determinism"] = traceback.format_exc()
    else:
        res["skipped"].append("determinism rerun")
    if args.sweep and torch.cuda.is_available():
        try:
            from rerank._data import build_pool, qrels, read_esci
            from rerank._text import listing_text

            cfg = load_config(cfg_dir / f"teacher_{best}.json")
            pool = build_pool(cfg.pool)
            texts = [listing_text(x, cfg.text_format) for x in list(pool.values())[:512]]
            queries = sorted(qrels(read_esci(cfg.dev)[0]))
            pairs = [(queries[i % len(queries)], t) for i, t in enumerate(texts)]
            res["sweep"] = sweep(teacher_dirs[best], pairs)
        except Exception:
            res["errors"]["sweep"] = traceback.format_exc()
    save()
    print(f"device {res['device']}, best teacher {best}, ensemble {', '.join(ensemble)}, {res['seconds']} s")
    print(f"{'model':<28} {'dev hybrid':>10} {'dev CE':>8} {'dev fused':>10} {'epoch':>6} {'train s':>8}")
    for kind in ("teachers", "students"):
        for n, r in res[kind].items():
            print(
                f"{kind[:-1] + ' ' + n:<28} {r['dev_hybrid']:>10.4f} {r['dev_cross_encoder']:>8.4f} "
                f"{r['dev_fused']:>10.4f} {r['best_epoch']:>6} {r['train_runtime_s'] or 0:>8.1f}"
            )
    if "determinism" in res:
        print("determinism (fused dev by epoch):", res["determinism"]["first"], res["determinism"]["rerun"])
    for r in res.get("sweep", []):
        print(f"sweep {r['precision']} len {r['max_length']} batch {r['batch']}: {r['pairs_per_s']} pairs/s")
    if res["skipped"]:
        print("skipped for time:", ", ".join(res["skipped"]))
    if res["errors"]:
        print("errors:", ", ".join(res["errors"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
