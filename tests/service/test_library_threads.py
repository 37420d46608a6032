"""`limit_library_threads`: the server caps BLAS/OpenMP pools before they load, in every worker thread."""

from __future__ import annotations

import json
import os
import subprocess
import sys

CHECK = """
import json, threading
from preloved.settings import limit_library_threads
limit_library_threads({n})
import numpy, faiss  # noqa: F401 - load the pools after the cap, as `preloved serve` does
from threadpoolctl import threadpool_info
out = {{}}
def look():
    out["worker"] = sorted({{d["num_threads"] for d in threadpool_info()}})
t = threading.Thread(target=look); t.start(); t.join()
out["main"] = sorted({{d["num_threads"] for d in threadpool_info()}})
print(json.dumps(out))
"""


def _clean_env(**extra) -> dict:
    """This process's environment without the thread caps, so each child starts from the defaults."""
    drop = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    return {**{k: v for k, v in os.environ.items() if k not in drop}, **extra}


def _pools(n, env_extra=None) -> dict:
    env = _clean_env(**(env_extra or {}))
    r = subprocess.run([sys.executable, "-c", CHECK.format(n=n)], capture_output=True, text=True, env=env, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_pools_are_capped_in_worker_threads_too():
    assert _pools(1) == {"main": [1], "worker": [1]}


def test_an_explicit_environment_wins():
    assert _pools(1, {"OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2"}) == {"main": [2], "worker": [2]}


def test_none_leaves_the_defaults():
    pools = _pools(None)
    assert pools["main"] == pools["worker"]
    assert max(pools["main"]) > 1 or (os.cpu_count() or 1) == 1


def test_importing_the_service_loads_no_numeric_library():
    code = (
        "import sys; from service import serve; "
        "print(callable(serve), any(m in sys.modules for m in ('numpy', 'torch', 'faiss')))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "True False"


def test_a_second_call_after_the_libraries_loaded_does_not_warn():
    """`preloved serve` caps before the demo index build loads numpy, then `serve` calls again."""
    code = (
        "import logging; logging.basicConfig()\n"
        "from preloved.settings import limit_library_threads\n"
        "limit_library_threads(1)\n"
        "import numpy\n"
        "limit_library_threads(1)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_clean_env(), check=True)
    assert "limited after" not in r.stderr
