"""Schema helpers shared by the endpoints."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Discriminator, Tag

ONE, MANY = "one", "many"


def _one_or_many(value: Any) -> str:
    return MANY if isinstance(value, list) else ONE


def one_or_many(model: type) -> Any:
    """`model | list[model]`, told apart by the JSON's shape before validating.

    A plain union would validate against both branches and report both sets of errors
    ("…: Input should be a valid list" for an object); this reports only the relevant ones.
    """
    return Annotated[
        Annotated[model, Tag(ONE)] | Annotated[list[model], Tag(MANY)],
        Discriminator(_one_or_many),
    ]
