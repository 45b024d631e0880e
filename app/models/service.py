"""Everything the routes need at run time, built once in the lifespan: models, predictors, batchers.

A model can also be replaced while the service runs (`load`, the v2 repository API): the new
version is read from MODEL_DIR, verified, loaded, optimized and warmed beside the old one, and only
then swapped in, in one step with no await in it — so a request sees the old model or the new one
whole, never a mix. A request holds what it started with (`use`): the old batcher keeps its thread
until the last request holding it has finished, then stops. If anything fails, the old model keeps
serving and the error says why.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from fastapi.concurrency import run_in_threadpool

from app.core.config import Settings
from app.core.device import resolve_device
from app.core.metrics import Metrics
from app.models.batcher import MicroBatcher
from app.models.registry import MODEL_NAMES, LoadedModel, ModelLoadError, ModelRegistry, load_prepared, read_json
from app.predictors.classifier import ImageClassifier
from app.predictors.house import HousePricer
from app.predictors.poem_generation import PoemGenerator, PoemSpec
from app.predictors.rhymes import RHYMES_FILE, load_rhyme_tables

logger = logging.getLogger("dlserve")

BATCHED = ("digit", "fashion", "house")  # the poem model writes one poem per request, off the event loop
PREDICTORS = {"digit": ImageClassifier, "fashion": ImageClassifier, "house": HousePricer}


@dataclass(frozen=True)
class Serving:
    """One model as it is served at one moment: what a request uses from start to end."""

    loaded: LoadedModel
    predictor: Any
    batcher: MicroBatcher | None


@dataclass
class ModelService:
    settings: Settings
    device: torch.device
    metrics: Metrics
    registry: ModelRegistry = field(default_factory=ModelRegistry)
    predictors: dict[str, Any] = field(default_factory=dict)
    batchers: dict[str, MicroBatcher] = field(default_factory=dict)
    # CSV uploads parsed and answered at once. Each Kaggle-sized file needs tens of MB while it is
    # worked on: measured, 16 house test.csv uploads at a time took the server from 670 to 1,050 MB,
    # one at a time it stayed at 671. Beyond this many, uploads wait their turn.
    csv_slots: asyncio.Semaphore = field(init=False)
    _swapping: dict[str, asyncio.Lock] = field(init=False)
    _retiring: set[asyncio.Task] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.csv_slots = asyncio.Semaphore(self.settings.max_concurrent_csv)
        self._swapping = {name: asyncio.Lock() for name in MODEL_NAMES}

    @classmethod
    async def start(cls, settings: Settings, metrics: Metrics) -> ModelService:
        if settings.torch_threads:
            torch.set_num_threads(settings.torch_threads)
        service = cls(settings, resolve_device(settings.device), metrics)
        metrics.device.labels(str(service.device)).set(1)

        def prepare(loaded: LoadedModel) -> None:
            service.predictors[loaded.name] = service.make_predictor(loaded)

        service.registry.load_all(settings.model_dir, service.device, prepare, optimize=settings.optimize_models)
        for name in BATCHED:
            if name in service.predictors:
                service.batchers[name] = await service._start_batcher(name, service.predictors[name])
        for name in MODEL_NAMES:
            metrics.model_up.labels(name).set(float(name in service.registry.warmed))
        for loaded in service.registry.models.values():
            metrics.model_version.labels(loaded.name, loaded.version).set(1.0)
        return service

    def make_predictor(self, loaded: LoadedModel) -> Any:
        """The plain-Python predictor of a loaded model, warmed up (runs under inference mode)."""
        if loaded.name != "poem":
            predictor = PREDICTORS[loaded.name](loaded)
            predictor.warmup(loaded)
            return predictor
        try:
            rhymes = load_rhyme_tables(read_json(Path(self.settings.model_dir) / "poem" / RHYMES_FILE))
        except ValueError as exc:
            raise ModelLoadError(str(exc)) from exc
        assert loaded.side is not None  # noqa: S101 - narrows the type; the registry refuses a poem model without it
        generator = PoemGenerator(loaded.module, loaded.side["tokens"], loaded.device, rhymes)
        generator.generate(PoemSpec(seed=0))  # warm-up: one whole poem, free and rhymed
        generator.generate(PoemSpec(seed=0, rhyme="pingshui", tones="strict"))
        generator.keywords_to_chars("春风", 1)  # and jieba's dictionary, which loads lazily (~1 s)
        return generator

    async def _start_batcher(self, name: str, predictor: Any) -> MicroBatcher:
        settings, metrics = self.settings, self.metrics
        batcher = MicroBatcher(
            name,
            predictor.run_batch,
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
        return batcher

    async def stop(self) -> None:
        for batcher in self.batchers.values():
            await batcher.stop()
        await asyncio.gather(*self._retiring, return_exceptions=True)

    def current(self, name: str) -> Serving:
        """The model as served right now; 503 with the reason when it is down."""
        loaded = self.registry.get(name)
        return Serving(loaded, self.predictors[name], self.batchers.get(name))

    @contextmanager
    def use(self, name: str) -> Iterator[Serving]:
        """The model as served now, held for one request: a reload meanwhile lets the request finish on it."""
        serving = self.current(name)
        if serving.batcher is not None:
            serving.batcher.users += 1
        try:
            yield serving
        finally:
            if serving.batcher is not None:
                serving.batcher.users -= 1

    async def load(self, name: str) -> LoadedModel:
        """Read `name` again from MODEL_DIR and swap it in once it is verified, loaded and warmed.

        Raises (ModelLoadError or whatever the load raised) with the old model still serving.
        """
        async with self._swapping[name]:
            made: dict[str, Any] = {}

            def prepare(loaded: LoadedModel) -> None:
                made["predictor"] = self.make_predictor(loaded)

            optimize = self.settings.optimize_models
            loaded = await run_in_threadpool(
                load_prepared, name, self.settings.model_dir, self.device, prepare, optimize=optimize
            )
            predictor = made["predictor"]
            batcher = await self._start_batcher(name, predictor) if name in BATCHED else None
            old = self.batchers.get(name)
            replaced = self.registry.models.get(name)
            # The swap: nothing below awaits, so no request can see half of it.
            self.registry.install(loaded)
            self.predictors[name] = predictor
            if batcher is not None:
                self.batchers[name] = batcher
            self.metrics.model_up.labels(name).set(1.0)
            if replaced is not None:
                self.metrics.model_version.labels(name, replaced.version).set(0.0)
            self.metrics.model_version.labels(name, loaded.version).set(1.0)
            if old is not None:
                self._retire(old)
            logger.info("model %s version %s swapped in", name, loaded.version)
            return loaded

    async def unload(self, name: str) -> None:
        """Take `name` out of service (its endpoints answer 503 saying so) until it is loaded again."""
        async with self._swapping[name]:
            old = self.batchers.pop(name, None)
            self.predictors.pop(name, None)
            if (replaced := self.registry.models.get(name)) is not None:
                self.metrics.model_version.labels(name, replaced.version).set(0.0)
            self.registry.remove(name, "unloaded through the model repository API (load it again to serve it)")
            self.metrics.model_up.labels(name).set(0.0)
            if old is not None:
                self._retire(old)
            logger.info("model %s unloaded", name)

    def _retire(self, batcher: MicroBatcher) -> None:
        """Stop a replaced batcher once every request holding it is done (stop() waits for them)."""
        task = asyncio.create_task(batcher.stop(), name=f"retire-{batcher.name}")
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)
