"""Where ``neurosim.circuits`` and ``neurosim.models`` come from.

The repository keeps ``circuits/`` and ``models/`` at its top level, beside
``neurosim/``, but they are imported only as ``neurosim.circuits`` and
``neurosim.models``: generic top-level names such as ``models`` collide with the
``models/`` folder of almost every user's own project.

* An installed wheel has them inside the package (``setup.py`` maps the folders with
  ``package_dir``); nothing is done here.
* A source checkout (an editable install, or the repository on ``PYTHONPATH``) has
  them beside ``neurosim/``: :func:`map_repository_packages` adds a finder that maps
  exactly these two names onto the folders. Their submodules are then found through
  the package's ``__path__`` as usual.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from importlib.machinery import ModuleSpec
from pathlib import Path

#: repository folder -> import name
SUBPACKAGES: dict[str, str] = {"circuits": "neurosim.circuits", "models": "neurosim.models"}


class RepositoryPackageFinder(importlib.abc.MetaPathFinder):
    """Finds ``neurosim.circuits`` / ``neurosim.models`` in a source checkout's root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.locations = {name: root / folder for folder, name in SUBPACKAGES.items()}

    def find_spec(self, fullname: str, path=None, target=None) -> ModuleSpec | None:
        folder = self.locations.get(fullname)
        if folder is None:
            return None
        return importlib.util.spec_from_file_location(
            fullname, folder / "__init__.py", submodule_search_locations=[str(folder)]
        )

    def __repr__(self) -> str:
        return f"RepositoryPackageFinder({str(self.root)!r})"


def map_repository_packages() -> None:
    """Install :class:`RepositoryPackageFinder` when running from a source checkout.

    A checkout is recognised by ``circuits/__init__.py`` and ``models/__init__.py``
    beside this package (and their absence inside it). Idempotent.
    """
    package = Path(__file__).resolve().parent
    root = package.parent
    if all((package / folder).is_dir() for folder in SUBPACKAGES):
        return  # installed wheel: the subpackages are inside neurosim/
    if not all((root / folder / "__init__.py").is_file() for folder in SUBPACKAGES):
        return
    if any(isinstance(f, RepositoryPackageFinder) for f in sys.meta_path):
        return
    sys.meta_path.append(RepositoryPackageFinder(root))


map_repository_packages()
