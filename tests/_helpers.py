"""pytest helpers shared by the test modules: `raises`, the one check of an
exception and the words of its message, and `torch_one_thread`, which keeps
PyTorch's references on one thread in a module that imports it. (The references
and the comparison helper are in reference.py, which does not need pytest.)"""
from __future__ import annotations

import re

import pytest


def raises(call, exc, *words):
    """call() raises exc whose message contains every one of `words`, ignoring
    case: a single word (a name) as a whole word, anything else (a shape, a
    phrase) as it is written; returns the message."""
    with pytest.raises(exc) as info:
        call()
    msg = str(info.value)
    for word in words:
        pattern = re.escape(word)
        if re.fullmatch(r"\w+", word):
            pattern = rf"\b{pattern}\b"
        assert re.search(pattern, msg, re.IGNORECASE), f"{exc.__name__} message does not name {word!r}: {msg!r}"
    return msg


@pytest.fixture(autouse=True, scope="module")
def torch_one_thread():
    """torch on one thread for a test module that imports this fixture (it is
    autouse): the references are small, and torch's idle OpenMP team would spin
    against fastconv's own threads (slowing both many times over)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
