"""The taggers: the shipped spaCy NER, and the MiniLM ONNX export with the ensemble where it is built."""

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
    assert p.brand == "carhartt" and p.size == "uk 8" and p.gender == "men"
    for s in p.spans:
        assert p.query[s.start : s.end] == s.text
    queries = ["nike air max", "womens floral dress size 10", "\u30ca\u30a4\u30ad"]
    assert [x.contract() for x in ext.parse_batch(queries)] == [ext.parse(q).contract() for q in queries]
