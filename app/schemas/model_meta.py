"""What a model folder's meta.json says about serving it: its task, and the task's inputs and outputs.

A model is a folder under MODEL_DIR with a meta.json (app/models/repository.py); its `task` says how it is
served, and the task's part of meta.json says the rest. Read here as plain data (no torch), so the
doors can describe a model (OpenAPI, /v2 metadata) from its folder before it is loaded, and a folder
whose meta.json is wrong is refused with one line that says what is wrong.

- image-classification: `input.shape` [-1, C, H, W] (or [-1, C·H·W] for a network that takes flat
  vectors), pixels 0–255 as the API takes them; the server computes `(pixel · scale − mean) / std` per
  channel (`input.scale`, `input.mean`, `input.std`; none for a network that normalizes itself);
  `input.photo` says how an uploaded photo is made to look like the training data (`mnist`,
  `fashion-mnist`, or `resize`); `output.classes` (and `classes_zh`), `output.type` logits or probabilities.
- tabular-regression: `input.columns` (name, kind, description, plausible and seen ranges), the
  preprocessing as plain data in `input.preprocess` (a file of the folder), `input.id_column` for CSV
  uploads, `input.row_noun` (what a row is, in messages: houses); `output.target` (the CSV answer's column),
  `output.field` (the JSON answer's key), `output.noun` (what it is, in messages) and `output.transform`
  (`exp` when the network predicts the log of the target).
- text-generation: `input.vocab` (a file: the character vocabulary, special tokens first) and, for a
  model that writes regulated verse, `input.rhymes` (the rhyme tables).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

IMAGE, TABULAR, TEXT = "image-classification", "tabular-regression", "text-generation"
TASKS = (IMAGE, TABULAR, TEXT)
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")  # what can stand in a URL path unescaped
PHOTO_RECIPES = ("mnist", "fashion-mnist", "resize")
DATASET_SIDE = 28  # the mnist and fashion-mnist recipes make 28×28 grayscale images


class MetaError(ValueError):
    """meta.json cannot be served as it is; the message says what is wrong, in one line."""


class _Spec(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ImageSpec(_Spec):
    height: int = Field(ge=1, le=4096)
    width: int = Field(ge=1, le=4096)
    channels: Literal[1, 3]
    flat: bool = False  # the network takes [N, C·H·W] instead of [N, C, H, W]
    scale: float = 1.0
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    photo: Literal["mnist", "fashion-mnist", "resize"] = "resize"
    classes: tuple[str, ...] = Field(min_length=2)
    classes_zh: tuple[str, ...] | None = None
    probabilities: bool = False  # the network ends in a softmax: its outputs are used as they are

    @property
    def pixels(self) -> int:
        return self.height * self.width * self.channels

    @property
    def shape(self) -> tuple[int, ...]:
        """One image as the API holds it: H×W (one channel) or H×W×C."""
        return (self.height, self.width) if self.channels == 1 else (self.height, self.width, self.channels)

    @property
    def normalized(self) -> bool:
        return self.scale != 1.0 or self.mean is not None or self.std is not None

    @property
    def named_classes(self) -> bool:
        """Classes with names of their own (a digit's classes are only their numbers)."""
        return list(self.classes) != [str(i) for i in range(len(self.classes))]

    @model_validator(mode="after")
    def _consistent(self) -> ImageSpec:
        if self.classes_zh is not None and len(self.classes_zh) != len(self.classes):
            raise ValueError(f"output.classes_zh has {len(self.classes_zh)} names for {len(self.classes)} classes")
        for name, values in (("mean", self.mean), ("std", self.std)):
            if values is not None and len(values) != self.channels:
                raise ValueError(f"input.{name} needs one value per channel ({self.channels})")
        if self.std is not None and not all(v > 0 for v in self.std):
            raise ValueError("input.std values must be positive")
        if self.photo != "resize" and (self.height, self.width, self.channels) != (DATASET_SIDE, DATASET_SIDE, 1):
            raise ValueError(f"input.photo {self.photo!r} makes 28×28 grayscale images; use 'resize' for this shape")
        return self


class Column(_Spec):
    name: str = Field(min_length=1, max_length=100)
    kind: Literal["number", "code", "category"]  # code: a number that names a category (MSSubClass)
    description: str = ""
    min: float | None = None  # plausible: outside is a 422
    max: float | None = None
    seen_min: float | None = None  # the training data's: outside, the answer carries a warning
    seen_max: float | None = None


class TabularSpec(_Spec):
    columns: tuple[Column, ...] = Field(min_length=1)
    preprocess: str = "preprocess.json"
    id_column: str = "Id"
    target: str = "target"
    field: str = "prediction"
    noun: str = "prediction"  # what the answer is, in messages ("the price is an extrapolation")
    row_noun: str = "rows"  # what a row is, in messages ("the list of houses is empty")
    transform: Literal["none", "exp"] = "none"

    @field_validator("columns")
    @classmethod
    def _distinct(cls, columns: tuple[Column, ...]) -> tuple[Column, ...]:
        names = [c.name for c in columns]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"input.columns names {repeated[0]!r} twice")
        return columns

    @field_validator("field")
    @classmethod
    def _identifier(cls, field: str) -> str:
        if not field.isidentifier():
            raise ValueError(f"output.field {field!r} must be a plain name (letters, digits, _)")
        return field


class TextSpec(_Spec):
    vocab: str = "vocab.json"
    rhymes: str | None = None


Spec = ImageSpec | TabularSpec | TextSpec


def task_of(meta: dict[str, Any]) -> str:
    task = meta.get("task")
    if task not in TASKS:
        raise MetaError(f"meta.json: task {task!r} is not one dlserve serves ({', '.join(TASKS)})")
    return str(task)


def _image(meta: dict[str, Any]) -> ImageSpec:
    given, output = meta.get("input") or {}, meta.get("output") or {}
    shape = given.get("shape")
    if not (isinstance(shape, list) and len(shape) in (2, 4) and all(isinstance(d, int) for d in shape)):
        raise MetaError("meta.json: input.shape must be [-1, C, H, W] or [-1, C·H·W]")
    flat = len(shape) == 2
    channels = given.get("channels", 1 if flat else shape[1])
    height = given.get("height", None if flat else shape[2])
    width = given.get("width", None if flat else shape[3])
    if flat and (height is None or width is None):
        raise MetaError("meta.json: a flat input.shape needs input.height and input.width")
    if flat and shape[1] != height * width * channels:
        raise MetaError(f"meta.json: input.shape {shape} is not height × width × channels")
    fields = {"height": height, "width": width, "channels": channels, "flat": flat,
              "scale": given.get("scale", 1.0), "mean": _per_channel(given.get("mean"), channels),
              "std": _per_channel(given.get("std"), channels), "photo": given.get("photo", "resize"),
              "classes": output.get("classes"), "classes_zh": output.get("classes_zh"),
              "probabilities": output.get("type") == "probabilities"}  # fmt: skip
    return _validated(ImageSpec, fields)


def _per_channel(value: Any, channels: int) -> Any:
    return [value] * channels if isinstance(value, int | float) else value


def _tabular(meta: dict[str, Any]) -> TabularSpec:
    given, output = meta.get("input") or {}, meta.get("output") or {}
    fields = {"columns": given.get("columns"), "preprocess": given.get("preprocess", "preprocess.json"),
              "id_column": given.get("id_column", "Id"), "row_noun": given.get("row_noun"),
              "target": output.get("target", "target"),
              "field": output.get("field", "prediction"), "noun": output.get("noun", "prediction"),
              "transform": output.get("transform", "none")}  # fmt: skip
    return _validated(TabularSpec, fields)


def _text(meta: dict[str, Any]) -> TextSpec:
    given = meta.get("input") or {}
    return _validated(TextSpec, {"vocab": given.get("vocab", "vocab.json"), "rhymes": given.get("rhymes")})


def _validated(kind: type[_Spec], fields: dict[str, Any]) -> Any:
    try:
        return kind.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "meta.json"
        raise MetaError(f"meta.json: {where}: {first['msg']}") from None


READERS = {IMAGE: _image, TABULAR: _tabular, TEXT: _text}


def read_spec(meta: dict[str, Any]) -> Spec:
    """The task's spec from a parsed meta.json; MetaError saying what is wrong."""
    return READERS[task_of(meta)](meta)
