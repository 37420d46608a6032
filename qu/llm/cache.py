"""On-disk cache of LLM answers keyed by (prompt id, model, query): one small JSON file per key."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path


class DiskCache:
    def __init__(self, directory: Path):
        self.dir = Path(directory)

    def _path(self, prompt_id: str, model: str, query: str) -> Path:
        h = hashlib.sha256(json.dumps([prompt_id, model, query]).encode()).hexdigest()
        return self.dir / h[:2] / f"{h}.json"

    def get(self, prompt_id: str, model: str, query: str) -> str | None:
        p = self._path(prompt_id, model, query)
        try:
            return json.loads(p.read_text(encoding="utf-8"))["answer"]
        except (OSError, ValueError, KeyError):
            return None

    def put(self, prompt_id: str, model: str, query: str, answer: str) -> None:
        p = self._path(prompt_id, model, query)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")  # threads share a pid
        tmp.write_text(
            json.dumps({"prompt": prompt_id, "model": model, "query": query, "answer": answer}),
            encoding="utf-8",
        )
        os.replace(tmp, p)
