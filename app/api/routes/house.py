"""POST /predict/house-price and /predict/house-price/batch — Kaggle Ames house prices (the REST door).

Both endpoints validate every row with the one HouseFeatures schema and price them with
app/inference/houses.py. The JSON answer carries each house's warnings (fields outside the training
data); a submission CSV has no room for them, so the batch answer keeps Kaggle's exact format and
says in the header `X-Warning-Rows` how many rows had any (send those rows as JSON to read them).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import TypeAdapter

from app.api.deps import ServiceDep, SettingsDep, per_client
from app.api.inputs import as_items, csv_upload_openapi, read_json, read_upload, validate
from app.inference.houses import price
from app.predictors.csv_input import invalid_csv, parse_house_csv
from app.schemas.common import one_or_many
from app.schemas.house import EXAMPLE, FEATURES, HouseFeatures, HouseRowsError, SalePrice, validate_house_rows

router = APIRouter(prefix="/predict/house-price", tags=["house-price"])

BODY_EXAMPLES = {
    "one": {"summary": "One house (Kaggle test.csv row 1)", "value": EXAMPLE},
    "sparse": {"summary": "Only a few fields: the rest are filled as in training",
               "value": {"GrLivArea": 1710, "OverallQual": 7, "YearBuilt": 2003, "Neighborhood": "CollgCr"}},
    "list": {"summary": "A list of houses → a list of prices", "value": [EXAMPLE, {"GrLivArea": 2500}]},
}  # fmt: skip
WARNING_ROWS = "X-Warning-Rows"

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
    houses, single = as_items(validate(HOUSES, await read_json(request)), limit=settings.max_list_items, noun="houses")
    request.state.model, request.state.batch_size = "house", len(houses)
    with service.hold("house") as serving:  # one model version (and its preprocessing) from here to the answer
        prices = await price(serving, houses)
    answers = [SalePrice(sale_price=round(p.sale_price, 2), model_version=serving.version, warnings=p.warnings or None)
               for p in prices]  # fmt: skip
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
        request.state.model, request.state.batch_size = "house", len(houses)
        with service.hold("house") as serving:
            prices = await price(serving, houses, chunk_rows=settings.csv_chunk_rows)
    lines = ["Id,SalePrice", *(f"{i},{p.sale_price:.2f}" for i, p in zip(ids, prices, strict=True))]
    headers = {"Content-Disposition": 'attachment; filename="submission.csv"',
               WARNING_ROWS: str(sum(1 for p in prices if p.warnings))}  # fmt: skip
    return Response("\n".join(lines) + "\n", media_type="text/csv", headers=headers)


def validate_rows(records: list[dict]) -> list[HouseFeatures]:
    """The CSV's rows, validated as JSON houses are; errors name the row (1-based, as a spreadsheet counts)."""
    try:
        return validate_house_rows(records)
    except HouseRowsError as exc:
        raise invalid_csv(exc.detail) from exc
