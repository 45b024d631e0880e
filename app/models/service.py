"""The models as served: one `Serving` per model of the repository (its loaded model, predictor and worker).

The repository (app/models/repository.py) says which models there are; each is loaded in the lifespan, and a
folder that fails is recorded as down with its reason while the others serve. A model can be replaced while
the service runs (`load`, the v2 repository API): the new version is read from MODEL_DIR, verified, loaded,
optimized and warmed beside the old one, then swapped in by one assignment — so a request sees the old model or
the new one whole, never a mix. A request can only get a model by holding it (`hold`): the lookup and the hold
happen with no await between them, and the old worker keeps its thread until the last request holding it has
finished, then stops. If a load fails, the old model keeps serving and the error says why. `status(name)` is
what every door that reports on models (health, /models, /v2, the repository index) reads.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from fastapi.concurrency import run_in_threadpool

from app.core.config import Settings
from app.core.device import resolve_device
from app.core.errors import NotFound, Unavailable
from app.core.metrics import Metrics
from app.models.batcher import MicroBatcher
from app.models.poem_scheduler import PoemScheduler
from app.models.registry import LoadedModel, ModelLoadError, describe_failure, load_prepared
from app.models.repository import Entry, read_entry, scan
from app.models.tasks import BATCHED_TASKS, make_predictor
from app.models.worker import Worker
from app.predictors.poem_generation import PoemGenerator

logger = logging.getLogger("dlserve")


@dataclass(frozen=True)
class Serving:
    """One model as it is served at one moment: what a request uses from start to end."""

    loaded: LoadedModel
    predictor: Any  # ImageClassifier, TabularRegressor or PoemGenerator
    worker: Worker  # its micro-batcher, or its poem scheduler

    @property
    def version(self) -> str:
        return self.loaded.version

    @property
    def name(self) -> str:
        return self.loaded.name

    @property
    def task(self) -> str:
        return self.loaded.task

    @property
    def batcher(self) -> MicroBatcher:
        assert isinstance(self.worker, MicroBatcher)  # noqa: S101 - narrows the type for the batched tasks
        return self.worker

    @property
    def scheduler(self) -> PoemScheduler:
        assert isinstance(self.worker, PoemScheduler)  # noqa: S101 - narrows the type for text generation
        return self.worker


@dataclass(frozen=True)
class ModelStatus:
    name: str
    serving: Serving | None  # None when the model is down
    reason: str | None = None  # why it is down
    entry: Entry | None = None  # the folder as last read (task, meta.json), also when the model is down

    @property
    def ready(self) -> bool:
        return self.serving is not None

    @property
    def task(self) -> str | None:
        return self.serving.task if self.serving is not None else (self.entry.task if self.entry else None)


@dataclass
class ModelService:
    settings: Settings
    device: torch.device
    metrics: Metrics
    entries: dict[str, Entry] = field(default_factory=dict)  # the repository's folders, as last read
    serving: dict[str, Serving] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)  # why each model that is down is down
    # CSV uploads parsed and answered at once. Each Kaggle-sized file needs tens of MB while it is
    # worked on: measured, 16 house test.csv uploads at a time took the server from 670 to 1,050 MB,
    # one at a time it stayed at 671. Beyond this many, uploads wait their turn.
    csv_slots: asyncio.Semaphore = field(init=False)
    _swapping: dict[str, asyncio.Lock] = field(default_factory=dict)
    _retiring: set[asyncio.Task] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.csv_slots = asyncio.Semaphore(self.settings.max_concurrent_csv)

    @classmethod
    async def start(cls, settings: Settings, metrics: Metrics) -> ModelService:
        if settings.torch_threads:
            torch.set_num_threads(settings.torch_threads)
        service = cls(settings, resolve_device(settings.device), metrics)
        metrics.device.labels(str(service.device)).set(1)
        service.entries = scan(settings.model_dir)
        if not service.entries:
            logger.error("no models in MODEL_DIR=%s (a model is a folder with a meta.json)", settings.model_dir)
        for name, entry in service.entries.items():
            try:
                serving = await service._prepare(entry, in_thread=False)
            except Exception as exc:  # one broken model must not stop the others
                service._record_failure(name, describe_failure(exc))
                continue
            service._install(serving)
        return service

    @property
    def names(self) -> list[str]:
        """Every model of the repository, in name order (down ones included)."""
        return list(self.entries)

    @property
    def ready(self) -> bool:
        return bool(self.entries) and all(name in self.serving for name in self.entries)

    def knows(self, name: str) -> bool:
        return name in self.entries

    def named(self, endpoint: str) -> str:
        """The model whose REST paths use `endpoint` (house for house-price); else `endpoint` itself."""
        if endpoint in self.entries:
            return endpoint
        return next((name for name, entry in self.entries.items() if entry.endpoint == endpoint), endpoint)

    def status(self, name: str) -> ModelStatus:
        """The one answer to "is this model up, which version, and if not why"."""
        serving = self.serving.get(name)
        reason = None if serving else self.failures.get(name, "not loaded")
        return ModelStatus(name, serving, reason, self.entries.get(name))

    def unknown(self, name: str) -> NotFound:
        models = ", ".join(self.names) or "none"
        return NotFound(f"no model named {name!r}; the models are {models}")

    @contextmanager
    def hold(self, name: str) -> Iterator[Serving]:
        """The model as served now, held for one request: a reload meanwhile lets the request finish on it.

        The only way a request gets a model. The lookup and the hold happen together, with no await between:
        a worker being retired cannot miss a request that found it."""
        serving = self.serving.get(name)
        if serving is None:
            if name not in self.entries:
                raise self.unknown(name)
            raise Unavailable(f"the {name} model is unavailable: {self.status(name).reason}", model=name)
        with serving.worker.hold():
            yield serving

    async def stop(self) -> None:
        for serving in self.serving.values():
            await serving.worker.stop()
        await asyncio.gather(*self._retiring, return_exceptions=True)

    def _lock(self, name: str) -> asyncio.Lock:
        return self._swapping.setdefault(name, asyncio.Lock())

    async def load(self, name: str) -> Serving:
        """Read `name`'s folder again from MODEL_DIR (a new folder too) and swap it in once verified, loaded and
        warmed. Raises (ModelLoadError or whatever the load raised) with the old model still serving."""
        async with self._lock(name):
            entry = read_entry(self.settings.model_dir, name)
            if not entry.folder.is_dir():
                raise ModelLoadError(f"MODEL_DIR has no folder {name!r}")
            try:
                serving = await self._prepare(entry, in_thread=True)
            except Exception as exc:
                if name not in self.serving:  # a new or down model: listed, with its new reason
                    self._add_entry(entry)
                    self.failures[name] = describe_failure(exc)
                raise
            self._add_entry(entry)
            replaced = self.serving.get(name)
            self._install(serving)  # the swap: one assignment, no await around it
            if replaced is not None:
                self.metrics.model_version.labels(name, replaced.version).set(0.0)
                self._retire(replaced)
            logger.info("model %s version %s swapped in", name, serving.version)
            return serving

    async def unload(self, name: str) -> None:
        """Take `name` out of service (its endpoints answer 503 saying so) until it is loaded again."""
        async with self._lock(name):
            replaced = self.serving.pop(name, None)
            self.failures[name] = "unloaded through the model repository API (load it again to serve it)"
            self.metrics.model_up.labels(name).set(0.0)
            if replaced is not None:
                self.metrics.model_version.labels(name, replaced.version).set(0.0)
                self._retire(replaced)
            logger.info("model %s unloaded", name)

    def _add_entry(self, entry: Entry) -> None:
        self.entries = dict(sorted({**self.entries, entry.name: entry}.items()))

    def _record_failure(self, name: str, reason: str) -> None:
        self.failures[name] = reason
        logger.error("model %s is down: %s", name, reason)
        self.metrics.model_up.labels(name).set(0.0)

    async def _prepare(self, entry: Entry, *, in_thread: bool) -> Serving:
        """Everything short of serving: load, verify, optimize, build the predictor, warm, start the worker."""
        made: dict[str, Any] = {}
        settings = self.settings

        def prepare(loaded: LoadedModel) -> None:
            made["predictor"] = make_predictor(loaded)

        # In a thread when the event loop serves requests meanwhile (a reload); at start-up nothing is waiting.
        arguments = (entry.name, settings.model_dir, self.device, prepare)
        options = {"optimize": settings.optimize_models, "backend": settings.backend,
                   "precision": settings.precision, "entry": entry}  # fmt: skip
        if in_thread:
            loaded = await run_in_threadpool(load_prepared, *arguments, **options)
        else:
            loaded = load_prepared(*arguments, **options)
        predictor = made["predictor"]
        if loaded.task in BATCHED_TASKS:
            return Serving(loaded, predictor, await self._start_batcher(entry.name, predictor))
        return Serving(loaded, predictor, self._start_scheduler(entry.name, predictor))

    def _install(self, serving: Serving) -> None:
        name = serving.name
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

    def _start_scheduler(self, name: str, generator: PoemGenerator) -> PoemScheduler:
        settings, metrics = self.settings, self.metrics
        scheduler = PoemScheduler(
            generator,
            name=name,
            max_active=settings.max_active_poems,
            max_queued=settings.max_queued_poems,
            retry_after_s=settings.retry_after_s,
            on_pass=functools.partial(metrics.observe_poem_pass, name),
            on_chars=metrics.observe_poem_characters,
            on_depth=metrics.queue_depth.labels(name).set,
        )
        metrics.queue_depth.labels(name).set(0)
        scheduler.start()
        return scheduler

    def _retire(self, serving: Serving) -> None:
        """Stop a replaced worker once every request holding it is done (stop() waits for them)."""
        task = asyncio.create_task(serving.worker.stop(), name=f"retire-{serving.name}")
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)
