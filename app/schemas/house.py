"""Request and response schemas for /predict/house-price: Kaggle's 79 feature columns, all optional.

Field names are exactly Kaggle's (`1stFlrSF` included, via aliases); any field may be missing
or null and is then filled exactly as in training. Numeric fields refuse text and impossible
values (negative areas, a month 13) with a 422 naming the field; unknown field names are refused
too, so a typo is not silently treated as a missing value. Category values are free text:
one never seen in training is accepted and ignored, as in training.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

# (Kaggle column, type, description). Types: "area"/"count" = non-negative number, "year", "month",
# "rating" = 1–10, "code" = MSSubClass's numeric dwelling code, "text" = category.
COLUMNS: list[tuple[str, str, str]] = [
    ("MSSubClass", "code", "Dwelling type code (20 = 1-story 1946+, 60 = 2-story 1946+, …); a category"),
    ("MSZoning", "text", "General zoning (RL, RM, FV, RH, C (all))"),
    ("LotFrontage", "area", "Linear feet of street connected to the property"),
    ("LotArea", "area", "Lot size in square feet"),
    ("Street", "text", "Road access (Pave, Grvl)"),
    ("Alley", "text", "Alley access (Grvl, Pave; missing = none)"),
    ("LotShape", "text", "Lot shape (Reg, IR1, IR2, IR3)"),
    ("LandContour", "text", "Flatness (Lvl, Bnk, HLS, Low)"),
    ("Utilities", "text", "Utilities available (AllPub, NoSeWa)"),
    ("LotConfig", "text", "Lot configuration (Inside, Corner, CulDSac, FR2, FR3)"),
    ("LandSlope", "text", "Slope (Gtl, Mod, Sev)"),
    ("Neighborhood", "text", "Ames neighborhood (NAmes, CollgCr, OldTown, …)"),
    ("Condition1", "text", "Proximity to roads or railroads (Norm, Feedr, Artery, …)"),
    ("Condition2", "text", "Second proximity condition"),
    ("BldgType", "text", "Building type (1Fam, 2fmCon, Duplex, TwnhsE, Twnhs)"),
    ("HouseStyle", "text", "Style (1Story, 2Story, 1.5Fin, SLvl, …)"),
    ("OverallQual", "rating", "Overall material and finish, 1–10"),
    ("OverallCond", "rating", "Overall condition, 1–10"),
    ("YearBuilt", "year", "Original construction year"),
    ("YearRemodAdd", "year", "Remodel year (= construction year if none)"),
    ("RoofStyle", "text", "Roof type (Gable, Hip, …)"),
    ("RoofMatl", "text", "Roof material (CompShg, …)"),
    ("Exterior1st", "text", "Exterior covering (VinylSd, HdBoard, …)"),
    ("Exterior2nd", "text", "Second exterior covering"),
    ("MasVnrType", "text", "Masonry veneer type (BrkFace, Stone, BrkCmn; missing = none)"),
    ("MasVnrArea", "area", "Masonry veneer area, sq ft"),
    ("ExterQual", "text", "Exterior quality (Ex, Gd, TA, Fa, Po)"),
    ("ExterCond", "text", "Exterior condition (Ex, Gd, TA, Fa, Po)"),
    ("Foundation", "text", "Foundation (PConc, CBlock, BrkTil, …)"),
    ("BsmtQual", "text", "Basement height (Ex, Gd, TA, Fa; missing = no basement)"),
    ("BsmtCond", "text", "Basement condition"),
    ("BsmtExposure", "text", "Walkout or garden-level walls (Gd, Av, Mn, No)"),
    ("BsmtFinType1", "text", "Finished basement area rating (GLQ, ALQ, BLQ, Rec, LwQ, Unf)"),
    ("BsmtFinSF1", "area", "Type-1 finished basement, sq ft"),
    ("BsmtFinType2", "text", "Second finished basement area rating"),
    ("BsmtFinSF2", "area", "Type-2 finished basement, sq ft"),
    ("BsmtUnfSF", "area", "Unfinished basement, sq ft"),
    ("TotalBsmtSF", "area", "Total basement, sq ft"),
    ("Heating", "text", "Heating type (GasA, GasW, …)"),
    ("HeatingQC", "text", "Heating quality (Ex, Gd, TA, Fa, Po)"),
    ("CentralAir", "text", "Central air conditioning (Y, N)"),
    ("Electrical", "text", "Electrical system (SBrkr, FuseA, …)"),
    ("1stFlrSF", "area", "First floor, sq ft"),
    ("2ndFlrSF", "area", "Second floor, sq ft"),
    ("LowQualFinSF", "area", "Low-quality finished area, sq ft"),
    ("GrLivArea", "area", "Above-ground living area, sq ft"),
    ("BsmtFullBath", "count", "Basement full bathrooms"),
    ("BsmtHalfBath", "count", "Basement half bathrooms"),
    ("FullBath", "count", "Full bathrooms above grade"),
    ("HalfBath", "count", "Half baths above grade"),
    ("BedroomAbvGr", "count", "Bedrooms above grade"),
    ("KitchenAbvGr", "count", "Kitchens above grade"),
    ("KitchenQual", "text", "Kitchen quality (Ex, Gd, TA, Fa, Po)"),
    ("TotRmsAbvGrd", "count", "Rooms above grade, bathrooms excluded"),
    ("Functional", "text", "Home functionality (Typ, Min1, Min2, Mod, Maj1, …)"),
    ("Fireplaces", "count", "Number of fireplaces"),
    ("FireplaceQu", "text", "Fireplace quality (missing = no fireplace)"),
    ("GarageType", "text", "Garage location (Attchd, Detchd, BuiltIn, …; missing = none)"),
    ("GarageYrBlt", "year", "Year the garage was built"),
    ("GarageFinish", "text", "Garage interior finish (Fin, RFn, Unf)"),
    ("GarageCars", "count", "Garage size in car capacity"),
    ("GarageArea", "area", "Garage size, sq ft"),
    ("GarageQual", "text", "Garage quality"),
    ("GarageCond", "text", "Garage condition"),
    ("PavedDrive", "text", "Paved driveway (Y, P, N)"),
    ("WoodDeckSF", "area", "Wood deck, sq ft"),
    ("OpenPorchSF", "area", "Open porch, sq ft"),
    ("EnclosedPorch", "area", "Enclosed porch, sq ft"),
    ("3SsnPorch", "area", "Three-season porch, sq ft"),
    ("ScreenPorch", "area", "Screen porch, sq ft"),
    ("PoolArea", "area", "Pool area, sq ft"),
    ("PoolQC", "text", "Pool quality (missing = no pool)"),
    ("Fence", "text", "Fence quality (missing = no fence)"),
    ("MiscFeature", "text", "Miscellaneous feature (Shed, Gar2, …)"),
    ("MiscVal", "area", "Value of the miscellaneous feature, $"),
    ("MoSold", "month", "Month sold, 1–12"),
    ("YrSold", "year", "Year sold"),
    ("SaleType", "text", "Sale type (WD, New, COD, …)"),
    ("SaleCondition", "text", "Sale condition (Normal, Abnorml, Partial, …)"),
]
FEATURES = [name for name, _, _ in COLUMNS]

# Kaggle's own test.csv has GarageYrBlt 2207 (a typo for 2007): a bound that refused it would
# refuse real input, so years are only required to be plausible, not recent.
_CONSTRAINTS: dict[str, tuple[Any, dict[str, Any]]] = {
    "area": (float, {"ge": 0}),
    "count": (float, {"ge": 0, "le": 100}),
    "year": (float, {"ge": 1700, "le": 2300}),
    "month": (float, {"ge": 1, "le": 12}),
    "rating": (float, {"ge": 1, "le": 10}),
    "code": (int | str, {}),
    "text": (str, {"max_length": 40}),
}

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
    annotation, bounds = _CONSTRAINTS[kind]
    # strict=False floats still refuse text such as "big"; allow_inf_nan=False refuses NaN/inf.
    extra = {"allow_inf_nan": False} if annotation is float else {}
    return annotation | None, Field(None, alias=column, description=description, **bounds, **extra)


class _HouseBase(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=False, json_schema_extra={"example": EXAMPLE})

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
