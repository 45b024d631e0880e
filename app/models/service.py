"""The models as served: one `Serving` per name (the loaded model, its predictor, its batcher), built in the lifespan.

A model can be replaced while the service runs (`load`, the v2 repository API): the new version is read
from MODEL_DIR, verified, loaded, optimized and warmed beside the old one, then swapped in by one
assignment — so a request sees the old model or the new one whole, never a mix. A request holds what it
started with (`hold`): the old batcher keeps its thread until the last request holding it has finished,
then stops. If anything fails, the old model keeps serving and the error says why. `status(name)` is what
every door that reports on models (health, /models, /v2, the repository index) reads.
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
from app.core.errors import Unavailable
from app.core.metrics import Metrics
from app.models.batcher import MicroBatcher
from app.models.poem_scheduler import PoemScheduler
from app.models.registry import MODEL_NAMES, LoadedModel, ModelLoadError, describe_failure, load_prepared, read_json
from app.predictors.classifier import ImageClassifier
from app.predictors.house import HousePricer
from app.predictors.poem_generation import PoemGenerator, PoemSpec
from app.predictors.rhymes import RHYMES_FILE, load_rhyme_tables

logger = logging.getLogger("dlserve")

BATCHED = ("digit", "fashion", "house")  # micro-batched; the poem model has its scheduler instead


@dataclass(frozen=True)
class Serving:
    """One model as it is served at one moment: what a request uses from start to end."""

    loaded: LoadedModel
    predictor: Any  # ImageClassifier, HousePricer or PoemGenerator
    batcher: MicroBatcher | None  # None for the poem model
    scheduler: PoemScheduler | None = None  # the poem model's continuous batching

    @property
    def version(self) -> str:
        return self.loaded.version


@dataclass(frozen=True)
class ModelStatus:
    name: str
    serving: Serving | None  # None when the model is down
    reason: str | None = None  # why it is down

    @property
    def ready(self) -> bool:
        return self.serving is not None


def make_predictor(loaded: LoadedModel, model_dir: Path) -> Any:
    """The plain-Python predictor of a loaded model, warmed up (runs under inference mode)."""
    if loaded.name in ("digit", "fashion"):
        output = loaded.meta.get("output", {})
        predictor: Any = ImageClassifier(loaded.module, loaded.differentiable, loaded.device, loaded.version,
                                         output.get("classes"), output.get("classes_zh"))  # fmt: skip
        predictor.warmup()
        return predictor
    if loaded.name == "house":
        predictor = HousePricer(loaded.module, loaded.side or {}, loaded.device)
        predictor.warmup()
        return predictor
    try:
        rhymes = load_rhyme_tables(read_json(Path(model_dir) / "poem" / RHYMES_FILE))
    except ValueError as exc:
        raise ModelLoadError(str(exc)) from exc
    if loaded.side is None:  # the loader reads vocab.json for every poem model; a missing one is a ModelLoadError
        raise ModelLoadError("vocab.json is missing")
    generator = PoemGenerator(loaded.module, loaded.side["tokens"], loaded.device, rhymes)
    generator.generate(PoemSpec(seed=0))  # warm-up: one whole poem, free and rhymed
    generator.generate(PoemSpec(seed=0, rhyme="pingshui", tones="strict"))
    generator.keywords_to_chars("春风", 1)  # and jieba's dictionary, which loads lazily (~1 s)
    return generator


@dataclass
class ModelService:
    settings: Settings
    device: torch.device
    metrics: Metrics
    serving: dict[str, Serving] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)  # why each model that is down is down
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
        for name in MODEL_NAMES:
            try:
                serving = await service._prepare(name, in_thread=False)
            except Exception as exc:  # one broken model must not stop the others
                service.failures[name] = describe_failure(exc)
                logger.error("model %s is down: %s", name, service.failures[name])
                metrics.model_up.labels(name).set(0.0)
                continue
            service._install(serving)
        return service

    @property
    def ready(self) -> bool:
        return all(name in self.serving for name in MODEL_NAMES)

    def status(self, name: str) -> ModelStatus:
        """The one answer to "is this model up, which version, and if not why" (name must be one of MODEL_NAMES)."""
        serving = self.serving.get(name)
        return ModelStatus(name, serving, None if serving else self.failures.get(name, "not loaded"))

    def current(self, name: str) -> Serving:
        """The model as served right now; Unavailable (a 503) with the reason when it is down."""
        status = self.status(name)
        if status.serving is None:
            raise Unavailable(f"the {name} model is unavailable: {status.reason}", model=name)
        return status.serving

    @contextmanager
    def hold(self, name: str) -> Iterator[Serving]:
        """The model as served now, held for one request: a reload meanwhile lets the request finish on it."""
        serving = self.current(name)
        worker = serving.batcher or serving.scheduler
        if worker is None:
            yield serving
            return
        with worker.hold():  # taken with no await since current(): a retiring worker cannot miss it
            yield serving

    async def stop(self) -> None:
        for serving in self.serving.values():
            worker = serving.batcher or serving.scheduler
            if worker is not None:
                await worker.stop()
        await asyncio.gather(*self._retiring, return_exceptions=True)

    async def load(self, name: str) -> Serving:
        """Read `name` again from MODEL_DIR and swap it in once it is verified, loaded and warmed.

        Raises (ModelLoadError or whatever the load raised) with the old model still serving.
        """
        async with self._swapping[name]:
            serving = await self._prepare(name, in_thread=True)
            replaced = self.serving.get(name)
            self._install(serving)  # the swap: one assignment, no await around it
            if replaced is not None:
                self.metrics.model_version.labels(name, replaced.version).set(0.0)
                self._retire(replaced)
            logger.info("model %s version %s swapped in", name, serving.version)
            return serving

    async def unload(self, name: str) -> None:
        """Take `name` out of service (its endpoints answer 503 saying so) until it is loaded again."""
        async with self._swapping[name]:
            replaced = self.serving.pop(name, None)
            self.failures[name] = "unloaded through the model repository API (load it again to serve it)"
            self.metrics.model_up.labels(name).set(0.0)
            if replaced is not None:
                self.metrics.model_version.labels(name, replaced.version).set(0.0)
                self._retire(replaced)
            logger.info("model %s unloaded", name)

    async def _prepare(self, name: str, *, in_thread: bool) -> Serving:
        """Everything short of serving: load, verify, optimize, build the predictor, warm, start the batcher."""
        made: dict[str, Any] = {}
        model_dir, optimize = self.settings.model_dir, self.settings.optimize_models
        backend = {"backend": self.settings.backend, "precision": self.settings.precision}

        def prepare(loaded: LoadedModel) -> None:
            made["predictor"] = make_predictor(loaded, model_dir)

        # In a thread when the event loop serves requests meanwhile (a reload); at start-up nothing is waiting.
        arguments = (name, model_dir, self.device, prepare)
        if in_thread:
            loaded = await run_in_threadpool(load_prepared, *arguments, optimize=optimize, **backend)
        else:
            loaded = load_prepared(*arguments, optimize=optimize, **backend)
        predictor = made["predictor"]
        if name in BATCHED:
            return Serving(loaded, predictor, await self._start_batcher(name, predictor))
        return Serving(loaded, predictor, None, self._start_scheduler(predictor))

    def _install(self, serving: Serving) -> None:
        name = serving.loaded.name
        self.serving[name] = serving
        self.failures.pop(name, None)
        self.metrics.model_up.labels(name).set(1.0)
        self.metrics.model_version.labels(name, serving.version).set(1.0)

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

    def _start_scheduler(self, generator: PoemGenerator) -> PoemScheduler:
        settings, metrics = self.settings, self.metrics
        scheduler = PoemScheduler(
            generator,
            max_active=settings.max_active_poems,
            max_queued=settings.max_queued_poems,
            retry_after_s=settings.retry_after_s,
            on_pass=metrics.observe_poem_pass,
            on_chars=metrics.observe_poem_characters,
            on_depth=metrics.queue_depth.labels("poem").set,
        )
        metrics.queue_depth.labels("poem").set(0)
        scheduler.start()
        return scheduler

    def _retire(self, serving: Serving) -> None:
        """Stop a replaced batcher or scheduler once every request holding it is done (stop() waits for them)."""
        worker = serving.batcher or serving.scheduler
        if worker is None:
            return
        task = asyncio.create_task(worker.stop(), name=f"retire-{serving.loaded.name}")
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)
