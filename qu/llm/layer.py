"""Layer 3: ask an LLM about queries the fast layers leave under-explained, validate every value, merge.

Policy (settings.qu_llm_policy): "never", "always", or "residual" (the default: call when at least
`qu_llm_min_residual_words` words are left unexplained, or no category was found). The call runs
with a deadline; on timeout, HTTP failure or malformed JSON the fast layers' answer stands, and the
failure is counted (`stats()`) and logged. The LLM only adds attributes the fast layers left empty;
each value must be a phrase of the query and pass the lexicon/taxonomy check, or it is rejected
and recorded in `extra["llm_rejected"]`.

Calls run in a pool of `max_inflight` workers (the client's `max_concurrency`: 1 for an in-process
model, a few for an HTTP server). A call is only submitted when a worker is free, so nothing ever
queues: a call that outlives its deadline keeps its worker until the backend returns (a running
thread cannot be stopped), and while every worker is taken a query skips the LLM at once, is
answered by the fast layers and counted as "busy". A slow backend therefore costs one query at most
one timeout, never a growing queue. Counters are guarded by a lock (the service is threaded).
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import ValidationError

from qu.extractor import _mask
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
        max_inflight: int | None = None,
    ):
        if policy not in ("never", "always", "residual"):
            raise ValueError(f"LLM call policy {policy!r}; choose from never, always, residual")
        max_inflight = max_inflight or getattr(client, "max_concurrency", 1)
        if max_inflight < 1:
            raise ValueError(f"max_inflight must be at least 1, got {max_inflight}")
        self.client = client
        self.prompt = prompt or load_prompt()
        self.cache = DiskCache(cache_dir) if cache_dir else None
        self.timeout_s = timeout_s
        self.policy = policy
        self.min_residual_words = min_residual_words
        self.counts: Counter = Counter()
        self.latencies_ms: list[float] = []
        self.max_inflight = max_inflight
        self._inflight = 0  # calls submitted and not yet finished (including those past their deadline)
        self._pool = ThreadPoolExecutor(max_workers=max_inflight, thread_name_prefix="qu-llm")
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
    def _count(self, key: str, n: int = 1) -> None:
        if n:
            with self._lock:
                self.counts[key] += n

    def _release(self, _fut: Future) -> None:
        with self._lock:
            self._inflight -= 1

    def ask(self, query: str) -> LLMAttributes | None:
        """The validated-shape answer for a query, from cache or the backend; None on any failure."""
        model = getattr(self.client, "model", "?")
        answer = self.cache.get(self.prompt.id, model, query) if self.cache else None
        fresh = answer is None
        if not fresh:
            self._count("cache_hits")
        else:
            with self._lock:
                busy = self._inflight >= self.max_inflight
                self.counts["busy" if busy else "calls"] += 1
                if not busy:
                    self._inflight += 1
            if busy:
                logger.warning(
                    "LLM %s busy (%d call(s) still running); fast layers answer %r",
                    model,
                    self.max_inflight,
                    query,
                )
                return None
            t0 = time.perf_counter()
            fut = self._pool.submit(self.client.complete, self.prompt.render(query), json_schema(), self.timeout_s)
            fut.add_done_callback(self._release)  # frees the slot when the call ends, even late
            try:
                answer = fut.result(timeout=self.timeout_s)
            except FutureTimeout:
                fut.cancel()  # a call not yet started never runs; a running one ends in the background
                self._count("timeouts")
                logger.warning("LLM %s timed out after %.1fs; fast layers answer %r", model, self.timeout_s, query)
                return None
            except Exception as e:  # noqa: BLE001 - any backend failure falls back to the fast layers
                self._count("errors")
                logger.warning("LLM %s failed (%s: %s); fast layers answer %r", model, type(e).__name__, e, query)
                return None
            finally:
                with self._lock:
                    self.latencies_ms.append((time.perf_counter() - t0) * 1000)
        try:
            parsed = LLMAttributes.model_validate(json.loads(answer))
        except (ValueError, ValidationError, TypeError) as e:
            self._count("malformed")
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
                ext.canonical(attribute, phrase) if ext.canonical(attribute, phrase) in _known(ext, attribute) else None
            )
        return None

    def refine(self, parsed: ParsedQuery, ext: QUExtractor) -> ParsedQuery:
        if not self.wants(parsed):
            self._count("skipped")
            return parsed
        ans = self.ask(parsed.query)
        if ans is None:
            return parsed
        spans = list(parsed.spans)
        rejected: list[dict] = []
        # phrases are looked for in the text the fast layers read: HTML and requests blanked, offsets unchanged
        text = _mask(parsed.query[: ext.max_chars])
        low = text.lower()
        accepted = 0
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
                accepted += 1
        for attr in ("price_min", "price_max"):
            bound = getattr(ans, attr)
            if getattr(parsed, attr) is not None or bound is None:
                continue  # the fast layers' price stands
            m = _price_in(text, bound)
            if m is None:
                rejected.append({"attribute": attr, "text": str(bound), "why": "not in the query"})
                continue
            sp = Span(
                attribute=attr,
                text=m.group(0),
                start=m.start(),
                end=m.end(),
                value=str(float(bound)),
                source="llm",
                confidence=0.5,
            )
            if any(sp.start < o.end and o.start < sp.end for o in spans if o.attribute != attr):
                continue  # the number is already read as something else ("w30", "uk 8")
            spans.append(sp)
            accepted += 1
        self._count("accepted", accepted)
        self._count("rejected", len(rejected))
        if rejected:
            logger.info("LLM values rejected for %r: %s", parsed.query, rejected)
        out = ext._build(
            parsed.query,
            sorted(spans, key=lambda s: s.start),
            truncated=len(parsed.query) > ext.max_chars,
            masked=text,
        )
        extra = dict(out.extra)
        extra["llm"] = {"model": getattr(self.client, "model", "?"), "prompt": self.prompt.id}
        if rejected:
            extra["llm_rejected"] = rejected
        return out.model_copy(update={"extra": extra})

    def stats(self) -> dict:
        with self._lock:
            counts, lat, in_flight = dict(self.counts), sorted(self.latencies_ms), self._inflight
        n = counts.get("calls", 0) + counts.get("cache_hits", 0)
        return {
            **counts,
            "in_flight": in_flight,
            "cache_hit_rate": round(counts.get("cache_hits", 0) / n, 4) if n else None,
            "latency_ms_p50": round(lat[len(lat) // 2], 1) if lat else None,
            "latency_ms_p95": round(lat[min(len(lat) - 1, int(len(lat) * 0.95))], 1) if lat else None,
        }


def _price_in(text: str, value: float) -> re.Match | None:
    """Where the number occurs in the text as a whole number (with its currency sign when it has one)."""
    if not math.isfinite(value) or value < 0:  # json.loads reads Infinity and NaN
        return None
    v = int(value) if float(value) == int(value) else value
    return re.search(rf"[£$€]?(?<![\d.]){re.escape(str(v))}(?![\d])", text)


def _known(ext: QUExtractor, attribute: str) -> set:
    lex = ext.lexicon
    if attribute == "gender":
        return {("+".join(v) if isinstance(v, list) else v) for v in lex.gender_alias.values()}
    if attribute == "condition":
        return set(lex.condition_alias.values())
    return set(lex.style_alias.values())
