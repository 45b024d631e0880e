"""POST /predict/fashion and /predict/fashion/batch — Fashion-MNIST clothing classes."""

from app.api.image_routes import build_image_router
from app.predictors.image_input import normalize_fashion
from app.schemas.images import FASHION_EXAMPLES, FashionPrediction

router = build_image_router(
    name="fashion",
    noun="a clothing item",
    normalize=normalize_fashion,
    answer=FashionPrediction,
    examples=FASHION_EXAMPLES,
)
