"""The REST door of every image classifier: `POST /predict/{name}` and `/predict/{name}/batch`.

Its job is translation: a JSON body (Kaggle rows or base64 images), an uploaded image, raw uint8 bytes or a
Kaggle CSV becomes a list of arrays of the model's shape (meta.json); the data plane
(app/inference/dataplane.py) resolves the model and the caller's slot before the body is read and holds the
model while app/inference/images.py classifies; the answers go back as JSON (or a submission CSV).
`image_router` documents one model's routes (its own schema and example in Swagger UI); the handlers are
the same for a model that was added to MODEL_DIR after start-up (app/api/routes/any_model.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import TypeAdapter

from app.api.inputs import (
    as_items,
    check_count,
    csv_upload_openapi,
    decode_base64,
    file_body_openapi,
    media_type,
    read_json,
    read_upload,
    validate,
)
from app.api.pixels import rows_from_bytes, rows_from_json
from app.api.security import client_identity
from app.core.config import Settings
from app.core.errors import InvalidInput, TooLarge, UnsupportedMediaType
from app.core.fast_json import FastJSONResponse
from app.inference.dataplane import Admission, DataPlane
from app.inference.images import Classification, classify, classify_bulk
from app.models.repository import Entry
from app.models.service import Serving
from app.predictors.csv_input import parse_pixel_csv
from app.predictors.image_input import decode_image, photo_to_array
from app.schemas.common import one_or_many
from app.schemas.images import ImageInputBase, image_input_model, json_examples, prediction_model, size_text
from app.schemas.model_meta import IMAGE, ImageSpec

EXPLAIN = Query(
    False,
    description="Add `saliency` (H×W, 0–1: which pixels drove the answer, gradient × input of the predicted "
    "class) and `input` (the image the model saw) to each answer. At most MAX_EXPLAIN_ITEMS images.",
)


def title_of(name: str) -> str:
    """A model's name as a schema title: digit → Digit, my-lenet → MyLenet."""
    return "".join(part.capitalize() for part in name.replace(".", "-").replace("_", "-").split("-"))


def image_bytes_to_array(data: bytes, spec: ImageSpec, settings: Settings, where: str = "") -> np.ndarray:
    """Decode an encoded image and prepare it as the model's dataset has its images; 4xx naming the item."""
    try:
        image = decode_image(data, max_bytes=settings.max_image_bytes, max_pixels=settings.max_image_pixels,
                             channels=spec.channels)  # fmt: skip
        return photo_to_array(image, spec)
    except (InvalidInput, TooLarge) as exc:
        raise type(exc)(f"{where}{exc.detail}", code=exc.code) from exc


def input_to_array(item: ImageInputBase, spec: ImageSpec, settings: Settings, where: str = "") -> np.ndarray:
    if item.pixels is not None:
        return np.asarray(item.pixels, dtype=np.float32).reshape(spec.shape)
    assert item.image is not None  # noqa: S101 - narrows the type; the schema guarantees exactly one input
    return image_bytes_to_array(decode_base64(item.image, max_bytes=settings.max_image_bytes), spec, settings, where)


async def json_inputs_to_arrays(payload: Any, spec: ImageSpec, settings: Settings) -> tuple[list[np.ndarray], bool]:
    """Full validation of a JSON body (any mix of `pixels` and `image`), with its 422s naming the item."""
    adapter = TypeAdapter(one_or_many(image_input_model(spec)))
    items, single = as_items(validate(adapter, payload), limit=settings.max_list_items, noun="inputs")

    def convert() -> list[np.ndarray]:
        return [input_to_array(it, spec, settings, "" if single else f"item {i}: ") for i, it in enumerate(items)]

    if all(item.pixels is not None for item in items):
        return convert(), single  # no decoding to do: not worth a thread hop
    return await run_in_threadpool(convert), single  # images to decode: off the event loop


async def read_images(request: Request, spec: ImageSpec, settings: Settings) -> tuple[list[np.ndarray], bool]:
    """The body's images in any form the door takes, as arrays of the model's shape (and was it one image)."""
    kind = media_type(request)
    if kind == "application/octet-stream":
        return rows_from_bytes(await request.body(), limit=settings.max_list_items, spec=spec)
    if kind == "multipart/form-data":
        data, _ = await read_upload(request, max_bytes=settings.max_image_bytes)
        return [await run_in_threadpool(image_bytes_to_array, data, spec, settings)], True
    if kind in ("application/json", ""):
        body = await request.body()
        payload = await read_json(request)
        fast = rows_from_json(payload, limit=settings.max_list_items, spec=spec, body=body)
        return fast if fast is not None else await json_inputs_to_arrays(payload, spec, settings)
    raise UnsupportedMediaType(f"send application/json, application/octet-stream or multipart/form-data, not {kind}")


def answer_of(serving: Serving, result: Classification) -> dict[str, Any]:
    """One JSON answer: label, confidence, probabilities (and the explanation when there is one)."""
    answer = serving.predictor.describe(result.probabilities)
    if result.saliency is not None and result.seen is not None:
        answer["saliency"] = np.round(result.saliency, 3).tolist()
        answer["input"] = np.rint(result.seen).astype(np.int64).tolist()
    return answer


async def predict_images(request: Request, name: str, explain: bool) -> Response:
    """`POST /predict/{name}` of an image classifier."""
    plane: DataPlane = request.app.state.plane
    settings: Settings = request.app.state.settings
    work = "explain" if explain else "infer"
    # The model's 404/503 and the caller's 429 come before the body is read.
    async with plane.admit(name, client_identity(request), task=IMAGE, work=work) as admission:
        spec = image_spec(admission)
        arrays, single = await read_images(request, spec, settings)
        request.state.model, request.state.batch_size = name, len(arrays)  # for the request log line
        if explain:
            check_count(len(arrays), limit=settings.max_explain_items, noun="images to explain",
                        setting="MAX_EXPLAIN_ITEMS")  # fmt: skip

        async def answers(serving: Serving) -> list[dict[str, Any]]:
            return [answer_of(serving, r) for r in await classify(serving, arrays, explain=explain)]

        # One model version from here to the answer, even across a reload. Rendered here rather than validated
        # against the response model: describe() builds the answers in that shape.
        results = await admission.run(answers)
    return FastJSONResponse(results[0] if single else results)


async def predict_image_csv(request: Request, name: str) -> Response:
    """`POST /predict/{name}/batch`: a Kaggle CSV in, a submission CSV `ImageId,Label` out."""
    plane: DataPlane = request.app.state.plane
    settings: Settings = request.app.state.settings
    async with plane.admit(name, client_identity(request), task=IMAGE, work="bulk") as admission:
        data, _ = await read_upload(request, max_bytes=settings.max_body_bytes)
        async with plane.service.csv_slots:  # a bounded number of files in the works at once (memory)
            images = await run_in_threadpool(parse_pixel_csv, data, max_rows=settings.max_csv_rows,
                                             spec=image_spec(admission))  # fmt: skip
            request.state.model, request.state.batch_size = name, len(images)
            probabilities = await admission.run(lambda serving: classify_bulk(serving, list(images),
                                                                              settings.csv_chunk_rows))  # fmt: skip
    lines = ["ImageId,Label", *(f"{i},{int(p.argmax())}" for i, p in enumerate(probabilities, start=1))]
    return Response("\n".join(lines) + "\n", media_type="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="submission.csv"'})  # fmt: skip


def image_spec(admission: Admission) -> ImageSpec:
    assert isinstance(admission.spec, ImageSpec)  # noqa: S101 - resolve() checked the task
    return admission.spec


def image_router(entry: Entry) -> APIRouter:
    """`/predict/{name}` and `/batch` of one image classifier, documented with its schema and example."""
    name, spec = entry.name, entry.spec
    assert isinstance(spec, ImageSpec)  # noqa: S101 - the caller routes image models here
    title = title_of(name)
    router = APIRouter(prefix=f"/predict/{entry.endpoint}", tags=[entry.endpoint])

    async def predict(request: Request, explain: bool = EXPLAIN) -> Response:
        return await predict_images(request, name, explain)

    async def predict_batch(request: Request) -> Response:
        return await predict_image_csv(request, name)

    size = size_text(spec)
    predict.__doc__ = (
        f"Classify an image with the {name} model: JSON `pixels` (a Kaggle row of {spec.pixels} values) or `image` "
        "(base64), an uploaded image file, a JSON list of inputs (answered with a list), or "
        f"`application/octet-stream`: N×{spec.pixels} raw uint8 bytes, row-major {size} (one answer for one "
        "image, a list for more)."
    )
    one = image_input_model(spec, f"{title}Input").model_json_schema()
    example = entry.meta.get("example") if isinstance(entry.meta.get("example"), dict) else {}
    examples = json_examples(example.get("pixels"), example.get("image"))
    raw = f"N×{spec.pixels} uint8 pixels, row-major {size} in Kaggle's order"
    answer = prediction_model(spec, f"{title}Prediction")
    router.add_api_route(
        "", predict, methods=["POST"], name=f"predict_{name}", response_model=answer | list[answer],
        openapi_extra=file_body_openapi({"anyOf": [one, {"type": "array", "items": one}]}, examples,
                                        f"An image for the {name} model, or a list of them", raw),
    )  # fmt: skip
    predict_batch.__doc__ = (
        f"Classify every row of a CSV in Kaggle's test.csv format ({spec.pixels} pixel columns, with or without "
        "`label`); answers a Kaggle submission CSV `ImageId,Label`."
    )
    router.add_api_route(
        "/batch", predict_batch, methods=["POST"], name=f"predict_{name}_batch", response_class=Response,
        openapi_extra=csv_upload_openapi(f"A CSV of images for the {name} model in Kaggle's format")
        | {"responses": {"200": {"description": "Submission CSV", "content": {"text/csv": {}}}}},
    )  # fmt: skip
    return router
