"""POST /predict/house-price and /predict/house-price/batch — Kaggle Ames house prices."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import TypeAdapter

from app.api.deps import ServiceDep, SettingsDep, per_client
from app.api.inputs import as_items, csv_upload_openapi, read_json, read_upload, validate
from app.core.errors import ApiError
from app.predictors.csv_input import parse_house_csv
from app.schemas.common import one_or_many
from app.schemas.house import (
    EXAMPLE,
    FEATURES,
    HouseFeatures,
    HouseRowsError,
    SalePrice,
    beyond_training,
    validate_house_rows,
)

router = APIRouter(prefix="/predict/house-price", tags=["house-price"])

BODY_EXAMPLES = {
    "one": {"summary": "One house (Kaggle test.csv row 1)", "value": EXAMPLE},
    "sparse": {"summary": "Only a few fields: the rest are filled as in training",
               "value": {"GrLivArea": 1710, "OverallQual": 7, "YearBuilt": 2003, "Neighborhood": "CollgCr"}},
    "list": {"summary": "A list of houses → a list of prices", "value": [EXAMPLE, {"GrLivArea": 2500}]},
}  # fmt: skip


HOUSES = TypeAdapter(one_or_many(HouseFeatures))
_ONE = HouseFeatures.model_json_schema()
# The body is read by hand (see app/api/inputs.py) so the schema is described here, inlined.
BODY_OPENAPI = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"anyOf": [_ONE, {"type": "array", "items": _ONE}]},
                "examples": BODY_EXAMPLES,
            }
        },
    }
}


@router.post(
    "", response_model=SalePrice | list[SalePrice], response_model_exclude_none=True, openapi_extra=BODY_OPENAPI
)
async def predict_house_price(
    request: Request, service: ServiceDep, settings: SettingsDep
) -> SalePrice | list[SalePrice]:
    """Predict the sale price of one house (Kaggle's column names; any may be missing) or of a list."""
    service.current("house")  # a model that is down answers 503 before the body is read
    items, single = as_items(validate(HOUSES, await read_json(request)), limit=settings.max_list_items, noun="houses")
    with service.use("house") as serving:  # one model version (and its preprocessing) from here to the answer
        pricer = serving.predictor
        features = await run_in_threadpool(pricer.features, [h.features() for h in items])
        request.state.model, request.state.batch_size = "house", len(features)
        prices = await serving.batcher.submit(features)
    answers = [
        SalePrice(
            sale_price=round(p, 2), model_version=pricer.loaded.version, warnings=beyond_training(h.features()) or None
        )
        for p, h in zip(prices, items, strict=True)
    ]
    return answers[0] if single else answers


@router.post(
    "/batch",
    response_class=Response,
    dependencies=[Depends(per_client("csv"))],
    openapi_extra=csv_upload_openapi("Kaggle's test.csv (Id + features)"),
)
async def predict_house_price_batch(request: Request, service: ServiceDep, settings: SettingsDep) -> Response:
    """Price every row of a CSV in Kaggle's test.csv format; answers a submission CSV `Id,SalePrice`."""
    service.current("house")
    data, _ = await read_upload(request, max_bytes=settings.max_body_bytes)
    async with service.csv_slots:  # a bounded number of files in the works at once (memory)
        ids, records = await run_in_threadpool(parse_house_csv, data, max_rows=settings.max_csv_rows, features=FEATURES)
        houses = await run_in_threadpool(validate_rows, records)
        with service.use("house") as serving:
            features = await run_in_threadpool(serving.predictor.features, [h.features() for h in houses])
            request.state.model, request.state.batch_size = "house", len(features)
            prices = await serving.batcher.run_bulk(features, settings.csv_chunk_rows)
    lines = ["Id,SalePrice", *(f"{i},{p:.2f}" for i, p in zip(ids, prices, strict=True))]
    return Response("\n".join(lines) + "\n", media_type="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="submission.csv"'})  # fmt: skip


def validate_rows(records: list[dict]) -> list[HouseFeatures]:
    """Validate CSV rows with the same schema as JSON requests; errors name the row (1-based) and column."""
    try:
        return validate_house_rows(records)
    except HouseRowsError as exc:
        raise ApiError(422, "invalid_csv", str(exc)) from exc
