"""The REST door of the two image classifiers (digit, fashion), built once per model.

Its job is translation: a JSON body (Kaggle rows or base64 images), an uploaded image, raw uint8 bytes
or a Kaggle CSV becomes a list of 28×28 arrays; app/inference/images.py classifies them; the answers
go back as JSON (or a submission CSV).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, TypeAdapter

from app.api.deps import ServiceDep, SettingsDep, client_slot, per_client
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
from app.core.config import Settings
from app.core.errors import InvalidInput, TooLarge, UnsupportedMediaType
from app.core.fast_json import FastJSONResponse
from app.inference.images import Classification, classify, classify_bulk
from app.models.service import ModelService
from app.predictors.classifier import ImageClassifier
from app.predictors.csv_input import parse_pixel_csv
from app.predictors.image_input import decode_image
from app.schemas.common import one_or_many
from app.schemas.images import ImageInput

Normalize = Callable[..., np.ndarray]
EXPLAIN = Query(
    False,
    description="Add `saliency` (28×28, 0–1: which pixels drove the answer, gradient × input of the predicted "
    "class) and `input` (the 28×28 image the model saw) to each answer. At most MAX_EXPLAIN_ITEMS images.",
)
INPUTS = TypeAdapter(one_or_many(ImageInput))
# Inlined (ImageInput has no nested models), since this body is described by hand, not by a parameter.
INPUT_SCHEMA = {"anyOf": [ImageInput.model_json_schema(), {"type": "array", "items": ImageInput.model_json_schema()}]}


def image_bytes_to_array(data: bytes, normalize: Normalize, settings: Settings, where: str = "") -> np.ndarray:
    """Decode and normalize an encoded image; client problems become a 4xx naming the item."""
    try:
        image = decode_image(data, max_bytes=settings.max_image_bytes, max_pixels=settings.max_image_pixels)
        return normalize(image)
    except (InvalidInput, TooLarge) as exc:
        raise type(exc)(f"{where}{exc.detail}", code=exc.code) from exc


def input_to_array(item: ImageInput, normalize: Normalize, settings: Settings, where: str = "") -> np.ndarray:
    if item.pixels is not None:
        return np.asarray(item.pixels, dtype=np.float32).reshape(28, 28)
    assert item.image is not None  # noqa: S101 - narrows the type; the schema guarantees exactly one input
    return image_bytes_to_array(
        decode_base64(item.image, max_bytes=settings.max_image_bytes), normalize, settings, where
    )


async def json_inputs_to_arrays(
    payload: Any, normalize: Normalize, settings: Settings
) -> tuple[list[np.ndarray], bool]:
    """Full validation of a JSON body (any mix of `pixels` and `image`), with its 422s naming the item."""
    items, single = as_items(validate(INPUTS, payload), limit=settings.max_list_items, noun="inputs")

    def convert() -> list[np.ndarray]:
        return [input_to_array(it, normalize, settings, "" if single else f"item {i}: ") for i, it in enumerate(items)]

    if all(item.pixels is not None for item in items):
        return convert(), single  # no decoding to do: not worth a thread hop
    return await run_in_threadpool(convert), single  # images to decode: off the event loop


def answer_of(classifier: ImageClassifier, result: Classification) -> dict[str, Any]:
    """One JSON answer: label, confidence, probabilities (and the explanation when there is one)."""
    answer = classifier.describe(result.probabilities)
    if result.saliency is not None and result.seen is not None:
        answer["saliency"] = np.round(result.saliency, 3).tolist()
        answer["input"] = np.rint(result.seen).astype(np.int64).tolist()
    return answer


def build_image_router(
    *,
    name: str,
    noun: str,
    normalize: Normalize,
    answer: type[BaseModel],
    examples: dict,
) -> APIRouter:
    router = APIRouter(prefix=f"/predict/{name}", tags=[name])

    async def predict(
        request: Request, service: ServiceDep, settings: SettingsDep, explain: bool = EXPLAIN
    ) -> Response:
        service.current(name)  # a model that is down answers 503 before the body is read
        async with client_slot(request, "explain", when=explain):  # a client's 429 comes before its body is read
            return await read_and_classify(request, service, settings, explain)

    async def read_and_classify(request: Request, service: ModelService, settings: Settings, explain: bool) -> Response:
        kind = media_type(request)
        if kind == "application/octet-stream":
            arrays, single = rows_from_bytes(await request.body(), limit=settings.max_list_items)
        elif kind == "multipart/form-data":
            data, _ = await read_upload(request, max_bytes=settings.max_image_bytes)
            arrays, single = [await run_in_threadpool(image_bytes_to_array, data, normalize, settings)], True
        elif kind in ("application/json", ""):
            body = await request.body()
            payload = await read_json(request)
            fast = rows_from_json(payload, limit=settings.max_list_items, body=body)
            arrays, single = fast if fast is not None else await json_inputs_to_arrays(payload, normalize, settings)
        else:
            raise UnsupportedMediaType(
                f"send application/json, application/octet-stream or multipart/form-data, not {kind}"
            )
        request.state.model, request.state.batch_size = name, len(arrays)  # for the request log line
        if explain:
            check_count(len(arrays), limit=settings.max_explain_items, noun="images to explain",
                        setting="MAX_EXPLAIN_ITEMS")  # fmt: skip
        with service.hold(name) as serving:  # one model version from here to the answer, even across a reload
            answers = [answer_of(serving.predictor, r) for r in await classify(serving, arrays, explain=explain)]
        # Rendered here rather than validated against the response model: the answers are built by
        # describe() in that shape, and the model stays in the OpenAPI schema for clients.
        return FastJSONResponse(answers[0] if single else answers)

    predict.__doc__ = (
        f"Classify {noun}: JSON `pixels` (a Kaggle row) or `image` (base64), an uploaded image file, "
        "a JSON list of inputs (answered with a list), or `application/octet-stream`: N×784 raw uint8 "
        "bytes, row-major 28×28 in Kaggle's pixel order (one answer for 784 bytes, a list for more)."
    )
    router.add_api_route(
        "",
        predict,
        methods=["POST"],
        name=f"predict_{name}",
        response_model=answer | list[answer],
        openapi_extra=file_body_openapi(INPUT_SCHEMA, examples, f"{noun[0].upper()}{noun[1:]}, or a list of them"),
    )

    async def predict_batch(request: Request, service: ServiceDep, settings: SettingsDep) -> Response:
        service.current(name)
        data, _ = await read_upload(request, max_bytes=settings.max_body_bytes)
        async with service.csv_slots:  # a bounded number of files in the works at once (memory)
            images = await run_in_threadpool(parse_pixel_csv, data, max_rows=settings.max_csv_rows)
            request.state.model, request.state.batch_size = name, len(images)
            with service.hold(name) as serving:
                probabilities = await classify_bulk(serving, list(images), settings.csv_chunk_rows)
        lines = ["ImageId,Label", *(f"{i},{int(p.argmax())}" for i, p in enumerate(probabilities, start=1))]
        return Response(
            "\n".join(lines) + "\n",
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="submission.csv"'},
        )

    predict_batch.__doc__ = (
        "Classify every row of a CSV in Kaggle's test.csv format (pixel columns, with or without `label`); "
        "answers a Kaggle submission CSV `ImageId,Label`."
    )
    router.add_api_route(
        "/batch",
        predict_batch,
        methods=["POST"],
        name=f"predict_{name}_batch",
        dependencies=[Depends(per_client("csv"))],
        response_class=Response,
        openapi_extra=csv_upload_openapi(f"A CSV of {noun}s in Kaggle's format")
        | {"responses": {"200": {"description": "Submission CSV", "content": {"text/csv": {}}}}},
    )
    return router
