"""The REST door of every tabular regressor: `POST /predict/{name}` and `/predict/{name}/batch`.

Both validate every row with the model's one row schema (app/schemas/tabular.py, built from meta.json's
columns) and predict through the data plane (app/inference/tabular.py). The JSON answer carries each row's
warnings (fields outside the training data); a submission CSV has no room for them, so the batch answer
keeps Kaggle's exact format and says in the header `X-Warning-Rows` how many rows had any (send those rows
as JSON to read them). The house model is one instance: `/predict/house-price`, `sale_price`, `Id,SalePrice`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import TypeAdapter

from app.api.image_routes import title_of
from app.api.inputs import as_items, csv_upload_openapi, read_json, read_upload, validate
from app.api.security import client_identity
from app.core.config import Settings
from app.core.fast_json import FastJSONResponse
from app.inference.dataplane import Admission, DataPlane
from app.inference.tabular import Prediction, predict
from app.models.repository import Entry
from app.predictors.csv_input import invalid_csv, parse_tabular_csv
from app.schemas.common import one_or_many
from app.schemas.model_meta import TABULAR, TabularSpec
from app.schemas.tabular import RowsError, TabularRow, answer_model, row_model, validate_rows

WARNING_ROWS = "X-Warning-Rows"


def tabular_spec(admission: Admission) -> TabularSpec:
    assert isinstance(admission.spec, TabularSpec)  # noqa: S101 - resolve() checked the task
    return admission.spec


def json_answer(spec: TabularSpec, prediction: Prediction, version: str) -> dict[str, Any]:
    answer: dict[str, Any] = {spec.field: round(prediction.value, 2), "model_version": version}
    if prediction.warnings:
        answer["warnings"] = prediction.warnings
    return answer


async def predict_rows(request: Request, name: str) -> Response:
    """`POST /predict/{name}` of a tabular regressor: one row (any field may be missing) or a list of rows."""
    plane: DataPlane = request.app.state.plane
    settings: Settings = request.app.state.settings
    async with plane.admit(name, client_identity(request), task=TABULAR) as admission:
        spec = tabular_spec(admission)
        payload = await read_json(request)
        rows, single = as_items(validate(TypeAdapter(one_or_many(row_model(spec))), payload),
                                limit=settings.max_list_items, noun=spec.row_noun)  # fmt: skip
        request.state.model, request.state.batch_size = name, len(rows)

        async def answers(serving: Any) -> list[dict[str, Any]]:
            return [json_answer(spec, p, serving.version) for p in await predict(serving, rows)]

        results = await admission.run(answers)  # one model version (and its preprocessing) to the answer
    return FastJSONResponse(results[0] if single else results)


async def predict_rows_csv(request: Request, name: str) -> Response:
    """`POST /predict/{name}/batch`: Kaggle's test.csv in, a submission CSV `<id>,<target>` out."""
    plane: DataPlane = request.app.state.plane
    settings: Settings = request.app.state.settings
    async with plane.admit(name, client_identity(request), task=TABULAR, work="bulk") as admission:
        spec = tabular_spec(admission)
        data, _ = await read_upload(request, max_bytes=settings.max_body_bytes)
        async with plane.service.csv_slots:  # a bounded number of files in the works at once (memory)
            ids, records = await run_in_threadpool(parse_tabular_csv, data, max_rows=settings.max_csv_rows, spec=spec)
            rows = await run_in_threadpool(csv_rows, spec, records)
            request.state.model, request.state.batch_size = name, len(rows)
            predictions = await admission.run(lambda serving: predict(serving, rows,
                                                                      chunk_rows=settings.csv_chunk_rows))  # fmt: skip
    lines = [f"{spec.id_column},{spec.target}", *(f"{i},{p.value:.2f}" for i, p in zip(ids, predictions, strict=True))]
    headers = {"Content-Disposition": 'attachment; filename="submission.csv"',
               WARNING_ROWS: str(sum(1 for p in predictions if p.warnings))}  # fmt: skip
    return Response("\n".join(lines) + "\n", media_type="text/csv", headers=headers)


def csv_rows(spec: TabularSpec, records: list[dict]) -> list[TabularRow]:
    """The CSV's rows, validated as JSON rows are; errors name the row (1-based, as a spreadsheet counts)."""
    try:
        return validate_rows(spec, records)
    except RowsError as exc:
        raise invalid_csv(exc.detail) from exc


def tabular_router(entry: Entry) -> APIRouter:
    """`/predict/{endpoint}` and `/batch` of one tabular regressor, documented with its columns and example."""
    name, spec = entry.name, entry.spec
    assert isinstance(spec, TabularSpec)  # noqa: S101 - the caller routes tabular models here
    title = title_of(name)
    router = APIRouter(prefix=f"/predict/{entry.endpoint}", tags=[entry.endpoint])
    one = row_model(spec, f"{title}Features").model_json_schema()
    example = entry.meta.get("example")
    examples: dict[str, Any] = {}
    if isinstance(example, dict):
        first = {k: v for k, v in example.items() if v is not None}
        sparse = dict(list(first.items())[:4])
        examples = {
            "one": {"summary": "One row", "value": example},
            "sparse": {"summary": "Only a few fields: the rest are filled as in training", "value": sparse},
            "list": {"summary": "A list of rows → a list of answers", "value": [example, sparse]},
        }
    body = {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"anyOf": [one, {"type": "array", "items": one}]}, "examples": examples}}}}  # fmt: skip
    answer = answer_model(spec, f"{title}Prediction")

    async def predict_json(request: Request) -> Response:
        return await predict_rows(request, name)

    async def predict_csv(request: Request) -> Response:
        return await predict_rows_csv(request, name)

    predict_json.__doc__ = (f"Predict {spec.target} with the {name} model for one row (the columns' names; any may "
                            "be missing) or for a list of rows.")  # fmt: skip
    predict_csv.__doc__ = (f"Predict every row of a CSV in Kaggle's test.csv format ({spec.id_column} + features); "
                           f"answers a submission CSV `{spec.id_column},{spec.target}`.")  # fmt: skip
    router.add_api_route("", predict_json, methods=["POST"], name=f"predict_{name}",
                         response_model=answer | list[answer], openapi_extra=body)  # fmt: skip
    router.add_api_route(
        "/batch",
        predict_csv,
        methods=["POST"],
        name=f"predict_{name}_batch",
        response_class=Response,
        openapi_extra=csv_upload_openapi(f"Kaggle's test.csv ({spec.id_column} + features)"),
    )
    return router
