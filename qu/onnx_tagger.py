"""Layer 2, transformer flavour: a fine-tuned MiniLM token classifier exported to ONNX, int8
(dynamic, per-channel: on dev it scores as the fp32 model does, where per-tensor int8 lost 1.6 points).

The shipped tagger (models/qu/minilm, tracked in git) is the packaged MiniLM cut to its first 3
layers and fine-tuned on QueryNER train with all 17 labels (`qu train-baseline --labels all
--layers 3 --lr 1e-4 --epochs 6`, best epoch on dev), then `qu export-tagger`. Words are the
query's whitespace tokens (QueryNER's tokenisation); each word reads its first sub-token; tags are
decoded under the BIO constraints (Viterbi) and QueryNER labels are read as attributes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from qu._data import ROOT
from qu.baseline_transformer import bio_runs, decode_words, label_attribute
from qu.onnx_session import int8_session
from qu.types import Span

DEFAULT_ONNX_PATH = ROOT / "models" / "qu" / "minilm"
_WORDS = re.compile(r"\S+")
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")  # the exported graph's inputs


def export_onnx(
    model_dir: Path, out_dir: Path = DEFAULT_ONNX_PATH, quantize: bool = True, per_channel: bool = True,
    keep_fp32: bool = False, simplify: bool = True,
) -> Path:
    """Export a fine-tuned token classifier to ONNX (opset 17), dynamically quantised to int8, without the
    exporter's run-time shape arithmetic (`simplify`: the same logits to the bit)."""
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForTokenClassification.from_pretrained(model_dir).eval()
    model.config.return_dict = False
    enc = tok(["nike air max 90 size 8"], return_tensors="pt")
    fp32 = out_dir / "model.fp32.onnx"
    torch.onnx.export(
        model,
        tuple(enc[k] for k in _INPUTS),
        str(fp32),
        input_names=list(_INPUTS),
        output_names=["logits"],
        dynamic_axes={k: {0: "b", 1: "s"} for k in (*_INPUTS, "logits")},
        opset_version=17,
        dynamo=False,
    )
    final = out_dir / "model.int8.onnx"
    if quantize:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(str(fp32), str(final), weight_type=QuantType.QInt8, per_channel=per_channel)
        if not keep_fp32:
            fp32.unlink()
    else:
        fp32.rename(final)
    if simplify:
        _simplify_file(final, tok.vocab_size)
    tok.save_pretrained(out_dir)
    (out_dir / "labels.json").write_text(
        json.dumps([model.config.id2label[i] for i in range(model.config.num_labels)])
    )
    if (Path(model_dir) / "training.json").is_file():  # how it was trained: the dev curve, labels, layers
        (out_dir / "training.json").write_text((Path(model_dir) / "training.json").read_text())
    return final


def _simplify_file(path: Path, vocab_size: int) -> None:
    """Rewrite an exported graph without its run-time shape arithmetic (`qu.onnx_graph`): bit-identical
    logits, about 10% less CPU a query; left as exported where the outputs would differ."""
    import onnx

    from qu.onnx_graph import simplify, verified

    original = path.read_bytes()
    model = onnx.load_from_string(original)
    if simplify(model) and verified(original, simplified := model.SerializeToString(), vocab_size):
        path.write_bytes(simplified)


class OnnxTagger:
    """The exported MiniLM tagger read as attribute spans (brand, colour, category, gender, size)."""

    def __init__(self, path: Path = DEFAULT_ONNX_PATH, threads: int = 1):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        path = Path(path)
        if not (path / "model.int8.onnx").exists():
            raise FileNotFoundError(
                f"no exported MiniLM tagger at {path}; run `qu train-baseline` then `qu export-tagger`"
            )
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        self.session = int8_session(path / "model.int8.onnx", so)  # the same readings on every CPU
        # the fast tokenizer itself: transformers' wrapper held the GIL longer (two workers ran 15% slower)
        self.tok = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tok.enable_truncation(max_length=64)
        self.tok.enable_padding(pad_id=self.tok.token_to_id("[PAD]") or 0)  # to the batch's longest
        self.labels = json.loads((path / "labels.json").read_text())

    def pipe(self, queries: list[str], batch_size: int = 1) -> list[list[Span]]:
        """One query per forward pass whatever `batch_size` says: with dynamic int8 quantisation the
        activation ranges are taken over the whole batch, so padding and neighbours change the
        predictions (on dev, batch sizes 1-256 moved F1 by up to a point). Serving parses one
        query at a time; evaluation and batch use do the same, so every number is the served one."""
        return [self.spans(q) for q in queries]

    def spans(self, query: str) -> list[Span]:
        words = [(m.start(), m.end()) for m in _WORDS.finditer(query)]
        if not words:
            return []
        # `encode`, not `encode_batch`: for one query the batch call's thread pool costs more CPU than the
        # tokenizing (0.15-0.25 ms a query, one thread, session 25)
        enc = self.tok.encode([query[s:e] for s, e in words], is_pretokenized=True)
        feed = {
            "input_ids": np.array([enc.ids], dtype=np.int64),
            "attention_mask": np.array([enc.attention_mask], dtype=np.int64),
            "token_type_ids": np.array([enc.type_ids], dtype=np.int64),
        }
        logits = self.session.run(None, feed)[0]
        tags = decode_words(logits[0], enc.word_ids, len(words), self.labels)
        return self._spans(query, words, tags)

    @staticmethod
    def _spans(query: str, words: list[tuple[int, int]], tags: list[str]) -> list[Span]:
        """BIO word tags -> spans; a tagger trained on QueryNER's own labels ("B-creator") is read
        through `LABEL_TO_ATTRIBUTE`, and runs of labels qu does not read are dropped."""
        out = []
        for label, s, e in bio_runs(tags):
            if (attr := label_attribute(label)) is not None:
                start, end = words[s][0], words[e - 1][1]
                out.append(Span(attribute=attr, text=query[start:end], start=start, end=end, source="tagger",
                                confidence=0.8))
        return out
