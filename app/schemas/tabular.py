"""Request and answer schemas of a tabular-regression model, built from its columns (meta.json `input.columns`).

Field names are exactly the model's column names (Kaggle's `1stFlrSF` included, via aliases); any field may
be missing or null and is then filled exactly as in training. A number field refuses text, booleans and
values outside its plausible range (a negative area, a month 13) with a 422 naming the field; unknown field
names are refused too, so a typo is not silently treated as a missing value. Category values are free text:
one never seen in training is accepted and ignored, as in training. A value outside the range the training
data covered is answered, with a warning that the answer is an extrapolation.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from app.core.errors import InvalidInput
from app.schemas.model_meta import Column, TabularSpec

CATEGORY_MAX_LENGTH = 40


class RowsError(InvalidInput):
    """Rows that fail validation: the message names each (up to five) by row and column."""


class TabularRow(BaseModel):
    """One row, keyed by the model's column names; every field optional (a subclass per model adds them)."""

    # strict: a number field takes a JSON number, not "1710" or false (what the schema says).
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=False)
    id_field: ClassVar[str | None] = None  # the Id column's Python name, excluded from the features

    def features(self) -> dict[str, Any]:
        """The features keyed by column name (None where missing)."""
        exclude = {self.id_field} if self.id_field else set()
        return self.model_dump(by_alias=True, exclude=exclude)


def _field(column: Column) -> tuple[Any, Any]:
    if column.kind == "code":
        return int | str | None, Field(None, alias=column.name, description=column.description)
    if column.kind == "category":
        return str | None, Field(None, alias=column.name, description=column.description,
                                 max_length=CATEGORY_MAX_LENGTH)  # fmt: skip
    description = column.description
    if column.min is not None and column.max is not None:
        description += f". Plausible {column.min:g}–{column.max:g}"
    if column.seen_min is not None and column.seen_max is not None:
        description += (f"; the training data covered {column.seen_min:g}–{column.seen_max:g} (beyond that the "
                        "answer carries a warning)")  # fmt: skip
    # allow_inf_nan=False refuses NaN and infinities; strict (the model's config) refuses text and booleans.
    return float | None, Field(None, alias=column.name, description=description.lstrip(". "), ge=column.min,
                               le=column.max, allow_inf_nan=False)  # fmt: skip


@lru_cache(maxsize=64)
def row_model(spec: TabularSpec, title: str = "Row") -> type[TabularRow]:
    """The pydantic model of one row for this spec (built once per spec)."""
    names = {column.name for column in spec.columns}
    fields: dict[str, Any] = {f"f_{i}": _field(column) for i, column in enumerate(spec.columns)}
    id_field = None
    if spec.id_column not in names:
        id_field = "row_id"
        fields[id_field] = (int | None, Field(None, alias=spec.id_column,
                                              description="The row's id (ignored by the model, echoed in CSV "
                                              "answers)"))  # fmt: skip
    model = create_model(title, __base__=TabularRow, **fields)
    model.id_field = id_field  # type: ignore[attr-defined]  # a class attribute, not a field
    model.__doc__ = "One row, keyed by the model's column names; every field optional."
    return model


@lru_cache(maxsize=64)
def answer_model(spec: TabularSpec, title: str = "Prediction") -> type[BaseModel]:
    """The JSON answer for one row: {<field>: value, model_version, warnings?}."""
    fields: dict[str, Any] = {
        spec.field: (float, Field(description=f"The predicted {spec.target}")),
        "model_version": (str, Field(description="Version of the model that answered")),
        "warnings": (list[str] | None, Field(
            None, description="Fields outside the range of the training data (present only when there are some)")),
    }  # fmt: skip
    return create_model(title, **fields)


def beyond_training(spec: TabularSpec, features: dict[str, Any]) -> list[str]:
    """A warning for each number field outside the range the model was trained on."""
    warnings = []
    for column in spec.columns:
        value = features.get(column.name)
        if column.kind != "number" or value is None or column.seen_min is None or column.seen_max is None:
            continue
        if not column.seen_min <= value <= column.seen_max:
            warnings.append(
                f"{column.name} {value:g} is outside the training data ({column.seen_min:g}–{column.seen_max:g}): "
                f"the {spec.noun} is an extrapolation"
            )
    return warnings


def validate_rows(spec: TabularSpec, records: list[dict[str, Any]], first_row: int = 1) -> list[TabularRow]:
    """Validate rows (CSV lines, v2 tensors) with the schema of JSON requests — the same model, so every door
    gives the same verdict for the same row; errors name the row (counted from `first_row`) and column."""
    model = row_model(spec)
    rows, errors = [], []
    for number, record in enumerate(records, start=first_row):
        try:
            rows.append(model.model_validate(record))
        except ValidationError as exc:
            errors += [f"row {number}, {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        if len(errors) >= 5:
            break
    if errors:
        raise RowsError("; ".join(errors[:5]))
    return rows
