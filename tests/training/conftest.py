"""Fixtures of the training tests (helpers live in ``training_helpers``)."""

from __future__ import annotations

import pytest
from training_helpers import toy_dataset

from neurosim.data.types import Dataset


@pytest.fixture
def toy() -> Dataset:
    """96/40/40 samples, 10 inputs, 3 classes."""
    return toy_dataset()
