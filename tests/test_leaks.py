"""Repeated calls, error paths included, do not grow memory or the object count
(a short run of tools/leaks.py; the 100,000-call figures are in docs/reliability.md)."""
from __future__ import annotations

import gc
import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("leaks", Path(__file__).parent.parent / "tools" / "leaks.py")
leaks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(leaks)
CASES = leaks.cases()


@pytest.mark.parametrize("name", list(CASES))
def test_repeated_calls_do_not_grow_memory(name):
    fn = CASES[name]
    for _ in range(3000):  # warm-up: allocator pools, caches, the first heap growth
        fn()
    gc.collect()
    objects, rss = len(gc.get_objects()), leaks.rss_bytes()
    for _ in range(20000):
        fn()
    gc.collect()
    # 20,000 calls leaking even 64 bytes each would add 1.2 MiB
    assert leaks.rss_bytes() - rss < 1 << 20, f"{name}: RSS grew by {leaks.rss_bytes() - rss} bytes"
    assert len(gc.get_objects()) <= objects + 10, f"{name}: live objects {objects} -> {len(gc.get_objects())}"
