"""Data sets for neurosim: MNIST, Fashion-MNIST and synthetic tasks, as numpy arrays.

>>> from neurosim.data import load_dataset
>>> ds = load_dataset("mnist")            # doctest: +SKIP
>>> ds.train.X.shape, ds.val.X.shape      # doctest: +SKIP
((55000, 784), (5000, 784))

Files are verified by SHA-256 before use and cached (see :mod:`neurosim.data.files`
for the locations and :mod:`neurosim.data.fetcher` for the verification rules).
"""

from neurosim.data.api import fetch, info, list_datasets, load_dataset
from neurosim.data.types import CorruptFileWarning, DataError, Dataset, IntegrityError, Split

__all__ = [
    "CorruptFileWarning",
    "DataError",
    "Dataset",
    "IntegrityError",
    "Split",
    "fetch",
    "info",
    "list_datasets",
    "load_dataset",
]
