"""Do the int8 models read the same on a CPU without VNNI? Runs the shipped qu tagger and reranker
here and under QEMU's user-mode emulation of a Haswell (AVX2, no AVX-512, no VNNI: the int8 kernels
onnxruntime picks there saturate), with the weights as shipped (int8) and as `qu.onnx_session`
loads them where int8 saturates (uint8), and compares every output with this machine's exact ones.

    apt-get install qemu-user            # Debian's package; the emulated run takes about a minute
    .venv/bin/python bench/int8_exactness.py [--queries 30]

Prints a table and writes bench/results/int8_exactness.json. Speed under emulation means nothing;
only the outputs are compared.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TAGGER = ROOT / "models" / "qu" / "minilm"
RERANKER = ROOT / "models" / "reranker"


def outputs(n_queries: int, out: Path) -> None:
    """Tagger logits and reranker scores with int8 and uint8 weights, saved to `out` (npz)."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    from qu._data import load_split
    from qu.onnx_session import int8_session

    queries = [r["query"] for r in load_split("dev")][:n_queries]
    texts = [r["query"] for r in load_split("train")][:50]
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    tok = Tokenizer.from_file(str(TAGGER / "tokenizer.json"))
    rtok = Tokenizer.from_file(str(RERANKER / "tokenizer.json"))
    rtok.enable_truncation(max_length=32, strategy="longest_first")
    rtok.enable_padding(pad_id=0)
    found = {}
    for weights, exact in (("int8", False), ("uint8", True)):
        tagger = int8_session(TAGGER / "model.int8.onnx", so, exact=exact)
        for i, q in enumerate(queries):
            e = tok.encode(q)
            feed = {"input_ids": [e.ids], "attention_mask": [e.attention_mask], "token_type_ids": [e.type_ids]}
            found[f"tagger/{weights}/{i}"] = tagger.run(None, {k: np.array(v) for k, v in feed.items()})[0]
        reranker = int8_session(RERANKER / "onnx" / "model_qint8.onnx", so, exact=exact)
        names = {i.name for i in reranker.get_inputs()}
        for i, q in enumerate(queries[:3]):
            enc = rtok.encode_batch([(q, t) for t in texts])
            feed = {"input_ids": [e.ids for e in enc], "attention_mask": [e.attention_mask for e in enc],
                    "token_type_ids": [e.type_ids for e in enc]}
            feed = {k: np.array(v) for k, v in feed.items() if k in names}
            found[f"reranker/{weights}/{i}"] = reranker.run(None, feed)[0]
    np.savez(out, **found)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=30)
    ap.add_argument("--cpu", default="Haswell", help="QEMU CPU model without VNNI (default Haswell)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "int8_exactness.json"))
    ap.add_argument("--emit", help=argparse.SUPPRESS)  # internal: write this process's outputs here
    args = ap.parse_args()
    if args.emit:
        outputs(args.queries, Path(args.emit))
        return 0
    qemu = shutil.which("qemu-x86_64")
    if qemu is None or platform.machine() != "x86_64":
        sys.exit("needs qemu-x86_64 on an x86_64 machine (Debian: apt-get install qemu-user)")
    with tempfile.TemporaryDirectory() as tmp:
        here, there = Path(tmp) / "here.npz", Path(tmp) / "there.npz"
        me = [sys.executable, __file__, "--queries", str(args.queries)]
        subprocess.run([*me, "--emit", str(here)], check=True)
        print(f"running under qemu-x86_64 -cpu {args.cpu} (about a minute)...", flush=True)
        subprocess.run([qemu, "-cpu", args.cpu, *me, "--emit", str(there)], check=True, stderr=subprocess.DEVNULL)
        a, b = np.load(here), np.load(there)
        rows = []
        for model in ("tagger", "reranker"):
            # against this machine's uint8 outputs, exact on every CPU
            keys = [k for k in a.files if k.startswith(f"{model}/uint8/")]
            for where, weights in (("here", "int8"), (args.cpu, "int8"), (args.cpu, "uint8")):
                other = a if where == "here" else b
                pairs = [(a[k], other[k.replace("/uint8/", f"/{weights}/")]) for k in keys]
                diff = max(float(np.abs(x - y).max()) for x, y in pairs)
                changed = sum(int((x.argmax(-1) != y.argmax(-1)).sum()) for x, y in pairs)
                rows.append({"model": model, "cpu": where, "weights": weights, "inputs": len(pairs),
                             "inputs_differing": sum(not np.array_equal(x, y) for x, y in pairs),
                             "max_abs_diff": diff, "labels_changed": changed if model == "tagger" else None})
    print(f"\nagainst exact products (uint8 weights on this machine; VNNI here: {'no' if _saturates() else 'yes'})")
    print(f"{'model':9} {'cpu':9} {'weights':8} {'inputs':>6} {'differing':>9} {'max |diff|':>11} "
          f"{'labels changed':>14}")
    for r in rows:
        print(f"{r['model']:9} {r['cpu']:9} {r['weights']:8} {r['inputs']:6d} {r['inputs_differing']:9d} "
              f"{r['max_abs_diff']:11.4g} {'' if r['labels_changed'] is None else r['labels_changed']:>14}")
    Path(args.out).write_text(json.dumps({"cpu_emulated": args.cpu, "queries": args.queries, "rows": rows}, indent=2))
    print(f"wrote {args.out}")
    return 0


def _saturates() -> bool:
    from qu.onnx_session import signed_int8_saturates

    return signed_int8_saturates()


if __name__ == "__main__":
    raise SystemExit(main())
