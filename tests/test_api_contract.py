"""The public API page (docs/api/index.md) against the package: every signature it
writes out is the function's own, so the contract page cannot drift from the code."""
from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

import fastconv

PAGE = Path(__file__).resolve().parent.parent / "docs" / "api" / "index.md"


def _written_signatures() -> list[tuple[str, str]]:
    """(qualified name, parameter list) for each ``fastconv.name(...)`` the page
    writes out: the drop-in table's links and the deep-learning ops' block."""
    text = PAGE.read_text(encoding="utf-8")
    found = re.findall(r"\{func\}`(fastconv\.[\w.]+)(\([^`<]*\)) <", text)
    block = re.search(r"## Deep-learning ops\n\n```text\n(.*?)```", text, re.DOTALL)
    assert block, "the page's deep-learning ops block is missing"
    found += re.findall(r"^(fastconv\.[\w.]+)(\(.*\))(?: -> \w+)?$", block.group(1), re.MULTILINE)
    return found


def _resolve(qualname: str):
    obj = __import__(qualname.rsplit(".", 1)[0], fromlist=["_"])
    return getattr(obj, qualname.rsplit(".", 1)[1])


def _bare_signature(obj) -> str:
    """The signature without annotations, as the page writes it."""
    sig = inspect.signature(obj)
    params = [p.replace(annotation=inspect.Parameter.empty) for p in sig.parameters.values()]
    return str(sig.replace(parameters=params, return_annotation=inspect.Signature.empty))


def _parameters(text: str) -> list[str]:
    """'(a, v, mode="full", *, method="direct")' -> ["a", "v", "mode='full'", "*", ...],
    quotes made uniform."""
    inner = text.strip()[1:-1].replace('"', "'")
    return [p.strip() for p in inner.split(",") if p.strip()]


def test_page_writes_out_the_main_signatures():
    names = {name for name, _ in _written_signatures()}
    assert {"fastconv.convolve", "fastconv.correlate", "fastconv.convolve2d",
            "fastconv.correlate2d", "fastconv.conv2d", "fastconv.relu",
            "fastconv.max_pool2d", "fastconv.conv2d_backward",
            "fastconv.max_pool2d_backward", "fastconv.relu_backward",
            "fastconv.nn.dense", "fastconv.nn.dense_backward"} <= names


@pytest.mark.parametrize("qualname, written", _written_signatures(),
                         ids=[f"{n}" for n, _ in _written_signatures()])
def test_written_signature_matches_the_function(qualname, written):
    obj = _resolve(qualname)
    actual = _parameters(_bare_signature(obj))
    if qualname == "fastconv.relu":  # a ufunc: the page leaves out subok and signature
        actual = [p for p in actual if not p.startswith(("subok", "signature"))]
    assert _parameters(written) == actual, (
        f"docs/api/index.md writes {qualname}{written}, the function is "
        f"{qualname}{_bare_signature(obj)}"
    )


def test_every_top_level_name_is_on_the_page():
    text = PAGE.read_text(encoding="utf-8")
    missing = [n for n in fastconv.__all__ if n != "__version__" and f"fastconv.{n}" not in text]
    assert not missing, f"public names not described on docs/api/index.md: {missing}"
