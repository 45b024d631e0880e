"""POST /predict/digit and /predict/digit/batch — handwritten digits (MNIST)."""

from app.api.image_routes import build_image_router
from app.predictors.image_input import normalize_digit
from app.schemas.images import DIGIT_EXAMPLES, DigitPrediction

router = build_image_router(
    name="digit", noun="a handwritten digit", normalize=normalize_digit, answer=DigitPrediction, examples=DIGIT_EXAMPLES
)
