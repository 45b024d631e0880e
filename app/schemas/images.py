"""Schemas of the image-classification endpoints: JSON inputs and the answers, built for each model's spec.

A model's images are H×W (one channel) or H×W×C pixels, 0–255 (meta.json's input); its classes may have
names (in English, and Chinese). The schemas follow: a Kaggle row of H·W·C values or an encoded image in,
the label, confidence, every probability and the class names out.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_validator

from app.schemas.model_meta import ImageSpec
from app.schemas.pixels import out_of_range


def size_text(spec: ImageSpec) -> str:
    grid = f"{spec.height}×{spec.width}"
    return grid if spec.channels == 1 else f"{grid}×{spec.channels}"


class ImageInputBase(BaseModel):
    """One image: either a Kaggle row of pixels, or an encoded image file in base64."""

    # strict: a pixel is a JSON number, not "12" or true (what the schema says, and what a fuzzer checks).
    model_config = ConfigDict(extra="forbid", strict=True)

    pixels: list[float] | None
    image: str | None = Field(
        None,
        description="A PNG/JPEG/GIF/BMP/WebP/TIFF file, base64-encoded (a `data:image/...;base64,` prefix is "
        "fine). Any size: it is prepared the way the model's dataset was made.",
    )

    @model_validator(mode="after")
    def exactly_one_input(self) -> ImageInputBase:
        if (self.pixels is None) == (self.image is None):
            raise ValueError("give exactly one of `pixels` or `image`")
        return self

    @field_validator("pixels")
    @classmethod
    def pixels_in_range(cls, pixels: list[float] | None) -> list[float] | None:
        bad = out_of_range(pixels) if pixels else ()
        if len(bad):
            raise ValueError(f"pixel {bad[0]} is {pixels[bad[0]]}, outside 0–255")
        return pixels


@lru_cache(maxsize=64)
def image_input_model(spec: ImageSpec, title: str = "ImageInput") -> type[ImageInputBase]:
    """The JSON input of one image for this spec: `pixels` of exactly H·W·C values, or `image`."""
    layout = "grayscale values" if spec.channels == 1 else f"values, {spec.channels} per pixel (channels last)"
    pixels = Field(
        None,
        description=f"{spec.pixels} {layout} 0–255, row-major {size_text(spec)} as in the model's dataset — a row of "
        "a Kaggle CSV without its label. Used as is (it is already in the model's format).",
        min_length=spec.pixels,
        max_length=spec.pixels,
    )
    model = create_model(title, __base__=ImageInputBase, pixels=(list[float] | None, pixels))
    model.__doc__ = ImageInputBase.__doc__
    return model


class Explanation(BaseModel):
    """Added to an answer when the request asks `explain=true`."""

    saliency: list[list[float]] | None = Field(
        None,
        description="H×W, 0–1: how much each pixel drove the predicted class (gradient × input of its score, "
        "positive part, scaled so the largest is 1)",
    )
    input: list[Any] | None = Field(
        None, description="The image the model saw, 0–255, after preparation (rounded; usable as `pixels`)"
    )


@lru_cache(maxsize=64)
def prediction_model(spec: ImageSpec, title: str = "ImagePrediction") -> type[BaseModel]:
    """The answer for one image: what ImageClassifier.describe writes, as this model's classes have it."""
    classes = len(spec.classes)
    fields: dict[str, Any] = {
        "label": (int, Field(description=f"The predicted class id, 0–{classes - 1}", examples=[0])),
        "confidence": (float, Field(description="Probability of the predicted class", examples=[0.98])),
        "probabilities": (list[float], Field(description=f"Probability of each class 0–{classes - 1} (sums to 1)")),
    }
    if spec.named_classes:
        fields["class_name"] = (str, Field(description="Class name in English", examples=[spec.classes[0]]))
    if spec.classes_zh is not None:
        fields["class_name_zh"] = (str, Field(description="Class name in Chinese", examples=[spec.classes_zh[0]]))
    fields["model_version"] = (str, Field(description="Version of the model that answered"))
    return create_model(title, __base__=Explanation, **fields)


def json_examples(pixels: list[int] | None, png_base64: str | None) -> dict[str, Any]:
    """Named OpenAPI examples (Swagger offers them in a drop-down) for the JSON body."""
    examples: dict[str, Any] = {}
    if pixels is not None:
        examples["pixels"] = {"summary": f"A Kaggle CSV row ({len(pixels)} pixels)", "value": {"pixels": pixels}}
    if png_base64 is not None:
        examples["image"] = {"summary": "A base64 PNG (a photo or a drawing)", "value": {"image": png_base64}}
    if pixels is not None and png_base64 is not None:
        examples["list"] = {
            "summary": "A list of inputs → a list of answers",
            "value": [{"pixels": pixels}, {"image": png_base64}],
        }
    return examples
