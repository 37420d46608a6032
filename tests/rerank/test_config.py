"""Config and data validation: clear errors before any model loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rerank._data import DataError, read_esci
from rerank.config import ROOT, ConfigError, load_config
from rerank.train import TrainingData, main

ROW = {
    "query": "red dress",
    "product_id": "P1",
    "product_title": "Red summer dress",
    "product_brand": "Acme",
    "product_color": "red",
    "product_text": "",
    "label": "E",
}


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _cfg(tmp_path, **kw):
    data = _write(tmp_path / "esci.jsonl", [ROW])
    raw = {
        "train": [str(data)],
        "dev": str(data),
        "test": str(data),
        "pool": [str(data)],
        "output_dir": str(tmp_path / "out"),
    }
    raw.update(kw)
    p = tmp_path / "cfg.json"
    p.write_text(json.dumps(raw))
    return p


def test_default_config_is_valid():
    cfg = load_config("rerank/configs/default.json")
    assert cfg.loss in ("bce", "lambda", "listnet", "plistmle", "ranknet", "mnrl")
    assert cfg.train[0].is_file()


@pytest.mark.parametrize(
    "path", sorted(str(p) for p in (ROOT / "rerank" / "configs").rglob("*.json")), ids=lambda p: p.split("configs/")[1]
)
def test_every_committed_config_validates(path):
    """The schema holds for every recipe in the repo (the teachers they name need not exist yet)."""
    from rerank.config import TrainConfig

    cfg = TrainConfig.model_validate(json.loads(Path(path).read_text()))
    assert (cfg.distill_from is None) == (cfg.loss != "mse")


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.json")


def test_missing_data_file_named(tmp_path):
    p = _cfg(tmp_path, dev=str(tmp_path / "missing_dev.jsonl"))
    with pytest.raises(ConfigError, match="missing_dev.jsonl"):
        load_config(p)


def test_unknown_loss_lists_choices(tmp_path):
    with pytest.raises(ConfigError, match="unknown loss 'hinge'.*lambda"):
        load_config(_cfg(tmp_path, loss="hinge"))


def test_unknown_key_rejected(tmp_path):
    with pytest.raises(ConfigError, match="epocs"):
        load_config(_cfg(tmp_path, epocs=3))


def test_toml_and_bad_syntax(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('loss = "bce"\nepochs = 1\n')
    assert load_config(p).loss == "bce"
    p.write_text("loss = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(p)


def test_main_reports_error_and_exit_code(tmp_path, capsys):
    assert main(["--config", str(_cfg(tmp_path, loss="hinge"))]) == 2
    assert "unknown loss" in capsys.readouterr().err


def test_label_off_the_esci_scale(tmp_path):
    p = _write(tmp_path / "bad.jsonl", [{**ROW, "label": "3"}])
    with pytest.raises(DataError, match="not on the ESCI scale"):
        read_esci(p)


def test_no_positives_is_an_error_before_training(tmp_path):
    data = _write(tmp_path / "neg.jsonl", [{**ROW, "label": "I"}])
    cfg = load_config(_cfg(tmp_path, train=[str(data)]))
    with pytest.raises(DataError, match="no positive pair"):
        TrainingData(cfg, show_progress=False)


def test_extra_pairs_label_scale(tmp_path):
    extra = _write(tmp_path / "extra.jsonl", [{"query": "red dress", "text": "Red dress", "label": 3}])
    cfg = load_config(_cfg(tmp_path, extra_pairs=[{"name": "llm", "path": str(extra)}]))
    with pytest.raises(DataError, match=r"\[0, 1\] gain scale"):
        TrainingData(cfg, show_progress=False)


def test_distillation_needs_mse_and_a_teacher_folder(tmp_path):
    with pytest.raises(ConfigError, match="distill_from and loss 'mse'"):
        load_config(_cfg(tmp_path, loss="mse"))
    with pytest.raises(ConfigError, match="distill_from and loss 'mse'"):
        load_config(_cfg(tmp_path, distill_from=str(tmp_path)))
    with pytest.raises(ConfigError, match="not a trained reranker folder"):
        load_config(_cfg(tmp_path, loss="mse", distill_from=str(tmp_path)))


def test_loss_mini_batch_only_for_listwise_losses(tmp_path):
    assert load_config(_cfg(tmp_path, loss="lambda", loss_mini_batch_size=0)).loss_mini_batch_size == 0
    with pytest.raises(ConfigError, match="listwise"):
        load_config(_cfg(tmp_path, loss="bce", loss_mini_batch_size=0))
    with pytest.raises(ConfigError, match="whole batch"):
        load_config(_cfg(tmp_path, loss="lambda", loss_mini_batch_size=-1))


def test_distill_from_takes_one_teacher_or_several(tmp_path):
    for name in ("t1", "t2"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text("{}")
    one = load_config(_cfg(tmp_path, loss="mse", distill_from=str(tmp_path / "t1")))
    assert one.distill_from == [tmp_path / "t1"]
    two = load_config(_cfg(tmp_path, loss="mse", distill_from=[str(tmp_path / "t1"), str(tmp_path / "t2")]))
    assert two.distill_from == [tmp_path / "t1", tmp_path / "t2"]
    with pytest.raises(ConfigError, match="t3 is not a trained reranker folder"):
        load_config(_cfg(tmp_path, loss="mse", distill_from=[str(tmp_path / "t1"), str(tmp_path / "t3")]))


def test_unknown_device_rejected(tmp_path):
    with pytest.raises(ConfigError, match="device"):
        load_config(_cfg(tmp_path, device="tpu"))
