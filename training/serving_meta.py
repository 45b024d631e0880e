"""The part of each committed model's meta.json that says how it is served (app/schemas/model_meta.py reads it).

The training scripts write it with the training record; `python -m training.serving_meta` writes it into the
committed folders again (after editing the columns, the ranges or an example). The server reads only
meta.json: nothing here is imported by app/.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from training import image_examples as ex
from training.house_columns import COLUMNS, EXAMPLE, RANGES_FILE

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
NUMBER_KINDS = ("area", "count", "year", "month", "rating")

IMAGE = {
    "digit": {
        "description": "Handwritten digits (MNIST / Kaggle Digit Recognizer)",
        "input": {"photo": "mnist"},
        "example": {"pixels": ex.DIGIT_PIXELS, "image": ex.DIGIT_PNG_BASE64, "label": ex.DIGIT_LABEL},
    },
    "fashion": {
        "description": "Fashion-MNIST clothing classes",
        "input": {"photo": "fashion-mnist"},
        "example": {"pixels": ex.FASHION_PIXELS, "image": ex.FASHION_PNG_BASE64, "label": ex.FASHION_LABEL},
    },
}
POEM = {
    "description": "Tang poems from the character-level model",
    "input": {"vocab": "vocab.json", "rhymes": "rhymes.json"},
}


def house_columns() -> list[dict[str, Any]]:
    """Kaggle's 79 columns as meta.json's `input.columns`: kind, meaning and, for numbers, their ranges."""
    ranges = json.loads(RANGES_FILE.read_text(encoding="utf-8"))
    columns = []
    for name, kind, description in COLUMNS:
        if kind in NUMBER_KINDS:
            columns.append({"name": name, "kind": "number", "description": description, **ranges[name]})
        else:
            columns.append({"name": name, "kind": "code" if kind == "code" else "category", "description": description})
    return columns


def house() -> dict[str, Any]:
    return {
        "task": "tabular-regression",
        "endpoint": "house-price",
        "description": "Kaggle house prices (Ames)",
        "input": {"columns": house_columns(), "preprocess": "preprocess.json", "id_column": "Id", "row_noun": "houses"},
        "output": {"target": "SalePrice", "field": "sale_price", "noun": "price", "transform": "exp"},
        "example": EXAMPLE,
    }


def serving_part(name: str) -> dict[str, Any]:
    if name in IMAGE:
        return IMAGE[name]
    return house() if name == "house" else POEM


def merged(meta: dict[str, Any], part: dict[str, Any]) -> dict[str, Any]:
    """meta.json with the serving part written in (`input` and `output` are merged key by key)."""
    out = dict(meta)
    for key, value in part.items():
        out[key] = {**out.get(key, {}), **value} if key in ("input", "output") else value
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=["digit", "fashion", "house", "poem"])
    parser.add_argument("--models-dir", type=Path, default=MODELS_DIR)
    args = parser.parse_args(argv)
    for name in args.names:
        path = args.models_dir / name / "meta.json"
        meta = json.loads(path.read_text(encoding="utf-8"))
        path.write_text(json.dumps(merged(meta, serving_part(name)), indent=2, ensure_ascii=False) + "\n",
                        encoding="utf-8")  # fmt: skip
        print(f"{path}: serving part written")


if __name__ == "__main__":
    main()
