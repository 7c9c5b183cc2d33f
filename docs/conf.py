"""Sphinx configuration: the API reference (autosummary, numpydoc), the tutorial
and the markdown pages (MyST), with the docstrings' examples run as doctests.

Build: ``sphinx-build -W --keep-going -b html docs docs/_build/html``; doctests:
``sphinx-build -W --keep-going -b doctest docs docs/_build/doctest``.
"""
from __future__ import annotations

import doctest
import importlib
import inspect
import types

from sphinx.errors import ConfigError
from sphinx.util import logging

import fastconv

project = "fastconv"
author = "the fastconv developers"
copyright = "the fastconv developers"
version = release = fastconv.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "numpydoc",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]
templates_path = ["_templates"]

# The theme NumPy's and SciPy's documentation use; nothing is fetched while building.
html_theme = "pydata_sphinx_theme"
html_title = f"fastconv {release}"
html_theme_options = {"navigation_with_keys": False}
html_show_sourcelink = False

myst_heading_anchors = 3  # links to a page's sections by their title, as on GitHub

autosummary_generate = True
autodoc_typehints = "none"  # the numpydoc sections carry the types
autodoc_default_options = {"members": False}
numpydoc_show_class_members = False  # members are documented by the class template
numpydoc_class_members_toctree = False
# Each public function and class documents every parameter and its return value
# and has an Examples section (which the doctest build runs).
numpydoc_validation_checks = {"PR01", "PR02", "RT01", "EX01", "GL08"}
numpydoc_validation_exclude = {
    r"\.__init__$",
    r"\.[A-Z][A-Z0-9_]*$",  # constants: a docstring, no Examples
    r"\.[A-Z]\w*\.[a-z_]\w*$",  # methods: their class's Examples show them
}

# Doctests: every example in the docstrings and pages; output compared with
# NumPy's printing of this NumPy version, whitespace-insensitively. Examples
# that save files make their folders with tempfile.mkdtemp(), as a user would;
# here those land in one directory per document, removed after it.
doctest_global_setup = """
import tempfile as _tempfile
import numpy as np
import fastconv
_doctest_dir = _tempfile.TemporaryDirectory(prefix="fastconv-doctest-")
_tempfile.tempdir = _doctest_dir.name
"""
doctest_global_cleanup = """
_tempfile.tempdir = None
_doctest_dir.cleanup()
"""
doctest_default_flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE

# The modules the reference documents, each with a page in api/. A module that
# does not import stops the build (a missing page is an error, not a gap).
DOCUMENTED_MODULES = [
    "fastconv",
    "fastconv.nn",
    "fastconv.signal",
    "fastconv.ndimage",
    "fastconv.numpy_compat",
    "fastconv.models",
    "fastconv.layers",
    "fastconv.optimizers",
    "fastconv.losses",
    "fastconv.activations",
    "fastconv.initializers",
    "fastconv.callbacks",
    "fastconv.datasets",
    "fastconv.datasets.mnist",
    "fastconv.datasets.idx",
    "fastconv.dask",
    "fastconv.dask.signal",
    "fastconv.dask.ndimage",
    "fastconv.utils",
]


def public_names(module: types.ModuleType) -> list[str]:
    """A module's public names: its ``__all__``, else the functions and classes
    defined in it whose names do not start with an underscore."""
    if hasattr(module, "__all__"):
        return [n for n in module.__all__ if not n.startswith("__")]
    return sorted(
        n for n, obj in vars(module).items()
        if not n.startswith("_")
        and (inspect.isfunction(obj) or inspect.isclass(obj))
        and getattr(obj, "__module__", None) == module.__name__
    )


def check_every_public_name_documented(app, env) -> None:
    """Warn (an error under -W) for each public name of a documented module
    that no page describes, under its own name or another name of the same object."""
    logger = logging.getLogger(__name__)
    documented = env.get_domain("py").objects
    seen: set[int] = set()
    for qualname in documented:
        modname, _, attr = qualname.rpartition(".")
        try:
            seen.add(id(getattr(importlib.import_module(modname), attr)))
        except (ImportError, AttributeError, ValueError):
            continue
    for modname in DOCUMENTED_MODULES:
        module = importlib.import_module(modname)
        for name in public_names(module):
            obj = getattr(module, name)
            if isinstance(obj, types.ModuleType):
                continue  # a submodule has a page of its own
            if id(obj) not in seen and f"{modname}.{name}" not in documented:
                logger.warning(f"{modname}.{name} is public but has no page in the API reference")


def _signature_unless_data(mangle_signature):
    """numpydoc's signature hook, silent for module-level data: autosummary
    sees ``fastconv.relu`` (a ufunc instance) as data, for which Sphinx has no
    signature to replace, and fails when a hook offers one."""

    def hook(app, what, name, obj, options, sig, retann):
        if what == "data":
            return None
        return mangle_signature(app, what, name, obj, options, sig, retann)

    return hook


def setup(app) -> None:
    import numpydoc.numpydoc

    listeners = app.events.listeners["autodoc-process-signature"]
    for listener in list(listeners):
        if listener.handler is numpydoc.numpydoc.mangle_signature:
            app.disconnect(listener.id)
            app.connect("autodoc-process-signature",
                        _signature_unless_data(listener.handler), listener.priority)
    for name in DOCUMENTED_MODULES:
        try:
            importlib.import_module(name)
        except ImportError as err:
            raise ConfigError(
                f"the API reference documents {name} (docs/api/), which does not import: {err}"
            ) from err
    app.connect("env-check-consistency", check_every_public_name_documented)
