"""The sha256 of a file, read in blocks: what a model's meta.json and a dataset's manifest record.

Serving owns it (a model is refused when its checksum differs); training imports it from here.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()
