"""Fixtures shared by the language-model tests (``test_policies.py``, ``test_constrained.py``)."""

from __future__ import annotations

import pytest
import torch

from turngym.agents.llm.policies.tiny import load_tiny_tokenizer, make_tiny_model


@pytest.fixture(scope="module")
def one_thread():
    """torch on one intra-op thread for the module, restored after it.

    The tiny model's matmuls are too small to gain from intra-op threads; on a shared 2-core box extra threads
    only spin against other processes (10-50x slower forwards). Modules opt in with
    ``pytestmark = pytest.mark.usefixtures("one_thread")``.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tokenizer():
    """The shipped tiny tokenizer."""
    return load_tiny_tokenizer()


@pytest.fixture(scope="module")
def model():
    """A freshly initialized tiny model (seed 0)."""
    return make_tiny_model(seed=0)
