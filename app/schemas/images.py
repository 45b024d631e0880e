"""Schemas for the digit and fashion endpoints: JSON inputs and the answers."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.schemas import image_examples as ex
from app.schemas.pixels import out_of_range


class ImageInput(BaseModel):
    """One image: either a Kaggle row of 784 pixels, or an encoded image file in base64."""

    # strict: a pixel is a JSON number, not "12" or true (what the schema says, and what a fuzzer checks).
    model_config = ConfigDict(extra="forbid", strict=True)

    pixels: list[float] | None = Field(
        None,
        description="784 grayscale values 0–255, row-major 28×28, light ink on dark background — a row of "
        "Kaggle's CSV without its label. Used as is (it is already in the model's format).",
        min_length=784,
        max_length=784,
    )
    image: str | None = Field(
        None,
        description="A PNG/JPEG/GIF/BMP/WebP/TIFF file, base64-encoded (a `data:image/...;base64,` prefix is "
        "fine). Any size and either polarity: it is normalized the way the dataset was made.",
    )

    @model_validator(mode="after")
    def exactly_one_input(self) -> ImageInput:
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


class Explanation(BaseModel):
    """Added to an answer when the request asks `explain=true`."""

    saliency: list[list[float]] | None = Field(
        None,
        description="28×28, 0–1: how much each pixel drove the predicted class (gradient × input of its score, "
        "positive part, scaled so the largest is 1)",
    )
    input: list[list[int]] | None = Field(
        None, description="28×28, 0–255: the image the model saw, after normalization (rounded; usable as `pixels`)"
    )


class DigitPrediction(Explanation):
    label: int = Field(description="The predicted digit, 0–9", examples=[7])
    confidence: float = Field(description="Probability of the predicted digit", examples=[0.998])
    probabilities: list[float] = Field(description="Probability of each digit 0–9 (sums to 1)")
    model_version: str = Field(description="Version of the model that answered")


class FashionPrediction(Explanation):
    label: int = Field(description="The predicted class id, 0–9", examples=[9])
    class_name: str = Field(description="Class name in English", examples=["Ankle boot"])
    class_name_zh: str = Field(description="Class name in Chinese (as in the course)", examples=["靴子"])
    confidence: float = Field(description="Probability of the predicted class", examples=[0.97])
    probabilities: list[float] = Field(description="Probability of each class 0–9 (sums to 1)")
    model_version: str = Field(description="Version of the model that answered")


def json_examples(pixels: list[int], png_base64: str) -> dict[str, Any]:
    """Named OpenAPI examples (Swagger offers them in a drop-down) for the JSON body."""
    return {
        "pixels": {"summary": "A Kaggle CSV row (784 pixels)", "value": {"pixels": pixels}},
        "image": {"summary": "A base64 PNG, dark on white, 56×56", "value": {"image": png_base64}},
        "list": {
            "summary": "A list of inputs → a list of answers",
            "value": [{"pixels": pixels}, {"image": png_base64}],
        },
    }


DIGIT_EXAMPLES = json_examples(ex.DIGIT_PIXELS, ex.DIGIT_PNG_BASE64)
FASHION_EXAMPLES = json_examples(ex.FASHION_PIXELS, ex.FASHION_PNG_BASE64)
