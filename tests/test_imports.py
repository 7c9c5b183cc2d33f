"""What `import fastconv` loads: the array functions and their kernels, not the
model layer, datasets, Dask or the standard-library modules only they use; those
are imported on first attribute access (PEP 562), and dir(), star-imports and
attribute access see them all the same. Each case runs in a fresh interpreter."""
from __future__ import annotations

import json

from reference import run_python

# Modules `import fastconv` must not load (fastconv's own model layer, datasets
# and extras, and what only they need); checked against what `import numpy`
# already loaded, so NumPy's own imports (numpy.random on NumPy 1.x) do not count.
HEAVY = (
    "fastconv.models", "fastconv.layers", "fastconv.optimizers", "fastconv.losses",
    "fastconv.callbacks", "fastconv.activations", "fastconv.initializers", "fastconv.utils",
    "fastconv.datasets", "fastconv.dask", "fastconv._patch", "fastconv._bounded",
    "fastconv._files", "fastconv._cli", "fastconv._demo",
    "zipfile", "json", "concurrent.futures", "numpy.random", "importlib.metadata",
    "dask", "scipy", "threadpoolctl", "tqdm", "torch", "platform", "tempfile", "pathlib",
)

LOADED_BY_IMPORT = """
import sys
import numpy
before = set(sys.modules)
import fastconv
{after_import}
heavy = {heavy!r}
print(" ".join(sorted(name for name in heavy if name in sys.modules and name not in before)))
"""


def _heavy_loaded(after_import: str = "") -> list[str]:
    code = LOADED_BY_IMPORT.format(after_import=after_import, heavy=HEAVY)
    lines = run_python(code).stdout.splitlines()
    return lines[-1].split() if lines else []


def test_import_fastconv_loads_no_model_layer_datasets_or_extras():
    assert _heavy_loaded() == [], "import fastconv loaded these eagerly"


def test_array_functions_run_without_loading_the_model_layer():
    # The functions `import fastconv` is for, checked against NumPy while at it.
    calls = """
import numpy as np
x = np.arange(12.0).reshape(1, 1, 3, 4)
assert np.array_equal(fastconv.convolve([1, 2, 3], [0, 1, 0.5]), np.convolve([1, 2, 3], [0, 1, 0.5]))
assert np.array_equal(fastconv.correlate([5, 3, 2, 5, 9, 7], [1, 2, 3]), [17, 22, 39, 44])
assert np.array_equal(fastconv.relu(np.array([-1.0, 2.0])), [0.0, 2.0])
assert np.array_equal(fastconv.conv2d(x, np.ones((1, 1, 1, 1))), x)
assert np.array_equal(fastconv.max_pool2d(x, 1), x)
assert np.array_equal(fastconv.correlate2d(x[0, 0], [[1.0]]), x[0, 0])
"""
    assert _heavy_loaded(calls) == [], "the array functions loaded these"


def test_lazy_names_resolve_on_first_access_to_the_real_objects():
    out = run_python("""
        import sys
        import fastconv
        assert "fastconv.models" not in sys.modules
        Sequential = fastconv.models.Sequential
        import fastconv.models
        from fastconv.layers import Dense
        from fastconv import _patch
        assert Sequential is fastconv.models.Sequential
        assert fastconv.layers.Dense is Dense
        assert fastconv.patch is _patch.patch and fastconv.patched_names is _patch.patched_names
        assert callable(fastconv.datasets.mnist.load_data)
        assert fastconv.utils.set_random_seed is sys.modules["fastconv.utils"].set_random_seed
        print(type(Sequential()).__name__)
    """)
    assert out.stdout.split() == ["Sequential"]


def test_dir_lists_the_lazy_names_and_each_one_resolves():
    out = run_python("""
        import json, sys
        import fastconv
        names = [n for n in dir(fastconv) if not n.startswith("_")]
        missing = [n for n in names if getattr(fastconv, n, None) is None]
        print(json.dumps({"names": names, "missing": missing}))
    """)
    got = json.loads(out.stdout.splitlines()[-1])
    assert got["missing"] == []
    expected = {"models", "layers", "optimizers", "losses", "activations", "initializers",
                "utils", "datasets", "nn", "signal", "numpy_compat", "patch", "unpatch",
                "patched", "patched_names", "conv2d", "convolve", "relu", "show_config"}
    assert expected <= set(got["names"]), expected - set(got["names"])
    assert "libfastconv" not in got["names"]  # the kernel library is no submodule


def test_star_import_gives_all_of___all___and_stays_light():
    out = run_python("""
        import json, sys
        import numpy
        before = set(sys.modules)
        from fastconv import *
        import fastconv
        missing = [n for n in fastconv.__all__ if n not in globals()]
        print(json.dumps({"missing": missing, "models": "fastconv.models" in sys.modules,
                          "same": patch is fastconv.patch and conv2d is fastconv.conv2d}))
    """)
    assert json.loads(out.stdout.splitlines()[-1]) == {"missing": [], "models": False, "same": True}


def test_unknown_attribute_raises_attributeerror_naming_it():
    run_python("""
        import fastconv
        for name in ("no_such_thing", "_no_such_thing", "libfastconv", "__wrapped__"):
            try:
                getattr(fastconv, name)
            except AttributeError as err:
                assert repr(name) in str(err), err
            else:
                raise AssertionError(f"fastconv.{name} resolved")
        assert not hasattr(fastconv, "Sequential")  # lives in fastconv.models only
    """)


def test_submodule_whose_extra_is_missing_raises_its_importerror_and_is_not_in_dir():
    out = run_python("""
        import sys
        sys.modules["dask"] = None  # as if dask were not installed
        import fastconv
        assert "dask" not in dir(fastconv)
        try:
            fastconv.dask
        except ImportError as err:
            print(err)
        else:
            raise AssertionError("fastconv.dask imported without dask")
    """)
    assert "fastconv[dask]" in out.stdout
    run_python("""
        from importlib.util import find_spec
        import fastconv
        if find_spec("dask") is not None:  # the test extra has it; the oldest-NumPy set has not
            assert "dask" in dir(fastconv) and callable(fastconv.dask.convolve2d)
        else:
            assert "dask" not in dir(fastconv)
    """)
