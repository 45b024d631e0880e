"""Everything the routes need at run time, built once in the lifespan: models, predictors, batchers."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from app.core.config import Settings
from app.core.device import resolve_device
from app.core.metrics import Metrics
from app.models.batcher import MicroBatcher
from app.models.registry import MODEL_NAMES, LoadedModel, ModelLoadError, ModelRegistry, read_json
from app.predictors.classifier import ImageClassifier
from app.predictors.house import HousePricer
from app.predictors.poem_generation import PoemGenerator, PoemSpec
from app.predictors.rhymes import RHYMES_FILE, load_rhyme_tables

logger = logging.getLogger("dlserve")


@dataclass
class ModelService:
    settings: Settings
    device: torch.device
    registry: ModelRegistry = field(default_factory=ModelRegistry)
    predictors: dict[str, Any] = field(default_factory=dict)
    batchers: dict[str, MicroBatcher] = field(default_factory=dict)
    # CSV uploads parsed and answered at once. Each Kaggle-sized file needs tens of MB while it is
    # worked on: measured, 16 house test.csv uploads at a time took the server from 670 to 1,050 MB,
    # one at a time it stayed at 671. Beyond this many, uploads wait their turn.
    csv_slots: asyncio.Semaphore = field(init=False)

    def __post_init__(self) -> None:
        self.csv_slots = asyncio.Semaphore(self.settings.max_concurrent_csv)

    @classmethod
    async def start(cls, settings: Settings, metrics: Metrics) -> ModelService:
        if settings.torch_threads:
            torch.set_num_threads(settings.torch_threads)
        service = cls(settings, resolve_device(settings.device))
        metrics.device.labels(str(service.device)).set(1)
        factories = {"digit": ImageClassifier, "fashion": ImageClassifier, "house": HousePricer}

        def prepare(loaded: LoadedModel) -> None:
            if loaded.name == "poem":
                try:
                    rhymes = load_rhyme_tables(read_json(Path(settings.model_dir) / "poem" / RHYMES_FILE))
                except ValueError as exc:
                    raise ModelLoadError(str(exc)) from exc
                predictor: Any = PoemGenerator(loaded.module, loaded.side["tokens"], loaded.device, rhymes)
                predictor.generate(PoemSpec(seed=0))  # warm-up: one whole poem, free and rhymed
                predictor.generate(PoemSpec(seed=0, rhyme="pingshui", tones="strict"))
                predictor.keywords_to_chars("春风", 1)  # and jieba's dictionary, which loads lazily (~1 s)
            else:
                predictor = factories[loaded.name](loaded)
                predictor.warmup(loaded)
            service.predictors[loaded.name] = predictor

        service.registry.load_all(settings.model_dir, service.device, prepare, optimize=settings.optimize_models)
        for name in ("digit", "fashion", "house"):
            if name in service.predictors:
                batcher = MicroBatcher(
                    name,
                    service.predictors[name].run_batch,
                    max_batch_size=settings.max_batch_size,
                    max_wait_s=settings.max_wait_ms / 1000,
                    max_queue_size=settings.max_queue_size,
                    enabled=settings.batching,
                    retry_after_s=settings.retry_after_s,
                    on_batch=metrics.observe_batch,
                    on_depth=metrics.queue_depth.labels(name).set,
                )
                metrics.queue_depth.labels(name).set(0)
                await batcher.start()
                service.batchers[name] = batcher
        for name in MODEL_NAMES:
            metrics.model_up.labels(name).set(float(name in service.registry.warmed))
        return service

    async def stop(self) -> None:
        for batcher in self.batchers.values():
            await batcher.stop()

    def predictor(self, name: str) -> Any:
        self.registry.get(name)  # raises the 503 with the reason when the model is down
        return self.predictors[name]

    def batcher(self, name: str) -> MicroBatcher:
        self.registry.get(name)
        return self.batchers[name]
