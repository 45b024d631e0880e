"""A small manifest beside each dataset so that re-running `make data` is instant.

After a dataset's files are written and verified we record their sizes, row counts and
sha256 in `MANIFEST.json`. Next time, a matching size and checksum is proof enough that the
files are the ones we verified; anything else triggers a full verification. The checksums are
also what training records in each model's metadata.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

MANIFEST_NAME = "MANIFEST.json"


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """The sha256 of a file, read in blocks: what a dataset's manifest and a model's meta.json record (serving
    checks a model's against the bytes it loads, app/models/registry.py)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(directory: Path) -> dict[str, Any] | None:
    path = Path(directory) / MANIFEST_NAME
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None


def write_manifest(directory: Path, source: str, files: dict[str, int]) -> dict[str, Any]:
    """Record `files` (name -> row count) with their size and sha256, and where they came from."""
    directory = Path(directory)
    entries = {
        name: {
            "rows": rows,
            "bytes": (directory / name).stat().st_size,
            "sha256": sha256_file(directory / name),
        }
        for name, rows in files.items()
    }
    manifest = {"source": source, "files": entries}
    (directory / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest


def manifest_matches(directory: Path, names: list[str]) -> dict[str, Any] | None:
    """Return the manifest if every named file exists with the recorded size and checksum."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    if manifest is None:
        return None
    for name in names:
        entry = manifest.get("files", {}).get(name)
        path = directory / name
        if entry is None or not path.exists() or path.stat().st_size != entry.get("bytes"):
            return None
        if sha256_file(path) != entry.get("sha256"):
            return None
    return manifest


def dataset_checksums(directory: Path) -> dict[str, str]:
    """The sha256 of each file of a prepared dataset (from its manifest), for model metadata."""
    manifest = read_manifest(directory) or {}
    return {name: entry["sha256"] for name, entry in manifest.get("files", {}).items()}
