"""dlserve: the four models of a deep-learning course, served over HTTP."""

from importlib import metadata

try:
    __version__ = metadata.version("dlserve")  # pyproject.toml's version: the only place it is written
except metadata.PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
