"""The LLM layer of query understanding: versioned prompts, registered backends, validation, cache."""

from qu.llm.backends import (
    BACKENDS,
    FakeClient,
    GGUFClient,
    LLMBackendError,
    OpenAIClient,
    make_client,
    register_backend,
)
from qu.llm.layer import LLMLayer
from qu.llm.prompts import Prompt, load_prompt
from qu.llm.types import LLMAttributes, LLMClient, json_schema

__all__ = [
    "BACKENDS",
    "FakeClient",
    "GGUFClient",
    "LLMAttributes",
    "LLMBackendError",
    "LLMClient",
    "LLMLayer",
    "OpenAIClient",
    "Prompt",
    "json_schema",
    "load_prompt",
    "make_client",
    "register_backend",
]
