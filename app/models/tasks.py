"""How each task is served: the predictor made from a loaded model (warmed up), and the kind of worker it gets.

The code knows tasks, never model names: a folder's meta.json says its task, and this is the one table from
task to predictor. Image classifiers and tabular regressors are micro-batched (app/models/batcher.py); text
generation writes poems on a scheduler that decodes them together (app/models/poem_scheduler.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from app.models.registry import LoadedModel, ModelLoadError
from app.predictors.classifier import ImageClassifier
from app.predictors.poem_generation import PoemGenerator, PoemSpec
from app.predictors.rhymes import load_rhyme_tables
from app.predictors.tabular import TabularRegressor
from app.schemas.model_meta import IMAGE, TABULAR, TEXT, ImageSpec, TabularSpec

BATCHED_TASKS = (IMAGE, TABULAR)  # micro-batched; text generation has its scheduler instead


def make_predictor(loaded: LoadedModel) -> Any:
    """The plain-Python predictor of a loaded model, warmed up (runs under inference mode)."""
    if loaded.task == IMAGE and isinstance(loaded.spec, ImageSpec):
        classifier = ImageClassifier(loaded.module, loaded.differentiable, loaded.device, loaded.version, loaded.spec)
        check_outputs(classifier, loaded.spec)
        return classifier
    if loaded.task == TABULAR and isinstance(loaded.spec, TabularSpec):
        if loaded.side is None:
            raise ModelLoadError(f"{loaded.spec.preprocess} is missing")
        regressor = TabularRegressor(loaded.module, loaded.side, loaded.device, loaded.spec.transform)
        regressor.warmup()
        return regressor
    if loaded.task == TEXT:
        return _poem_generator(loaded)
    raise ModelLoadError(f"no predictor for task {loaded.task!r}")


def check_outputs(classifier: ImageClassifier, spec: ImageSpec) -> None:
    """Warm up, and refuse a network whose outputs do not match its classes (a one-line reason, not a 500 later)."""
    try:
        (probabilities,) = classifier.run_batch([classifier_blank(spec)])
    except Exception as exc:  # the network refuses the input shape meta.json promises
        raise ModelLoadError(f"the network does not take input of shape {list(spec.shape)} ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0][:160]})") from exc  # fmt: skip
    if probabilities.shape != (len(spec.classes),):
        raise ModelLoadError(f"the network answers {probabilities.size} values but meta.json names "
                             f"{len(spec.classes)} classes")  # fmt: skip
    if not np.isfinite(probabilities).all():
        raise ModelLoadError("the network answers NaN or infinity for a blank image")


def classifier_blank(spec: ImageSpec) -> np.ndarray:
    return np.zeros(spec.shape, np.float32)


def _poem_generator(loaded: LoadedModel) -> PoemGenerator:
    if loaded.side is None:  # the loader reads the vocabulary of every text model; a missing one is a ModelLoadError
        raise ModelLoadError("vocab.json is missing")
    try:
        rhymes = load_rhyme_tables(loaded.rhymes) if loaded.rhymes is not None else {}
        generator = PoemGenerator(loaded.module, loaded.side["tokens"], loaded.device, rhymes)
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelLoadError(str(exc)) from exc  # the loaders' messages name the file and what is wrong with it
    generator.generate(PoemSpec(seed=0, rhyme="none"))  # warm-up: one whole poem, free
    if rhymes:
        generator.generate(PoemSpec(seed=0, rhyme="pingshui", tones="strict"))
    generator.keywords_to_chars("春风", 1)  # and jieba's dictionary, which loads lazily (~1 s)
    return generator
