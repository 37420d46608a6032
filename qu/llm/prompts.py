"""Versioned prompt files in prompts/: `<name>.<version>.txt` plus `<name>.<version>.examples.jsonl`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from qu._data import ROOT
from qu.llm.types import LLMAttributes

PROMPTS_DIR = ROOT / "prompts"


@dataclass(frozen=True)
class Prompt:
    name: str
    version: str
    template: str
    examples: tuple[tuple[str, LLMAttributes], ...]

    @property
    def id(self) -> str:
        return f"{self.name}.{self.version}"

    def render(self, query: str) -> str:
        shots = "\n".join(f"Query: {q}\nJSON: {a.model_dump_json()}\n" for q, a in self.examples)
        # the query is one line of data; braces cannot reach the template because of str.replace
        return self.template.replace("{examples}", shots).replace("{query}", " ".join(query.split()))


def read_examples(path: Path, keys: set[str]) -> list[tuple[int, dict]]:
    """(line number, row) for each line of a few-shot examples file. A line that is not a JSON object
    with exactly `keys` raises ValueError naming the file and line."""
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path.name} line {n}: not JSON ({e.msg})") from None
        if not isinstance(row, dict) or set(row) != keys:
            got = sorted(row) if isinstance(row, dict) else type(row).__name__
            raise ValueError(f"{path.name} line {n}: expected keys {' and '.join(sorted(keys))}, got {got}")
        rows.append((n, row))
    return rows


def available_prompts(directory: Path = PROMPTS_DIR) -> list[str]:
    return sorted(p.name[: -len(".txt")] for p in directory.glob("*.txt"))


def load_prompt(prompt_id: str = "extract_attributes.v1", directory: Path = PROMPTS_DIR) -> Prompt:
    """Load a prompt and its few-shot examples by id; an unknown id raises and lists the valid ones."""
    path = directory / f"{prompt_id}.txt"
    if not path.exists():
        raise ValueError(
            f"unknown prompt {prompt_id!r}; available: {', '.join(available_prompts(directory)) or 'none'}"
        )
    name, _, version = prompt_id.rpartition(".")
    template = path.read_text(encoding="utf-8")
    for placeholder in ("{examples}", "{query}"):
        if placeholder not in template:
            raise ValueError(f"prompt {prompt_id!r} lacks the {placeholder} placeholder")
    examples = []
    ex_path = directory / f"{prompt_id}.examples.jsonl"
    if ex_path.exists():
        for n, row in read_examples(ex_path, {"query", "output"}):
            out = LLMAttributes.model_validate(row["output"])
            for attr in ("brand", "category", "size", "colour", "style", "gender", "condition"):
                for phrase in getattr(out, attr):
                    if phrase.lower() not in row["query"].lower():
                        raise ValueError(f"{ex_path.name} line {n}: {attr} {phrase!r} is not in the query")
            examples.append((row["query"], out))
    return Prompt(name=name, version=version, template=template, examples=tuple(examples))
