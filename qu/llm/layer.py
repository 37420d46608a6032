"""Layer 3: ask an LLM about queries the fast layers leave under-explained, validate every value, merge.

Policy (settings.qu_llm_policy): "never", "always", or "residual" (the default: call when at least
`qu_llm_min_residual_words` words are left unexplained, or no category was found). The call runs
with a deadline; on timeout, HTTP failure or malformed JSON the fast layers' answer stands, and the
failure is counted (`stats()`) and logged. The LLM only adds attributes the fast layers left empty;
each value must be a phrase of the query and pass the lexicon/taxonomy check, or it is rejected
and recorded in `extra["llm_rejected"]`.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import ValidationError

from qu.llm.backends import make_client
from qu.llm.cache import DiskCache
from qu.llm.prompts import Prompt, load_prompt
from qu.llm.types import LLMAttributes, LLMClient, json_schema
from qu.sizes import find_sizes
from qu.types import ParsedQuery, Span

if TYPE_CHECKING:
    from preloved.settings import Settings
    from qu.extractor import QUExtractor

logger = logging.getLogger(__name__)

CallPolicy = Literal["never", "always", "residual"]
_WORD = re.compile(r"[^\W\d_]{2,}", re.UNICODE)
_STOP = {"and", "the", "for", "with", "of", "in", "on", "a", "an", "to", "or", "size", "new", "cheap", "best"}


class LLMLayer:
    def __init__(
        self,
        client: LLMClient,
        prompt: Prompt | None = None,
        cache_dir: Path | None = None,
        timeout_s: float = 2.0,
        policy: CallPolicy = "residual",
        min_residual_words: int = 2,
    ):
        if policy not in ("never", "always", "residual"):
            raise ValueError(f"LLM call policy {policy!r}; choose from never, always, residual")
        self.client = client
        self.prompt = prompt or load_prompt()
        self.cache = DiskCache(cache_dir) if cache_dir else None
        self.timeout_s = timeout_s
        self.policy = policy
        self.min_residual_words = min_residual_words
        self.counts: Counter = Counter()
        self.latencies_ms: list[float] = []
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qu-llm")
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, client: LLMClient | None = None) -> LLMLayer:
        client = client or make_client(
            settings.llm_backend, url=settings.llm_url, model=settings.llm_model, cache_dir=settings.cache_dir
        )
        return cls(
            client,
            prompt=load_prompt(getattr(settings, "qu_llm_prompt", "extract_attributes.v1")),
            cache_dir=Path(settings.cache_dir) / "qu_llm",
            timeout_s=settings.llm_timeout_s,
            policy=getattr(settings, "qu_llm_policy", "residual"),
            min_residual_words=getattr(settings, "qu_llm_min_residual_words", 2),
        )

    # ---- policy --------------------------------------------------------------------------------
    def wants(self, parsed: ParsedQuery) -> bool:
        if self.policy == "never":
            return False
        if self.policy == "always":
            return True
        words = [w for w in _WORD.findall(parsed.residual.lower()) if w not in _STOP]
        return len(words) >= self.min_residual_words or (parsed.category is None and bool(words))

    # ---- calling -------------------------------------------------------------------------------
    def ask(self, query: str) -> LLMAttributes | None:
        """The validated-shape answer for a query, from cache or the backend; None on any failure."""
        model = getattr(self.client, "model", "?")
        answer = self.cache.get(self.prompt.id, model, query) if self.cache else None
        fresh = answer is None
        if not fresh:
            self.counts["cache_hits"] += 1
        else:
            t0 = time.perf_counter()
            self.counts["calls"] += 1
            fut = self._pool.submit(
                self.client.complete, self.prompt.render(query), json_schema(), self.timeout_s
            )
            try:
                answer = fut.result(timeout=self.timeout_s)
            except FutureTimeout:
                self.counts["timeouts"] += 1
                logger.warning(
                    "LLM %s timed out after %.1fs; fast layers answer %r", model, self.timeout_s, query
                )
                return None
            except Exception as e:  # noqa: BLE001 - any backend failure falls back to the fast layers
                self.counts["errors"] += 1
                logger.warning(
                    "LLM %s failed (%s: %s); fast layers answer %r", model, type(e).__name__, e, query
                )
                return None
            finally:
                self.latencies_ms.append((time.perf_counter() - t0) * 1000)
        try:
            parsed = LLMAttributes.model_validate(json.loads(answer))
        except (ValueError, ValidationError, TypeError) as e:
            self.counts["malformed"] += 1
            logger.warning("LLM %s returned malformed JSON for %r: %s", model, query, str(e)[:200])
            return None
        if self.cache and fresh:
            self.cache.put(self.prompt.id, model, query, answer)
        return parsed

    # ---- validation and merge ------------------------------------------------------------------
    def _valid(self, ext: QUExtractor, attribute: str, phrase: str) -> str | None:
        lex, tax = ext.lexicon, ext.taxonomy
        if attribute == "brand":
            return lex.brand(phrase)
        if attribute == "category":
            return tax.normalise(phrase)
        if attribute == "colour":
            return lex.colour(phrase)
        if attribute == "size":
            found = find_sizes(phrase)
            return found[0].value if found and found[0].text.lower() == phrase.strip().lower() else None
        if attribute in ("gender", "condition", "style"):
            return (
                ext.canonical(attribute, phrase)
                if ext.canonical(attribute, phrase) in _known(ext, attribute)
                else None
            )
        return None

    def refine(self, parsed: ParsedQuery, ext: QUExtractor) -> ParsedQuery:
        if not self.wants(parsed):
            self.counts["skipped"] += 1
            return parsed
        ans = self.ask(parsed.query)
        if ans is None:
            return parsed
        spans = list(parsed.spans)
        rejected: list[dict] = []
        text = parsed.query[: ext.max_chars]
        low = text.lower()
        for attr in ("brand", "category", "size", "colour", "style", "gender", "condition"):
            if parsed.values(attr):
                continue  # the fast layers' answer stands
            for phrase in getattr(ans, attr):
                phrase = phrase.strip()
                pos = low.find(phrase.lower()) if phrase else -1
                value = self._valid(ext, attr, phrase) if pos >= 0 else None
                if value is None:
                    rejected.append(
                        {
                            "attribute": attr,
                            "text": phrase[:80],
                            "why": "not in the query" if pos < 0 else "fails the lexicon/taxonomy check",
                        }
                    )
                    self.counts["rejected"] += 1
                    continue
                sp = Span(
                    attribute=attr,
                    text=text[pos : pos + len(phrase)],
                    start=pos,
                    end=pos + len(phrase),
                    value=value,
                    source="llm",
                    confidence=0.5,
                )
                if any(sp.start < o.end and o.start < sp.end for o in spans):
                    continue
                spans.append(sp)
                self.counts["accepted"] += 1
        if rejected:
            logger.info("LLM values rejected for %r: %s", parsed.query, rejected)
        out = ext._build(
            parsed.query, sorted(spans, key=lambda s: s.start), truncated=len(parsed.query) > ext.max_chars
        )
        if parsed.price_min is None and ans.price_min is not None and _price_in(text, ans.price_min):
            out = out.model_copy(update={"price_min": ans.price_min})
        if parsed.price_max is None and ans.price_max is not None and _price_in(text, ans.price_max):
            out = out.model_copy(update={"price_max": ans.price_max})
        extra = dict(out.extra)
        extra["llm"] = {"model": getattr(self.client, "model", "?"), "prompt": self.prompt.id}
        if rejected:
            extra["llm_rejected"] = rejected
        return out.model_copy(update={"extra": extra})

    def stats(self) -> dict:
        lat = sorted(self.latencies_ms)
        n = self.counts["calls"] + self.counts["cache_hits"]
        return {
            **dict(self.counts),
            "cache_hit_rate": round(self.counts["cache_hits"] / n, 4) if n else None,
            "latency_ms_p50": round(lat[len(lat) // 2], 1) if lat else None,
            "latency_ms_p95": round(lat[min(len(lat) - 1, int(len(lat) * 0.95))], 1) if lat else None,
        }


def _price_in(text: str, value: float) -> bool:
    v = int(value) if float(value) == int(value) else value
    return re.search(rf"(?<![\d.]){re.escape(str(v))}(?![\d])", text) is not None


def _known(ext: QUExtractor, attribute: str) -> set:
    lex = ext.lexicon
    if attribute == "gender":
        return {("+".join(v) if isinstance(v, list) else v) for v in lex.gender_alias.values()}
    if attribute == "condition":
        return set(lex.condition_alias.values())
    return set(lex.style_alias.values())
