"""fastconv.patch(), unpatch(), patched() and patched_names(): the originals are
replaced in their public and defining modules and put back exactly; unchanged
code (a user's script, NumPy's and SciPy's own functions) gives the originals'
results; the import hook patches SciPy when it is imported after patch();
patching races safely with calls from other threads.

The references are the original functions, saved when this module is imported
(before any test patches anything). Every test ends with the originals back in
place, checked and forced by the autouse fixture, so a failure here cannot leave
a patched NumPy to the other test files.
"""
from __future__ import annotations

import doctest
import importlib
import inspect
import pathlib
import pickle
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
import scipy.ndimage
import scipy.signal

import fastconv
import fastconv.ndimage
import fastconv.signal
from fastconv import _patch
from dropins_reference import DROPIN
from reference import assert_close

NUMERIC = importlib.import_module(
    "numpy._core.numeric" if np.lib.NumpyVersion(np.__version__) >= "2.0.0" else "numpy.core.numeric"
)
SIGNALTOOLS = importlib.import_module("scipy.signal._signaltools")
NDI_FILTERS = importlib.import_module("scipy.ndimage._filters")

NDIMAGE = ["correlate", "convolve", "correlate1d", "convolve1d", "gaussian_filter",
           "gaussian_filter1d", "uniform_filter", "uniform_filter1d"]
NAMES = ["numpy.convolve", "numpy.correlate", "scipy.signal.convolve2d", "scipy.signal.correlate2d",
         *(f"scipy.ndimage.{f}" for f in NDIMAGE)]
FASTCONV = {
    "numpy.convolve": fastconv.convolve,
    "numpy.correlate": fastconv.correlate,
    "scipy.signal.convolve2d": fastconv.convolve2d,
    "scipy.signal.correlate2d": fastconv.correlate2d,
    **{f"scipy.ndimage.{f}": getattr(fastconv.ndimage, f) for f in NDIMAGE},
}
# Where each original lives: its public module and the module its package calls it from.
HOMES = {
    "numpy.convolve": (np, NUMERIC),
    "numpy.correlate": (np, NUMERIC),
    "scipy.signal.convolve2d": (scipy.signal, SIGNALTOOLS),
    "scipy.signal.correlate2d": (scipy.signal, SIGNALTOOLS),
    **{f"scipy.ndimage.{f}": (scipy.ndimage, NDI_FILTERS) for f in NDIMAGE},
}
# scipy.signal's N-d family: SciPy's own signatures, no extension; _wavelets
# imports convolve from _signaltools.
ND_NAMES = ["scipy.signal.convolve", "scipy.signal.correlate", "scipy.signal.fftconvolve",
            "scipy.signal.oaconvolve"]
NAMES += ND_NAMES
FASTCONV.update({name: getattr(fastconv.signal, name.rpartition(".")[2]) for name in ND_NAMES})
HOMES.update({name: (scipy.signal, SIGNALTOOLS) for name in ND_NAMES})
WAVELETS = sys.modules.get("scipy.signal._wavelets")
if WAVELETS is not None and vars(WAVELETS).get("convolve") is SIGNALTOOLS.convolve:
    HOMES["scipy.signal.convolve"] += (WAVELETS,)
# fastconv's keyword-only extension of the four drop-ins that sum directly by default
# (none for scipy.ndimage's or scipy.signal's N-d family)
EXTENSION = {name: [("method", inspect.Parameter.KEYWORD_ONLY, "direct")] for name in NAMES[:4]}
ORIGINAL = {name: vars(HOMES[name][0])[name.rpartition(".")[2]] for name in NAMES}
LOCATIONS = [(module, name.rpartition(".")[2], ORIGINAL[name]) for name in NAMES for module in HOMES[name]]
assert all(vars(m)[attr] is orig for m, attr, orig in LOCATIONS), "imported patched: cannot save the originals"
assert all(orig is not FASTCONV[name] for name, orig in ORIGINAL.items())

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _hooks():
    return [f for f in sys.meta_path if isinstance(f, _patch._ImportHook)]


def _now(name):
    """What each home of `name` holds now."""
    attr = name.rpartition(".")[2]
    return [vars(module)[attr] for module in HOMES[name]]


@pytest.fixture(autouse=True)
def _originals_back():
    """Each test starts and ends unpatched; if unpatch() fails to restore
    everything, the originals are put back by hand and the test errors."""
    assert fastconv.patched_names() == []
    try:
        yield
    finally:
        fastconv.unpatch()
        leaked = [f"{m.__name__}.{attr}" for m, attr, orig in LOCATIONS if vars(m)[attr] is not orig]
        for module, attr, orig in LOCATIONS:
            setattr(module, attr, orig)
        hooks = _hooks()
        for hook in hooks:
            sys.meta_path.remove(hook)
        assert not leaked, f"unpatch() left {leaked} replaced"
        assert not hooks, "unpatch() left the import hook in sys.meta_path"


def test_patch_replaces_public_and_defining_modules_and_unpatch_puts_back_the_originals():
    fastconv.patch()
    for name in NAMES:
        assert all(f is FASTCONV[name] for f in _now(name)), name
    assert np.convolve is fastconv.convolve and NUMERIC.convolve is fastconv.convolve
    assert scipy.signal.correlate2d is fastconv.correlate2d
    assert SIGNALTOOLS.correlate2d is fastconv.correlate2d
    assert fastconv.patched_names() == sorted(NAMES)
    assert not _hooks(), "every module is imported: nothing to wait for"
    fastconv.unpatch()
    for name in NAMES:
        assert all(f is ORIGINAL[name] for f in _now(name)), name
    assert fastconv.patched_names() == []


def _cases_1d():
    rng = np.random.default_rng(7)
    a = rng.standard_normal(300)
    return [
        ("float64", a, rng.standard_normal(17)),
        ("float32", a.astype(np.float32), rng.standard_normal(40).astype(np.float32)),
        ("int16 wraps", rng.integers(-30000, 30000, 50).astype(np.int16), np.array([300, -7, 2], np.int16)),
        ("complex128, v longer", rng.standard_normal(5) + 1j, rng.standard_normal(64) - 2j),
        ("long double", a[:40].astype(np.longdouble), np.array([1.25, -3, 0.5], np.longdouble)),
        ("object", np.array([1, 2, 3, 4], dtype=object), np.array([5, 6], dtype=object)),
        ("float objects", np.array([1, 2, 3], dtype=object) / 4, [1, 2]),
        ("timedelta64", np.array([1, 2, 3], "m8[s]"), np.array([1, 2], "i8")),
        ("lists", [1, 2, 3], [0, 1, 0.5]),
    ]


@pytest.mark.parametrize("name", ["numpy.convolve", "numpy.correlate"])
def test_unchanged_calls_give_the_originals_results_1d(name):
    """Object and timedelta64 inputs are handed by the drop-ins to the original:
    they must reach NumPy's function, not the patched attribute (no recursion)."""
    attr = name.rpartition(".")[2]
    original = ORIGINAL[name]
    want = {}
    for desc, a, v in _cases_1d():
        for mode in ("full", "same", "valid"):
            try:
                want[desc, mode] = original(a, v, mode)
            except TypeError as e:  # NumPy refuses some (timedelta64 x int correlate)
                want[desc, mode] = e
    with fastconv.patched(name):
        assert getattr(np, attr) is FASTCONV[name]
        for desc, a, v in _cases_1d():
            for mode in ("full", "same", "valid"):
                ref = want[desc, mode]
                if isinstance(ref, Exception):
                    with pytest.raises(type(ref)):
                        getattr(np, attr)(a, v, mode)
                    continue
                got = getattr(np, attr)(a, v, mode)
                assert_close(got, ref, op=name, isa="default", context=f"{desc}, {mode}", **DROPIN)
                if ref.dtype == object:
                    assert [type(x) for x in got] == [type(x) for x in ref], desc
    assert getattr(np, attr) is original


@pytest.mark.parametrize("name", ["scipy.signal.convolve2d", "scipy.signal.correlate2d"])
def test_unchanged_calls_give_the_originals_results_2d(name):
    rng = np.random.default_rng(11)
    cases = [
        ("float64", rng.standard_normal((20, 30)), rng.standard_normal((3, 4))),
        ("int32", rng.integers(-9, 10, (9, 8)).astype(np.int32), rng.integers(-3, 4, (2, 3))),
        ("complex64", (rng.standard_normal((6, 7)) + 1j).astype(np.complex64), np.ones((2, 2), np.complex64)),
        ("long double", rng.standard_normal((6, 5)).astype(np.longdouble), np.eye(3, dtype=np.longdouble)),
    ]
    original = ORIGINAL[name]
    attr = name.rpartition(".")[2]
    args = [(mode, boundary) for mode in ("full", "same", "valid") for boundary in ("fill", "wrap", "symm")]
    want = {(desc, mb): original(x, k, *mb) for desc, x, k in cases for mb in args}
    with fastconv.patched():
        assert getattr(scipy.signal, attr) is FASTCONV[name]
        for desc, x, k in cases:
            for mb in args:
                got = getattr(scipy.signal, attr)(x, k, *mb)
                assert_close(got, want[desc, mb], op=name, isa="default", context=f"{desc}, {mb}", **DROPIN)


def test_idempotent_and_unpatch_without_patch_does_nothing():
    fastconv.unpatch()  # nothing patched: nothing happens
    fastconv.unpatch(["numpy.convolve"])
    assert all(vars(m)[attr] is orig for m, attr, orig in LOCATIONS)
    fastconv.patch()
    fastconv.patch()
    fastconv.patch("numpy.convolve")
    assert fastconv.patched_names() == sorted(NAMES)
    fastconv.unpatch()  # once is enough: the second patch() recorded nothing new
    assert all(vars(m)[attr] is orig for m, attr, orig in LOCATIONS)
    assert fastconv.patched_names() == []
    fastconv.patch()  # and again after an unpatch
    assert np.convolve is fastconv.convolve and NUMERIC.correlate is fastconv.correlate
    fastconv.unpatch()
    fastconv.unpatch()
    assert np.convolve is ORIGINAL["numpy.convolve"]


def test_names_subsets():
    fastconv.patch("numpy.convolve")
    assert fastconv.patched_names() == ["numpy.convolve"]
    assert np.convolve is fastconv.convolve and NUMERIC.convolve is fastconv.convolve
    assert np.correlate is ORIGINAL["numpy.correlate"]
    assert scipy.signal.convolve2d is ORIGINAL["scipy.signal.convolve2d"]
    fastconv.patch(iter(["scipy.signal.correlate2d", "scipy.signal.correlate2d"]))
    assert fastconv.patched_names() == ["numpy.convolve", "scipy.signal.correlate2d"]
    assert SIGNALTOOLS.correlate2d is fastconv.correlate2d
    assert SIGNALTOOLS.convolve2d is ORIGINAL["scipy.signal.convolve2d"]
    fastconv.unpatch("numpy.correlate")  # not patched: ignored
    fastconv.unpatch(["numpy.convolve"])
    assert fastconv.patched_names() == ["scipy.signal.correlate2d"]
    assert np.convolve is ORIGINAL["numpy.convolve"] and NUMERIC.convolve is ORIGINAL["numpy.convolve"]
    fastconv.patch([])  # an empty selection patches nothing
    assert fastconv.patched_names() == ["scipy.signal.correlate2d"]


@pytest.mark.parametrize("call", [fastconv.patch, fastconv.unpatch, fastconv.patched])
def test_unknown_names_raise_before_anything_changes(call):
    with pytest.raises(ValueError) as info:
        with contextlib_or_call(call, ["numpy.convolve", "numpy.convolve3d"]):
            pass
    message = str(info.value)
    assert "numpy.convolve3d" in message
    assert all(name in message for name in NAMES), message
    assert fastconv.patched_names() == []
    assert np.convolve is ORIGINAL["numpy.convolve"]
    with pytest.raises(ValueError):
        with contextlib_or_call(call, "np.convolve"):
            pass
    with pytest.raises(TypeError):
        with contextlib_or_call(call, [np.convolve]):
            pass
    assert fastconv.patched_names() == []


class contextlib_or_call:  # noqa: N801 - used as a context manager in the test above
    """Enter patched(names), or call patch/unpatch(names) on entry."""

    def __init__(self, call, names):
        self.call, self.names, self.cm = call, names, None

    def __enter__(self):
        if self.call is fastconv.patched:
            self.cm = fastconv.patched(self.names)
            return self.cm.__enter__()
        return self.call(self.names)

    def __exit__(self, *exc):
        return self.cm.__exit__(*exc) if self.cm is not None else False


def test_an_attribute_someone_else_replaced_is_left_alone():
    def theirs(a, v, mode="valid"):
        return ORIGINAL["numpy.correlate"](a, v, mode)

    try:
        fastconv.patch("numpy.correlate")
        np.correlate = theirs  # replaced by someone else while patched
        fastconv.unpatch()
        assert np.correlate is theirs
        assert NUMERIC.correlate is ORIGINAL["numpy.correlate"]
        # patched again while theirs is there: theirs stays, NumPy's own module is patched
        fastconv.patch("numpy.correlate")
        assert np.correlate is theirs and NUMERIC.correlate is fastconv.correlate
        assert fastconv.patched_names() == ["numpy.correlate"]
        fastconv.unpatch()
        assert np.correlate is theirs and NUMERIC.correlate is ORIGINAL["numpy.correlate"]
    finally:
        np.correlate = ORIGINAL["numpy.correlate"]


def test_patched_restores_the_state_before_entry_and_nests():
    fastconv.patch("numpy.correlate")
    with fastconv.patched("numpy.convolve"):
        assert fastconv.patched_names() == ["numpy.convolve", "numpy.correlate"]
        with fastconv.patched():
            assert fastconv.patched_names() == sorted(NAMES)
            fastconv.unpatch("numpy.correlate")  # undone on exit too
        assert fastconv.patched_names() == ["numpy.convolve", "numpy.correlate"]
        assert scipy.signal.convolve2d is ORIGINAL["scipy.signal.convolve2d"]
        assert np.correlate is fastconv.correlate
    assert fastconv.patched_names() == ["numpy.correlate"]
    assert np.convolve is ORIGINAL["numpy.convolve"] and NUMERIC.convolve is ORIGINAL["numpy.convolve"]
    with pytest.raises(KeyError), fastconv.patched():
        raise KeyError("the block failed")
    assert fastconv.patched_names() == ["numpy.correlate"]

    @fastconv.patched("scipy.signal.convolve2d")
    def decorated():
        return scipy.signal.convolve2d is fastconv.convolve2d

    assert decorated() and decorated()
    assert scipy.signal.convolve2d is ORIGINAL["scipy.signal.convolve2d"]


def test_replacements_look_like_the_originals():
    for name in NAMES:
        fast, orig = FASTCONV[name], ORIGINAL[name]
        assert fast.__name__ == orig.__name__ and fast.__qualname__ == orig.__qualname__
        # the original's parameters, then fastconv's keyword-only extension
        fast_params = list(inspect.signature(fast).parameters.values())
        orig_params = list(inspect.signature(orig).parameters.values())
        assert fast_params[:len(orig_params)] == orig_params, name
        assert [(p.name, p.kind, p.default) for p in fast_params[len(orig_params):]] == (
            EXTENSION.get(name, [])), name
        assert fast.__doc__
    with fastconv.patched():
        for name in NAMES:
            # fastconv's own module path, so a pickled function resolves to the same object
            assert pickle.loads(pickle.dumps(_now(name)[0])) is FASTCONV[name]


def _spy(monkeypatch):
    """Counts calls of fastconv's four drop-ins, through counting wrappers put
    where the replacement table looks them up (the drop-ins are compiled
    functions, which profile hooks do not see), so that patch() installs the
    wrappers."""
    hits = {name: 0 for name in NAMES}
    for name in NAMES:
        module, attr = fastconv._patch.REPLACEMENTS[name][0].split(":")

        def counting(*args, _name=name, _fast=FASTCONV[name], **kwargs):
            hits[_name] += 1
            return _fast(*args, **kwargs)

        monkeypatch.setattr(importlib.import_module(module), attr, counting)
    return hits


def _assert_same(got, want, case):
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want), case
        for g, w in zip(got, want):
            _assert_same(g, w, case)
    elif isinstance(want, np.polynomial.Polynomial):
        _assert_same(got.coef, want.coef, case)
    elif isinstance(want, np.ma.MaskedArray):
        assert isinstance(got, np.ma.MaskedArray), case
        np.testing.assert_array_equal(np.ma.getmaskarray(got), np.ma.getmaskarray(want), case)
        _assert_same(got.filled(0), want.filled(0), case)
    else:
        assert_close(got, want, op=case, isa="default", context="NumPy/SciPy internals", **DROPIN)


_X = np.arange(40.0) % 7 - 3.5
_MASKED = np.ma.array([1.0, 2, 3, 4], mask=[0, 1, 0, 0])
_P, _SIG, _NDI = np.polynomial, scipy.signal, scipy.ndimage
_IMG = np.arange(40.0 * 50).reshape(40, 50) % 13 - 6
# case -> (the patched name it must call, the call)
INTERNALS = {
    # NumPy: numpy.lib's polynomials call NX.convolve, the defining module's attribute
    "np.polymul": ("numpy.convolve", lambda: np.polymul([1, 2, 3], [4, 5])),
    "np.poly": ("numpy.convolve", lambda: np.poly([1.5, -2, 3])),
    "polynomial.polymul": ("numpy.convolve", lambda: _P.polynomial.polymul([1, 2], [3, 4, 5])),
    "polynomial.polypow": ("numpy.convolve", lambda: _P.polynomial.polypow([1, -2], 5)),
    "chebyshev.chebmul": ("numpy.convolve", lambda: _P.chebyshev.chebmul([1, 2], [3, 4, 5])),
    "Polynomial ** 3": ("numpy.convolve", lambda: _P.Polynomial([0.5, 2]) ** 3),
    "np.ma.convolve": ("numpy.convolve", lambda: np.ma.convolve(_MASKED, [1.0, 2])),
    "np.ma.correlate": ("numpy.correlate", lambda: np.ma.correlate(_MASKED, [1.0, 2])),
    # SciPy: the 1-D fast paths of the N-D functions call np.convolve / np.correlate
    "signal.convolve direct": ("numpy.convolve", lambda: _SIG.convolve(_X, [1.0, 2, -1], method="direct")),
    "signal.correlate direct": (
        "numpy.correlate", lambda: _SIG.correlate(_X, [1.0, 2, -1], "same", method="direct")),
    "signal.deconvolve": ("numpy.convolve", lambda: _SIG.deconvolve([1.0, 3, 5, 7, 4], [1.0, 1])),
    "signal.lfilter FIR": ("numpy.convolve", lambda: _SIG.lfilter([1.0, 2, 1], [2.0], _X)),
    # object dtype: fastconv hands it on to NumPy's own convolve
    "signal.lfilter object": (
        "numpy.convolve", lambda: _SIG.lfilter(np.array([1, 2, 1], object), [1], np.arange(6).astype(object))),
    "signal.group_delay": ("numpy.convolve", lambda: _SIG.group_delay(([1.0, 2], [1.0, -0.5]), w=8)),
    "signal.wiener 1-D": ("numpy.convolve", lambda: _SIG.wiener(_X, 5)),
    # SciPy: ndimage's derivative filters are passes of correlate1d or gaussian_filter
    "ndimage.sobel": ("scipy.ndimage.correlate1d", lambda: _NDI.sobel(_IMG, axis=0)),
    "ndimage.prewitt": ("scipy.ndimage.correlate1d", lambda: _NDI.prewitt(_IMG, mode="nearest")),
    "ndimage.laplace": ("scipy.ndimage.correlate1d", lambda: _NDI.laplace(_IMG, mode="wrap")),
    "ndimage.gaussian_laplace": ("scipy.ndimage.gaussian_filter", lambda: _NDI.gaussian_laplace(_IMG, 1.5)),
    "ndimage.gaussian_gradient_magnitude": (
        "scipy.ndimage.gaussian_filter", lambda: _NDI.gaussian_gradient_magnitude(_IMG, 2)),
    # SciPy's N-d family calls its own members through _signaltools
    "signal.wiener 2-D": ("scipy.signal.correlate", lambda: _SIG.wiener(_X.reshape(5, 8), (3, 3))),
    "signal.deconvolve's convolve": (
        "scipy.signal.convolve", lambda: _SIG.deconvolve([1.0, 3, 5, 7, 4], [1.0, 1])),
}


@pytest.mark.parametrize("case", INTERNALS)
def test_numpy_and_scipy_internals_run_on_fastconv_with_their_own_results(case, monkeypatch):
    name, call = INTERNALS[case]
    hits = _spy(monkeypatch)
    want = call()  # unpatched: the originals only
    assert sum(hits.values()) == 0, f"{case} called fastconv unpatched: {hits}"
    with fastconv.patched():
        got = call()
    assert hits[name] >= 1, f"{case} no longer calls {name}: nothing tested ({hits})"
    _assert_same(got, want, case)


def test_threads_calling_while_another_patches_and_unpatches():
    rng = np.random.default_rng(3)
    # integer-valued floats: every sum is exact, so original and fastconv agree bit for bit
    a = rng.integers(-50, 50, 1000).astype(np.float64)
    v = rng.integers(-5, 5, 31).astype(np.float64)
    img = rng.integers(-9, 10, (40, 50)).astype(np.float64)
    ker = rng.integers(-3, 4, (5, 5)).astype(np.float64)
    obj_a, obj_v = np.arange(9).astype(object), np.array([2, -1], dtype=object)
    want = (
        ORIGINAL["numpy.convolve"](a, v),
        ORIGINAL["scipy.signal.correlate2d"](img, ker, "same", "symm"),
        ORIGINAL["numpy.correlate"](obj_a, obj_v, "full"),
        np.polymul(v, v[::-1]),
    )
    deadline = time.monotonic() + 2.0
    errors: list[BaseException] = []
    calls = [0] * 4
    observed = {True: 0, False: 0}  # whether a caller's np.convolve was fastconv's
    cycles = [0]
    seen = {"fastconv": 0, "original": 0}

    def flipper():
        try:
            while time.monotonic() < deadline:
                fastconv.patch()
                seen["fastconv" if np.convolve is fastconv.convolve else "original"] += 1
                fastconv.unpatch()
                with fastconv.patched(["numpy.correlate", "scipy.signal.correlate2d"]):
                    pass
                cycles[0] += 1
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    def caller(i):
        try:
            while time.monotonic() < deadline:
                conv = np.convolve
                observed[conv is fastconv.convolve] += 1
                got = (
                    conv(a, v),
                    scipy.signal.correlate2d(img, ker, "same", "symm"),
                    np.correlate(obj_a, obj_v, "full"),
                    np.polymul(v, v[::-1]),
                )
                for g, w in zip(got, want):
                    assert g.dtype == w.dtype and np.array_equal(g, w)
                calls[i] += 1
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=flipper)] + [threading.Thread(target=caller, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread is stuck"
    assert not errors, f"{len(errors)} errors, first: {errors[0]!r}"
    assert cycles[0] > 10 and min(calls) > 0, (cycles, calls)
    assert seen["fastconv"] == cycles[0]
    assert observed[True] > 0 and observed[False] > 0, f"the calls did not race with patching: {observed}"
    assert fastconv.patched_names() == []
    assert all(vars(m)[attr] is orig for m, attr, orig in LOCATIONS)
    assert not _hooks()


def _run(code: str, env_extra: dict | None = None) -> str:
    import os

    env = dict(os.environ, **(env_extra or {}))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


# A user's script, not edited: plain NumPy and SciPy calls, printed exactly
# (integer-valued inputs, so every sum is exact).
SCRIPT = textwrap.dedent("""
    import numpy as np
    from scipy import signal
    x = np.arange(12.0).reshape(3, 4)
    k = np.array([[1.0, 2.0], [0.5, -1.0]])
    print(repr(np.convolve([1, 2, 3], [0, 1, 0.5])))
    print(repr(np.convolve(np.arange(30) % 7, [1, -2, 1], "same")))
    print(repr(np.correlate(np.arange(10.0), [1.0, 2.0, 3.0], "full")))
    print(repr(np.convolve(np.array([1, 2, 3], dtype=object), [2, 1])))
    print(repr(signal.correlate2d(x, k, "same", "symm")))
    print(repr(signal.correlate2d(np.arange(20).reshape(4, 5), np.ones((3, 3), int), "full", "wrap")))
    print(repr(signal.convolve(np.arange(8.0), [1.0, 1.0], method="direct")))
    print(repr(np.polymul([1, 2], [1, 3])))
    from scipy import ndimage
    img = np.arange(80 * 90).reshape(80, 90) % 17
    print(repr(ndimage.gaussian_filter(img.astype(np.uint8), 1.5)[::9, ::11]))
    print(repr(ndimage.uniform_filter(img / 4.0, 5, mode="mirror")[::13, ::7]))
    print(repr(ndimage.convolve(img, np.ones((3, 3), int), mode="constant", cval=2)[::10, ::10]))
    print(repr(ndimage.sobel(img.astype(np.float32), axis=1)[::20, ::20]))
""")


def test_an_unchanged_script_patched_before_scipy_signal_is_imported():
    plain = _run(SCRIPT)
    patched = _run(textwrap.dedent("""
        import sys
        import fastconv
        assert "scipy.signal" not in sys.modules, "fastconv imported scipy.signal itself"
        fastconv.patch()
        assert "scipy.signal.convolve2d" in fastconv.patched_names()
        import scipy.signal
        assert scipy.signal.convolve2d is fastconv.convolve2d
        assert scipy.signal.correlate2d is fastconv.correlate2d
        assert scipy.signal._signaltools.correlate2d is fastconv.correlate2d
        # the module and its spec keep their own loader
        assert type(scipy.signal.__loader__).__module__ != "fastconv._patch"
        assert scipy.signal.__spec__.loader is scipy.signal.__loader__
        import scipy.ndimage
        assert scipy.ndimage.gaussian_filter is fastconv.ndimage.gaussian_filter
        assert scipy.ndimage._filters.correlate1d is fastconv.ndimage.correlate1d
        assert not any(type(f).__module__ == "fastconv._patch" for f in sys.meta_path)
    """) + SCRIPT)
    assert patched == plain
    assert "array(" in plain and len(plain.splitlines()) >= 8


def test_the_import_hook_goes_with_unpatch_and_a_missing_scipy_is_skipped():
    out = _run(textwrap.dedent("""
        import sys
        import fastconv
        hooks = lambda: [f for f in sys.meta_path if type(f).__module__ == "fastconv._patch"]
        fastconv.patch("scipy.signal.convolve2d")
        assert len(hooks()) == 1 and fastconv.patched_names() == ["scipy.signal.convolve2d"]
        fastconv.patch()
        assert len(hooks()) == 1
        fastconv.unpatch()
        assert hooks() == [] and fastconv.patched_names() == []
        import scipy.signal, scipy.signal._signaltools as st
        assert scipy.signal.convolve2d is st.convolve2d and st.convolve2d is not fastconv.convolve2d
        print("hook ok")
    """))
    assert out == "hook ok\n"
    out = _run(textwrap.dedent("""
        import sys
        sys.modules["scipy"] = None  # as if SciPy were not installed
        import numpy as np, fastconv
        fastconv.patch()
        assert fastconv.patched_names() == ["numpy.convolve", "numpy.correlate"], fastconv.patched_names()
        assert np.convolve is fastconv.convolve
        assert not any(type(f).__module__ == "fastconv._patch" for f in sys.meta_path)
        with fastconv.patched("scipy.signal.correlate2d"):
            assert fastconv.patched_names() == ["numpy.convolve", "numpy.correlate"]
        fastconv.unpatch()
        assert np.convolve is not fastconv.convolve
        print("skipped ok")
    """))
    assert out == "skipped ok\n"


def test_scipy_array_api_wrappers_are_replaced_and_restored():
    """With SCIPY_ARRAY_API=1 recent SciPy's public convolve2d is a dispatch
    wrapper around the function _signaltools calls: both places get fastconv's,
    and both get their own function back (older SciPy has one function)."""
    out = _run(textwrap.dedent("""
        import fastconv, scipy.signal as s, scipy.signal._signaltools as st
        import scipy.ndimage as nd, scipy.ndimage._filters as nf
        public, inner = s.convolve2d, st.convolve2d
        npublic, ninner = nd.gaussian_filter, nf.gaussian_filter
        with fastconv.patched():
            print(s.convolve2d is fastconv.convolve2d, st.convolve2d is fastconv.convolve2d)
            print(nd.gaussian_filter is fastconv.ndimage.gaussian_filter,
                  nf.gaussian_filter is fastconv.ndimage.gaussian_filter)
        print(s.convolve2d is public, st.convolve2d is inner, public is inner)
        print(nd.gaussian_filter is npublic, nf.gaussian_filter is ninner, npublic is ninner)
    """), {"SCIPY_ARRAY_API": "1"})
    lines = out.splitlines()
    assert lines[:2] == ["True True", "True True"]
    assert lines[2] in ("True True False", "True True True")
    assert lines[3] in ("True True False", "True True True")


def test_docstring_examples():
    result = doctest.testmod(_patch)
    assert result.attempted >= 10 and result.failed == 0


def test_every_replacement_is_documented():
    readme = (ROOT / "README.md").read_text()
    assert set(_patch.REPLACEMENTS) == set(NAMES)
    for name in _patch.REPLACEMENTS:
        assert f"``{name}``" in fastconv.patch.__doc__, name
        assert f"`{name}`" in readme, name
