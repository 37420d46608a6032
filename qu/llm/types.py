"""Types of the LLM layer: the client protocol and the schema the model's answer must fit."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, field_validator


@runtime_checkable
class LLMClient(Protocol):
    """Turns a prompt into a string (JSON constrained by `schema` where the backend can)."""

    name: str
    model: str

    def complete(self, prompt: str, schema: dict, timeout_s: float) -> str: ...


class LLMAttributes(BaseModel):
    """What the LLM may answer. Phrases must be copied from the query; they are validated afterwards."""

    model_config = ConfigDict(extra="ignore")

    brand: list[str] = Field(default_factory=list)
    category: list[str] = Field(default_factory=list)
    size: list[str] = Field(default_factory=list)
    colour: list[str] = Field(default_factory=list)
    style: list[str] = Field(default_factory=list)
    gender: list[str] = Field(default_factory=list)
    condition: list[str] = Field(default_factory=list)
    price_min: float | None = None
    price_max: float | None = None

    @field_validator("brand", "category", "size", "colour", "style", "gender", "condition", mode="before")
    @classmethod
    def _listify(cls, v):
        if v is None:
            return []
        if isinstance(v, str):
            return [v] if v.strip() else []
        if isinstance(v, list):
            return [str(x) for x in v if isinstance(x, (str, int, float)) and str(x).strip()][:5]
        raise ValueError(f"expected a string or a list of strings, got {type(v).__name__}")


def json_schema() -> dict:
    """The JSON schema given to backends that constrain output (llama.cpp grammar, OpenAI json_schema)."""
    lst = {"type": "array", "items": {"type": "string"}, "maxItems": 5}
    num = {"anyOf": [{"type": "number"}, {"type": "null"}]}
    props = {k: lst for k in ("brand", "category", "size", "colour", "style", "gender", "condition")}
    props |= {"price_min": num, "price_max": num}
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}
