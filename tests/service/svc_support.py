"""Helpers shared by the service tests: a real uvicorn server in a thread, a free port."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import uvicorn

API_KEY = "test-key"
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


def copy_pipeline_with(base, index_dir: Path, extractor=None, **config):
    """A pipeline sharing `base`'s loaded models, over a private copy of its index at `index_dir`.

    `config`: SearchConfig fields, e.g. min_results=1 so that parsed filters hold on 20 listings.
    """
    import shutil

    from preloved.pipeline import SearchPipeline
    from retrieval import Index, SearchConfig

    shutil.copytree(base.index.root, index_dir)
    index = Index.load(index_dir, embedder=base.index.embedder, config=SearchConfig(**config))
    extractor = extractor or base.extractor
    return SearchPipeline(extractor, index, base.reranker, max_k=base.max_k,
                          max_query_chars=base.max_query_chars, rerank_depth=base.rerank_depth)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """The app under a real uvicorn server, in a thread, on 127.0.0.1 and a free port."""

    def __init__(self, app) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False,
                                lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn-test", daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def start_server_process(index_dir: Path, port: int, log_path: Path):
    """`serve` in a child process (what `preloved serve` runs), logging to `log_path`."""
    import os
    import subprocess
    import sys

    code = ("import sys; from preloved.settings import Settings; from service import serve; "
            "serve(Settings(api_key=sys.argv[3]), host='127.0.0.1', port=int(sys.argv[1]), "
            "index_dir=sys.argv[2])")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    log = open(log_path, "ab")  # noqa: SIM115 - the child owns it
    return subprocess.Popen([sys.executable, "-c", code, str(port), str(index_dir), API_KEY], cwd=ROOT,
                            env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_ready(url: str, proc, timeout: float = 180.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with status {proc.returncode}")
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError("the server did not become ready")
