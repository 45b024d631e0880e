"""Request and response schemas for /predict/house-price: Kaggle's 79 feature columns, all optional.

Field names are exactly Kaggle's (`1stFlrSF` included, via aliases); any field may be missing
or null and is then filled exactly as in training. Numeric fields refuse text and impossible
values (negative areas, a month 13) with a 422 naming the field; unknown field names are refused
too, so a typo is not silently treated as a missing value. Category values are free text:
one never seen in training is accepted and ignored, as in training.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from app.core.errors import InvalidInput
from app.schemas.house_columns import COLUMNS, RANGES_FILE

FEATURES = [name for name, _, _ in COLUMNS]

# Every numeric field's plausible range and the range the training data covered, computed from
# train.csv by training/house_ranges.py: outside the first is a 422, outside the second a warning.
RANGES: dict[str, dict[str, float]] = json.loads(RANGES_FILE.read_text(encoding="utf-8"))
_OTHER_KINDS: dict[str, tuple[Any, dict[str, Any]]] = {"code": (int | str, {}), "text": (str, {"max_length": 40})}

# The first row of Kaggle's test.csv: what Swagger's "Try it out" sends.
EXAMPLE: dict[str, Any] = {
    "MSSubClass": 20,
    "MSZoning": "RH",
    "LotFrontage": 80.0,
    "LotArea": 11622,
    "Street": "Pave",
    "Alley": None,
    "LotShape": "Reg",
    "LandContour": "Lvl",
    "Utilities": "AllPub",
    "LotConfig": "Inside",
    "LandSlope": "Gtl",
    "Neighborhood": "NAmes",
    "Condition1": "Feedr",
    "Condition2": "Norm",
    "BldgType": "1Fam",
    "HouseStyle": "1Story",
    "OverallQual": 5,
    "OverallCond": 6,
    "YearBuilt": 1961,
    "YearRemodAdd": 1961,
    "RoofStyle": "Gable",
    "RoofMatl": "CompShg",
    "Exterior1st": "VinylSd",
    "Exterior2nd": "VinylSd",
    "MasVnrType": None,
    "MasVnrArea": 0.0,
    "ExterQual": "TA",
    "ExterCond": "TA",
    "Foundation": "CBlock",
    "BsmtQual": "TA",
    "BsmtCond": "TA",
    "BsmtExposure": "No",
    "BsmtFinType1": "Rec",
    "BsmtFinSF1": 468.0,
    "BsmtFinType2": "LwQ",
    "BsmtFinSF2": 144.0,
    "BsmtUnfSF": 270.0,
    "TotalBsmtSF": 882.0,
    "Heating": "GasA",
    "HeatingQC": "TA",
    "CentralAir": "Y",
    "Electrical": "SBrkr",
    "1stFlrSF": 896,
    "2ndFlrSF": 0,
    "LowQualFinSF": 0,
    "GrLivArea": 896,
    "BsmtFullBath": 0.0,
    "BsmtHalfBath": 0.0,
    "FullBath": 1,
    "HalfBath": 0,
    "BedroomAbvGr": 2,
    "KitchenAbvGr": 1,
    "KitchenQual": "TA",
    "TotRmsAbvGrd": 5,
    "Functional": "Typ",
    "Fireplaces": 0,
    "FireplaceQu": None,
    "GarageType": "Attchd",
    "GarageYrBlt": 1961.0,
    "GarageFinish": "Unf",
    "GarageCars": 1.0,
    "GarageArea": 730.0,
    "GarageQual": "TA",
    "GarageCond": "TA",
    "PavedDrive": "Y",
    "WoodDeckSF": 140,
    "OpenPorchSF": 0,
    "EnclosedPorch": 0,
    "3SsnPorch": 0,
    "ScreenPorch": 120,
    "PoolArea": 0,
    "PoolQC": None,
    "Fence": "MnPrv",
    "MiscFeature": None,
    "MiscVal": 0,
    "MoSold": 6,
    "YrSold": 2010,
    "SaleType": "WD",
    "SaleCondition": "Normal",
}


def _field(kind: str, description: str, column: str) -> tuple[Any, Any]:
    if kind in _OTHER_KINDS:
        annotation, bounds = _OTHER_KINDS[kind]
        return annotation | None, Field(None, alias=column, description=description, **bounds)
    span = RANGES[column]
    description += (
        f". Plausible {span['min']:g}–{span['max']:g}; the training data covered {span['seen_min']:g}–"
        f"{span['seen_max']:g} (beyond that the answer carries a warning)"
    )
    # allow_inf_nan=False refuses NaN and infinities; strict (the model's config) refuses text and booleans.
    return float | None, Field(
        None, alias=column, description=description, ge=span["min"], le=span["max"], allow_inf_nan=False
    )


def beyond_training(features: dict[str, Any]) -> list[str]:
    """A warning for each numeric field outside the range the model was trained on."""
    warnings = []
    for column, value in features.items():
        span = RANGES.get(column)
        if span is not None and value is not None and not span["seen_min"] <= value <= span["seen_max"]:
            warnings.append(
                f"{column} {value:g} is outside the training data ({span['seen_min']:g}–{span['seen_max']:g}): "
                "the price is an extrapolation"
            )
    return warnings


class _HouseBase(BaseModel):
    # strict: a numeric field takes a JSON number, not "1710" or false (what the schema says).
    model_config = ConfigDict(
        extra="forbid", strict=True, populate_by_name=False, json_schema_extra={"example": EXAMPLE}
    )

    def features(self) -> dict[str, Any]:
        """The features keyed by Kaggle's column names (None where missing)."""
        return self.model_dump(by_alias=True, exclude={"Id"})


HouseFeatures = create_model(
    "HouseFeatures",
    __base__=_HouseBase,
    # Safe Python names for Kaggle's columns (1stFlrSF is not an identifier); the alias is the wire name.
    Id=(int | None, Field(None, description="Kaggle's row id (ignored by the model, echoed in CSV answers)")),
    **{f"f_{name}": _field(kind, description, name) for name, kind, description in COLUMNS},
)
HouseFeatures.__doc__ = "One house, keyed by Kaggle's column names; every field optional."


class SalePrice(BaseModel):
    sale_price: float = Field(description="Predicted sale price in US dollars", examples=[128000.0])
    model_version: str = Field(description="Version of the house model that answered")
    warnings: list[str] | None = Field(
        None, description="Fields outside the range of the training data (present only when there are some)"
    )


class HouseRowsError(InvalidInput):
    """Rows that fail validation: the message names each (up to five) by row and column."""


def validate_house_rows(records: list[dict[str, Any]], first_row: int = 1) -> list[Any]:
    """Validate rows (CSV lines, v2 tensors) with the schema of JSON requests — the same HouseFeatures, so every
    door gives the same verdict for the same row; errors name the row (counted from `first_row`) and column."""
    houses, errors = [], []
    for number, record in enumerate(records, start=first_row):
        try:
            houses.append(HouseFeatures.model_validate(record))
        except ValidationError as exc:
            errors += [f"row {number}, {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        if len(errors) >= 5:
            break
    if errors:
        raise HouseRowsError("; ".join(errors[:5]))
    return houses
