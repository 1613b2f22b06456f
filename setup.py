"""Package layout (metadata lives in pyproject.toml).

The repository keeps ``circuits/`` and ``models/`` at its top level, but they are
installed as ``neurosim.circuits`` and ``neurosim.models`` (see neurosim/_layout.py).
Their subpackages are discovered here so that a new one needs no edit.
"""

from setuptools import find_packages, setup

MAPPED = {"circuits": "neurosim.circuits", "models": "neurosim.models"}

packages = find_packages(include=["neurosim", "neurosim.*"])
for folder, name in MAPPED.items():
    packages += [name] + [f"{name}.{sub}" for sub in find_packages(folder)]

setup(
    packages=packages,
    package_dir={name: folder for folder, name in MAPPED.items()},
    package_data={"neurosim.models": ["configs/**/*.yaml", "configs/*.md"]},
)
