"""The fuzz target (tools/fuzz.py) over its committed seeds and 2,000 random
inputs from a fixed seed, without atheris: every call returns a result that
matches the references or raises an accepted error, and no input is modified.
The long runs and their figures are in docs/reliability.md."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

_path = Path(__file__).parent.parent / "tools" / "fuzz.py"
_spec = importlib.util.spec_from_file_location("fastconv_fuzz", _path)
fuzz = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fuzz)
fuzz.setup()

SEEDS = sorted(fuzz.CORPUS.iterdir())


def _run(data: bytes, what: str) -> None:
    try:
        fuzz.TestOneInput(data)
    except Exception as err:
        raise AssertionError(f"{what} ({fuzz.op_name(data)}, input {data.hex()}): "
                             f"{type(err).__name__}: {err}") from err


def test_seed_corpus_is_small_and_covers_every_branch():
    assert 0 < sum(p.stat().st_size for p in SEEDS) < 64 << 10
    assert {fuzz.op_name(p.read_bytes()) for p in SEEDS} == {name for name, _ in fuzz.OPS}


@pytest.mark.filterwarnings("ignore:Casting complex values to real")  # NumPy's ComplexWarning
def test_fuzz_target_on_seed_corpus():
    for path in SEEDS:
        _run(path.read_bytes(), f"seed {path.name}")


@pytest.mark.filterwarnings("ignore:Casting complex values to real")  # NumPy's ComplexWarning
def test_fuzz_target_on_2000_random_inputs():
    rng = np.random.default_rng(20261125)
    for i in range(2000):
        data = rng.integers(0, 256, rng.integers(0, 400), dtype=np.uint8).tobytes()
        _run(data, f"random input {i}")
