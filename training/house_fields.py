"""`python -m training.house_fields`: the playground's house form, computed from the model and the data.

Which fields lead the form is measured, not guessed: permutation importance of the committed model
on the course's 20 % holdout of train.csv (shuffle one column across the holdout rows, several
times; how much the log-RMSE grows is that column's importance). The twelve most important come
first, labelled in English and Chinese with units, prefilled with a typical value from train.csv
(the median of a number, the commonest category); every other column follows, empty. Category
choices are the values train.csv has, commonest first. Written to
app/static/playground/house_fields.json (committed; a test checks it against the data).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from app.models.registry import load_model
from app.predictors.tabular import TabularRegressor
from training.data.loaders import load_house
from training.house_columns import COLUMNS, RANGES_FILE

FIELDS_FILE = Path("app") / "static" / "playground" / "house_fields.json"
RANGES = json.loads(RANGES_FILE.read_text(encoding="utf-8"))
KAGGLE_ORDER = {name: position for position, (name, _, _) in enumerate(COLUMNS)}
MAIN_FIELDS = 12
REPEATS = 5
SEED = 0

# English and Chinese captions and units for the fields that can lead the form (the importance
# ranking decides which do; a leading field without a caption here stops the script).
CAPTIONS: dict[str, tuple[str, str, str, str]] = {
    "OverallQual": ("Overall quality (1–10)", "整体质量（1–10）", "", ""),
    "GrLivArea": ("Living area above ground", "地上居住面积", "sq ft", "平方英尺"),
    "TotalBsmtSF": ("Basement area", "地下室面积", "sq ft", "平方英尺"),
    "1stFlrSF": ("First floor area", "一楼面积", "sq ft", "平方英尺"),
    "2ndFlrSF": ("Second floor area", "二楼面积", "sq ft", "平方英尺"),
    "BsmtFinSF1": ("Finished basement area", "地下室装修面积", "sq ft", "平方英尺"),
    "BsmtUnfSF": ("Unfinished basement area", "地下室未装修面积", "sq ft", "平方英尺"),
    "LotArea": ("Lot area", "地块面积", "sq ft", "平方英尺"),
    "LotFrontage": ("Street frontage", "临街长度", "ft", "英尺"),
    "GarageCars": ("Garage size", "车库容量", "cars", "辆车"),
    "GarageArea": ("Garage area", "车库面积", "sq ft", "平方英尺"),
    "YearBuilt": ("Year built", "建造年份", "", ""),
    "YearRemodAdd": ("Year remodelled", "翻修年份", "", ""),
    "OverallCond": ("Overall condition (1–10)", "整体状况（1–10）", "", ""),
    "Neighborhood": ("Neighborhood", "街区", "", ""),
    "MSZoning": ("Zoning", "分区类型", "", ""),
    "MSSubClass": ("Dwelling type code", "住宅类型代码", "", ""),
    "KitchenQual": ("Kitchen quality", "厨房质量", "", ""),
    "ExterQual": ("Exterior quality", "外墙质量", "", ""),
    "BsmtQual": ("Basement height", "地下室层高", "", ""),
    "FullBath": ("Full bathrooms", "全卫数", "", ""),
    "HalfBath": ("Half bathrooms", "半卫数", "", ""),
    "TotRmsAbvGrd": ("Rooms above ground", "地上房间数", "", ""),
    "Fireplaces": ("Fireplaces", "壁炉数", "", ""),
    "CentralAir": ("Central air", "中央空调", "", ""),
    "SaleCondition": ("Sale condition", "交易状况", "", ""),
    "Functional": ("Home functionality", "房屋功能", "", ""),
    "BsmtFullBath": ("Basement full bathrooms", "地下室全卫数", "", ""),
    "GarageYrBlt": ("Garage year built", "车库建造年份", "", ""),
    "MasVnrArea": ("Masonry veneer area", "砖石饰面面积", "sq ft", "平方英尺"),
    "BsmtExposure": ("Basement exposure", "地下室采光", "", ""),
    "HeatingQC": ("Heating quality", "供暖质量", "", ""),
    "GarageFinish": ("Garage finish", "车库装修", "", ""),
    "GarageType": ("Garage type", "车库类型", "", ""),
    "Foundation": ("Foundation", "地基类型", "", ""),
    "BldgType": ("Building type", "建筑类型", "", ""),
    "WoodDeckSF": ("Wood deck area", "木平台面积", "sq ft", "平方英尺"),
    "OpenPorchSF": ("Open porch area", "开放门廊面积", "sq ft", "平方英尺"),
    "ScreenPorch": ("Screen porch area", "纱窗门廊面积", "sq ft", "平方英尺"),
    "LotConfig": ("Lot configuration", "地块布局", "", ""),
    "SaleType": ("Sale type", "交易类型", "", ""),
    "Condition1": ("Proximity to roads or rail", "临近道路或铁路", "", ""),
    "KitchenAbvGr": ("Kitchens above ground", "地上厨房数", "", ""),
    "BedroomAbvGr": ("Bedrooms above ground", "地上卧室数", "", ""),
    "Exterior1st": ("Exterior covering", "外墙材料", "", ""),
    "YrSold": ("Year sold", "出售年份", "", ""),
}


def permutation_importance(pricer: TabularRegressor, rows: pd.DataFrame, prices: np.ndarray) -> dict[str, float]:
    """How much the holdout log-RMSE grows when each column is shuffled (mean over REPEATS shuffles)."""

    def log_rmse(frame: pd.DataFrame) -> float:
        records = frame.astype(object).where(frame.notna(), None).to_dict("records")
        predicted = np.array(pricer.run_batch(pricer.features(records)))
        return float(np.sqrt(np.mean((np.log(predicted) - np.log(prices)) ** 2)))

    base = log_rmse(rows)
    rng = np.random.default_rng(SEED)
    importance = {}
    for name, _, _ in COLUMNS:
        losses = []
        for _ in range(REPEATS):
            shuffled = rows.copy()
            shuffled[name] = rng.permutation(shuffled[name].to_numpy())
            losses.append(log_rmse(shuffled))
        importance[name] = float(np.mean(losses) - base)
    return importance


def _plain(value: Any) -> Any:
    """A JSON-ready typical value: integers stay integers (a year is 1973, not 1973.0)."""
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return int(value) if float(value).is_integer() else round(float(value), 1)
    return str(value)


def describe_field(name: str, kind: str, description: str, train: pd.DataFrame) -> dict[str, Any]:
    column = train[name].dropna()
    field: dict[str, Any] = {"name": name, "kind": kind, "description": description}
    if kind in ("text", "code"):
        counts = column.value_counts()
        field["choices"] = [_plain(value) for value in counts.index]
        field["typical"] = _plain(counts.index[0])
    else:
        field["min"], field["max"] = RANGES[name]["min"], RANGES[name]["max"]
        field["typical"] = _plain(np.round(column.median()))
    if name in CAPTIONS:
        field["label_en"], field["label_zh"], field["unit_en"], field["unit_zh"] = CAPTIONS[name]
    return field


def compute_fields(train: pd.DataFrame, importance: dict[str, float]) -> dict[str, Any]:
    ranked = sorted(COLUMNS, key=lambda column: -importance[column[0]])
    fields = [describe_field(name, kind, description, train) for name, kind, description in ranked]
    for field in fields[:MAIN_FIELDS]:
        if "label_zh" not in field:
            raise SystemExit(f"{field['name']} leads the form but has no caption in CAPTIONS: add one")
        field["importance"] = round(importance[field["name"]], 4)
    return {
        "about": "the house form of the playground; made by python -m training.house_fields from train.csv "
        "and the committed model (importance = growth of the holdout log-RMSE when the column is shuffled)",
        "main": fields[:MAIN_FIELDS],
        "other": sorted(fields[MAIN_FIELDS:], key=lambda field: KAGGLE_ORDER[field["name"]]),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--model-dir", type=Path, default=Path("models"))
    args = parser.parse_args(argv)
    splits = load_house(args.data_dir)
    loaded = load_model("house", args.model_dir / "house", torch.device("cpu"))
    pricer = TabularRegressor(loaded.module, loaded.side, loaded.device, transform="exp")
    holdout = splits.val.drop(columns=["Id", "SalePrice"])
    importance = permutation_importance(pricer, holdout, splits.val["SalePrice"].to_numpy(dtype=np.float64))
    fields = compute_fields(splits.full_train, importance)
    FIELDS_FILE.write_text(json.dumps(fields, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print("most important:", ", ".join(f"{f['name']} {f['importance']:.4f}" for f in fields["main"]))
    print(f"{len(fields['main'])} + {len(fields['other'])} fields → {FIELDS_FILE}")


if __name__ == "__main__":
    main()
