"""The model repository: every folder under MODEL_DIR with a meta.json is a model, served by its task.

As in Triton's model repository, the server knows tasks, never model names: a folder is found, its
meta.json read and its task's part checked (app/schemas/model_meta.py) — reading JSON only, so the doors
can be built from the repository before any model loads. A folder whose meta.json is missing its task,
names one dlserve does not serve, or is not JSON at all is still a model: one that is down, with that
reason, while the rest serve. Folders without a meta.json (and hidden ones) are not models.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.schemas.model_meta import NAME_PATTERN, MetaError, Spec, read_spec, task_of

META = "meta.json"


@dataclass(frozen=True)
class Entry:
    """One model folder as found: its meta.json and task spec, or why it cannot be served."""

    name: str
    folder: Path
    meta: dict[str, Any]  # {} when meta.json could not be read
    task: str | None = None
    spec: Spec | None = None
    problem: str | None = None  # why the folder cannot be served (then task/spec may be None)

    @property
    def endpoint(self) -> str:
        """The model's name in its REST paths: meta.json's `endpoint` (the house model's is house-price)."""
        endpoint = self.meta.get("endpoint")
        return endpoint if isinstance(endpoint, str) and NAME_PATTERN.match(endpoint) else self.name


def read_entry(model_dir: Path, name: str) -> Entry:
    """The folder `name` of the repository, read again (a reload reads what is there now)."""
    folder = Path(model_dir) / name
    try:
        meta = json.loads((folder / META).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Entry(name, folder, {}, problem=f"{META} is missing")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return Entry(name, folder, {}, problem=f"{META} is not valid JSON ({exc})")
    except OSError as exc:
        return Entry(name, folder, {}, problem=f"{META} could not be read ({exc.strerror})")
    if not isinstance(meta, dict):
        return Entry(name, folder, {}, problem=f"{META} is not a JSON object")
    try:
        task = task_of(meta)
        return Entry(name, folder, meta, task, read_spec(meta))
    except MetaError as exc:
        return Entry(name, folder, meta, meta.get("task") if isinstance(meta.get("task"), str) else None,
                     problem=str(exc))  # fmt: skip


def scan(model_dir: Path) -> dict[str, Entry]:
    """Every model folder of the repository, by name, in name order."""
    root = Path(model_dir)
    if not root.is_dir():
        return {}
    names = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and (p / META).exists())
    return {name: read_entry(root, name) if NAME_PATTERN.match(name) else _misnamed(root, name) for name in names}


def _misnamed(root: Path, name: str) -> Entry:
    return Entry(name, root / name, {}, problem=f"the folder name {name!r} is not a model name: use lower-case "
                 "letters, digits, '.', '_' and '-' (it is part of the model's URLs)")  # fmt: skip


def names_in(model_dir: Path) -> list[str]:
    """The model names of the repository (what `scan` finds), for messages."""
    return list(scan(model_dir))
