"""A tiny real fine-tune: a one-layer MiniLM cross-encoder trained for a few steps on a handful of pairs."""

from __future__ import annotations

import json

import pytest

from rerank import CrossEncoderReranker
from rerank.train import main

PRODUCTS = [
    ("P1", "Nike Air Max 90 running trainers", "Nike", "black"),
    ("P2", "Adidas Samba leather trainers", "Adidas", "white"),
    ("P3", "Red wool winter scarf", "Acme", "red"),
    ("P4", "Levi's 501 original fit jeans", "Levi's", "blue"),
    ("P5", "Leather ankle boots", "Dune", "brown"),
    ("P6", "Silk floral summer dress", "Zara", "pink"),
    ("P7", "Cotton crew neck t-shirt", "Uniqlo", "grey"),
    ("P8", "Wool overcoat", "Cos", "camel"),
]
TRAIN = [
    ("black trainers", "P1", "E"),
    ("black trainers", "P2", "S"),
    ("red scarf", "P3", "E"),
    ("blue jeans", "P4", "E"),
    ("brown boots", "P5", "E"),
    ("summer dress", "P6", "E"),
    ("summer dress", "P7", "I"),
]
DEV = [("grey t-shirt", "P7", "E"), ("camel coat", "P8", "E")]


def _esci(path, rows):
    prod = {p[0]: p for p in PRODUCTS}
    path.write_text(
        "".join(
            json.dumps(
                {
                    "query": q,
                    "product_id": pid,
                    "product_title": prod[pid][1],
                    "product_brand": prod[pid][2],
                    "product_color": prod[pid][3],
                    "product_text": "",
                    "label": lab,
                }
            )
            + "\n"
            for q, pid, lab in rows
        )
    )
    return str(path)


def _tiny_config(tmp_path, tiny_base, name, **overrides):
    """A tiny training config over TRAIN and DEV, written to tmp_path/<name>.json, training into
    tmp_path/<name>; `overrides` replace or add keys."""
    train, dev = tmp_path / "train.jsonl", tmp_path / "dev.jsonl"
    if not train.is_file():
        _esci(train, TRAIN)
        _esci(dev, DEV)
    raw = {
        "base_model": str(tiny_base),
        "train": [str(train)],
        "dev": str(dev),
        "test": None,
        "pool": [str(train), str(dev)],
        "max_length": 24,
        "output_dir": str(tmp_path / name),
        "eval_depth": 5,
        "threads": 1,
        **overrides,
    }
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(raw))
    return path


def test_tiny_fine_tune_writes_a_loadable_folder(tmp_path, tiny_base):
    out = tmp_path / "model"
    cfg = _tiny_config(
        tmp_path,
        tiny_base,
        "model",
        test=str(tmp_path / "dev.jsonl"),
        hard_negatives={"per_query": 2, "depth": 5},
        loss="lambda",
        loss_mini_batch_size=0,  # the whole batch in one forward pass, as the GPU configs train
        epochs=1,
        batch_size=4,
        seed=3,
    )
    assert main(["--config", str(cfg), "--no-progress"]) == 0
    log = json.loads((out / "training_log.json").read_text())
    assert log["pairs_by_source"]["esci_judged"] == len(TRAIN)
    assert log["pairs_by_source"]["hybrid_hard_negatives"] > 0
    assert [r["epoch"] for r in log["epochs_log"]][:1] == [0]  # the untrained head is reported first
    assert "Metrics" in (out / "README.md").read_text()
    from sentence_transformers.cross_encoder import CrossEncoder

    assert CrossEncoder(str(out)).predict([("black trainers", "Nike Air Max 90")]).shape == (1,)
    assert CrossEncoderReranker(out).backend == "torch"


def test_distilled_student_learns_the_teachers_scores(tmp_path, tiny_base):
    """Distillation: every judged pair and mined candidate of a train query, labelled with the
    teacher's own score; the student starts from the teacher's first layers."""
    import numpy as np
    from sentence_transformers.cross_encoder import CrossEncoder

    from rerank.config import load_config
    from rerank.train import TrainingData, _scorer

    out = tmp_path / "student"
    extra = tmp_path / "extra.jsonl"
    extra_pair = {"query": "vintage levis 501", "text": "Levi's 501 jeans W32 light wash", "label": 1.0}
    extra.write_text(json.dumps(extra_pair))
    cfg_path = _tiny_config(
        tmp_path,
        tiny_base,
        "student",
        num_layers=1,
        distill_from=str(tiny_base),
        loss="mse",
        distill_depth=3,
        epochs=1,
        batch_size=8,
        eval_untrained=False,
        final_eval=False,
        extra_pairs=[{"name": "catalogue", "path": str(extra)}],
    )
    cfg = load_config(cfg_path)
    data = TrainingData(cfg, show_progress=False)
    teacher = CrossEncoder(str(tiny_base), max_length=24, device="cpu")
    rows, counts = data.distill_rows(_scorer(teacher, 24))
    assert counts["esci_judged"] == len(TRAIN)
    # extra pairs are distilled too: the teacher's score, not the file's label
    assert counts["catalogue"] == 1
    (extra_row,) = [r for r in rows if r["doc"] == "Levi's 501 jeans W32 light wash"]
    assert extra_row["label"] == pytest.approx(
        float(_scorer(teacher, 24)("vintage levis 501", [extra_row["doc"]])[0]), abs=1e-5
    )
    assert 0 < counts["teacher_scored_candidates"] <= 3 * len({q for q, _, _ in TRAIN})
    q, doc, label = rows[0]["query"], rows[0]["doc"], rows[0]["label"]
    assert label == pytest.approx(float(_scorer(teacher, 24)(q, [doc])[0]), abs=1e-5)
    assert all(np.isfinite(r["label"]) for r in rows)

    assert main(["--config", str(cfg_path), "--no-progress"]) == 0
    log = json.loads((out / "training_log.json").read_text())
    assert log["pairs_by_source"] == dict(counts)
    assert "distilled from" in (out / "README.md").read_text()
    assert CrossEncoder(str(out)).predict([("black trainers", "Nike Air Max 90")]).shape == (1,)


def test_listwise_loss_takes_the_configured_mini_batch(tiny_base):
    import torch
    from sentence_transformers.cross_encoder import CrossEncoder

    from rerank.train import _make_loss

    model = CrossEncoder(str(tiny_base), device="cpu")
    passes = []
    model.register_forward_hook(lambda module, args, out: passes.append(1))
    queries = ["black trainers", "red dress", "blue jeans"]
    docs = [["Nike Air Max 90", "Adidas Samba", "Red Dress"], ["Red Maxi Dress", "Blue Jeans"], ["Levi's 501"]]
    labels = [torch.tensor([1.0, 0.0, 0.0]), torch.tensor([1.0, 0.0]), torch.tensor([1.0])]

    def forward_passes(loss_name, mini_batch_size=None):
        passes.clear()
        _make_loss(loss_name, model, mini_batch_size)([queries, docs], labels)
        return len(passes)

    assert forward_passes("lambda", 0) == 1  # 0 in the config: the whole batch (6 pairs) in one pass
    assert forward_passes("listnet", 0) == 1
    assert forward_passes("lambda", 2) == 3
    assert forward_passes("lambda") == 2  # the library's default: batch_size (3 queries) pairs a pass


def test_an_ensemble_of_teachers_labels_with_the_mean_standardised_score(tiny_base, tmp_path):
    """Two teachers: each one's scores are standardised per query, then averaged; one teacher: raw scores."""
    import shutil

    import numpy as np

    from rerank.train import _teacher_scorer

    other = tmp_path / "teacher2"
    shutil.copytree(tiny_base, other)
    texts = ["Nike Air Max 90 running trainers", "Red wool winter scarf", "Leather ankle boots"]
    raw = _teacher_scorer([tiny_base], "cpu")("black trainers", texts)
    both = _teacher_scorer([tiny_base, other], "cpu")("black trainers", texts)
    z = (raw - raw.mean()) / (raw.std() + 1e-6)
    assert both == pytest.approx(z, abs=1e-4)
    assert not np.allclose(raw, z)


def test_an_interrupted_run_resumes_to_the_model_an_uninterrupted_run_trains(tmp_path, tiny_base):
    """Killed after its first epoch's checkpoint, a run started again with the same config resumes
    there and ends with the same model and dev metrics as a run never interrupted (and the same seed
    gives the same model twice: deterministic)."""
    from sentence_transformers.cross_encoder import CrossEncoder
    from transformers import TrainerCallback

    from rerank.config import load_config
    from rerank.train import train

    def cfg(out):
        return load_config(
            _tiny_config(
                tmp_path,
                tiny_base,
                out,
                hard_negatives={"per_query": 2, "depth": 5},
                loss="bce",
                epochs=2,
                batch_size=2,
                seed=5,
            )
        )

    class KilledAfterFirstCheckpoint(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            raise KeyboardInterrupt("killed")

    with pytest.raises(KeyboardInterrupt):
        train(cfg("resumed"), show_progress=False, callbacks=(KilledAfterFirstCheckpoint(),))
    assert len(list((tmp_path / "resumed" / "checkpoints").glob("checkpoint-*"))) == 1
    resumed = train(cfg("resumed"), show_progress=False)
    whole = train(cfg("whole"), show_progress=False)
    assert resumed["resumed"] and not whole["resumed"]
    assert [r["epoch"] for r in resumed["epochs_log"]] == [0, 1, 2] == [r["epoch"] for r in whole["epochs_log"]]
    for a, b in zip(resumed["epochs_log"], whole["epochs_log"], strict=True):
        assert a["dev_ndcg@10_fused"] == pytest.approx(b["dev_ndcg@10_fused"], abs=1e-3)
    pairs = [("black trainers", "Nike Air Max 90"), ("red scarf", "Wool overcoat")]
    p_resumed = CrossEncoder(str(tmp_path / "resumed")).predict(pairs)
    p_whole = CrossEncoder(str(tmp_path / "whole")).predict(pairs)
    assert p_resumed == pytest.approx(p_whole, abs=1e-4)
    assert "resumed after an interruption" in (tmp_path / "resumed" / "README.md").read_text()
