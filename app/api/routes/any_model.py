"""`/predict/{name}` and `/generate/{name}` for every model of the repository, by its task.

Each model found at start-up also has routes of its own (documented with its schema and example); these
serve the same handlers for any model, one loaded into MODEL_DIR later through the repository API included.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from app.api.generation_routes import STREAM_RESPONSES, stream_poem, write_poem
from app.api.image_routes import EXPLAIN, predict_image_csv, predict_images
from app.api.tabular_routes import predict_rows, predict_rows_csv
from app.models.service import ModelService
from app.schemas.common import error_responses
from app.schemas.model_meta import TABULAR
from app.schemas.poem import Poem, PoemRequest

TAG = "any model"
router = APIRouter(tags=[TAG], responses=error_responses(404))  # a name that is no model of the repository


def _model(request: Request, endpoint: str) -> tuple[str, bool]:
    """(the model's name, whether it is tabular): which door's handler reads the body."""
    service: ModelService = request.app.state.service
    name = service.named(endpoint)
    return name, service.status(name).task == TABULAR


@router.post("/predict/{name}", name="predict_any")
async def predict(name: str, request: Request, explain: bool = EXPLAIN) -> Response:
    """Any image classifier or tabular regressor of the repository, with every form its own route takes."""
    model, tabular = _model(request, name)
    return await (predict_rows(request, model) if tabular else predict_images(request, model, explain))


@router.post("/predict/{name}/batch", name="predict_any_batch", response_class=Response)
async def predict_batch(name: str, request: Request) -> Response:
    """A Kaggle CSV for any image classifier or tabular regressor; answers a submission CSV."""
    model, tabular = _model(request, name)
    return await (predict_rows_csv(request, model) if tabular else predict_image_csv(request, model))


@router.post("/generate/{name}", name="generate_any", response_model=Poem, response_model_exclude_none=True)
async def generate(name: str, request: PoemRequest, http: Request) -> Poem:
    """A poem from any text generator of the repository."""
    return await write_poem(http, _model(http, name)[0], request)


@router.post("/generate/{name}/stream", name="generate_any_stream", response_class=StreamingResponse,
             responses=STREAM_RESPONSES)  # fmt: skip
async def generate_stream(name: str, request: PoemRequest, http: Request) -> StreamingResponse:
    """The same poem as server-sent events."""
    return await stream_poem(http, _model(http, name)[0], request)
