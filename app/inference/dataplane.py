"""The data plane: the one place every door calls to run a model, and the one order every call keeps.

REST, the Open Inference Protocol over REST and over gRPC, streams and uploads all come here with (model
name, version, caller) and get the same answer to the same question, in the same order:

1. **resolve** — the model exists (404), is up (503 with why), is of the task the door serves, and is
   the version asked for (404 naming the one served) — before a byte of the body is read;
2. **the caller's slot** — a poem, an explained image or a CSV upload takes one of its client's slots
   (429 + Retry-After past PER_CLIENT_*), also before the body is read;
3. the door reads and parses its body (this may await: no model is held yet);
4. **hold** — the model as served *now* is found and held in one step, with no await between, so a
   reload meanwhile cannot retire it under the request (a held worker stops only once nobody holds it);
   if it was replaced by a different shape of model while the body arrived, the request is refused
   with a 503 that says to send it again, never run against the wrong model;
5. **run** — app/inference/ turns the typed input into the typed answer.

Streams hold the model and the slot until they close (`Admission.keep_for_stream`, released by `close`).
This is MLServer's and KServe's DataPlane; doors only translate their wire format (app/api/) and render
the typed errors of app/core/errors.py in their own shape.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from app.core.client_limits import ClientLimits
from app.core.errors import NotFound, Unavailable
from app.models.repository import Entry
from app.models.service import ModelService, ModelStatus, Serving
from app.schemas.model_meta import TEXT, Spec

T = TypeVar("T")
Work = Literal["infer", "explain", "bulk"]
# The client slot each costly kind of work takes (app/core/client_limits.py); plain inference takes none.
SLOTS: dict[str, str] = {"explain": "explain", "bulk": "csv"}
TASK_NOUNS = {"image-classification": "an image classifier", "tabular-regression": "a tabular regressor",
              "text-generation": "a text generator"}  # fmt: skip


@dataclass
class Admission:
    """One request admitted to one model: resolved, holding its caller's slot; the model is held only in `hold`."""

    plane: DataPlane
    name: str
    version: str | None  # the version the caller asked for (None: whichever is served)
    entry: Entry  # the model's folder (meta.json) as served when the request was admitted
    spec: Spec  # its task's spec then: what the door parses the body by
    _exits: AsyncExitStack = field(default_factory=AsyncExitStack)

    @contextmanager
    def hold(self) -> Iterator[Serving]:
        """The model as served now, held (found and held in one step); refused if it is not what was admitted."""
        with self.plane.service.hold(self.name) as serving:
            self.plane.check_version(serving, self.version)
            if serving.loaded.spec != self.spec:
                raise Unavailable(
                    f"the {self.name} model was replaced by one with other inputs while this request was read; "
                    "send it again",
                    code="model_replaced",
                    retry_after_s=self.plane.service.settings.retry_after_s,
                    model=self.name,
                )
            yield serving

    async def run(self, operation: Callable[[Serving], Awaitable[T]]) -> T:
        """`operation` on the model as served now, held from before it starts until it ends."""
        with self.hold() as serving:
            return await operation(serving)

    def keep_for_stream(self) -> Serving:
        """Hold the model until `close` (a stream's end): for answers that outlive the door's handler."""
        return self._exits.enter_context(self.hold())

    async def close(self) -> None:
        """Give back what this admission holds: the model (a stream's) and the caller's slot. Idempotent."""
        await self._exits.aclose()


class DataPlane:
    def __init__(self, service: ModelService, limits: ClientLimits) -> None:
        self.service, self.limits = service, limits

    def resolve(self, name: str, version: str | None = None, task: str | None = None) -> ModelStatus:
        """Step 1: the model exists, is up, is of `task` and serves `version`; else the typed refusal."""
        status = self.service.status(name)
        if status.entry is None:
            raise self.service.unknown(name)
        if task is not None and status.task is not None and status.task != task:
            raise NotFound(f"model {name!r} is {TASK_NOUNS.get(status.task, status.task)}, not "
                           f"{TASK_NOUNS.get(task, task)}: this endpoint does not serve it")  # fmt: skip
        if status.serving is None:
            raise Unavailable(f"the {name} model is unavailable: {status.reason}", model=name)
        self.check_version(status.serving, version)
        return status

    @staticmethod
    def check_version(serving: Serving, version: str | None) -> None:
        if version is not None and version != serving.version:
            raise NotFound(f"model '{serving.name}' has no version '{version}'; it serves '{serving.version}'")

    @asynccontextmanager
    async def admit(
        self, name: str, caller: str, *, version: str | None = None, task: str | None = None, work: Work = "infer"
    ) -> AsyncIterator[Admission]:
        """Steps 1 and 2 for one request; the Admission holds the model in steps 4–5 (`run`, `hold`)."""
        admission = await self.enter(name, caller, version=version, task=task, work=work)
        try:
            yield admission
        finally:
            await admission.close()

    async def enter(
        self, name: str, caller: str, *, version: str | None = None, task: str | None = None, work: Work = "infer"
    ) -> Admission:
        """`admit` for an answer that outlives the handler (a stream): the caller closes the Admission."""
        status = self.resolve(name, version, task)
        assert status.entry is not None and status.serving is not None  # noqa: S101 - resolve() refused the rest
        admission = Admission(self, name, version, status.entry, status.serving.loaded.spec)
        slot = "poem" if status.task == TEXT else SLOTS.get(work)
        if slot is not None:
            await admission._exits.enter_async_context(self.limits.hold(slot, caller))
        return admission
