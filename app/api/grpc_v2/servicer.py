"""The Open Inference Protocol over gRPC: KServe's GRPCInferenceService, and Triton's stream and repository calls.

Another door onto the same core as REST's `/v2`: the same model tensors and validation
(app/api/v2_models.py), the same micro-batches, the same keys and per-client limits, the same
repository rules. Health and metadata are open; inference needs the API key (metadata `x-api-key`)
when one is set; load and unload need MODEL_CONTROL=explicit and the admin key (`x-admin-key`).

ModelStreamInfer answers the requests of a stream one after another: one response per request, or for
a poem one response per character and a last one with `triton_final_response` (Triton's decoupled
convention) and the whole poem; a request that fails answers its error in-band and the stream goes on.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager

from app.api.grpc_v2 import grpc_predict_v2_pb2 as pb
from app.api.grpc_v2 import grpc_predict_v2_pb2_grpc as pb_grpc
from app.api.grpc_v2.calls import ADMIN_KEY, API_KEY, Call, streaming, unary
from app.api.grpc_v2.tensors import infer_request, infer_response, parameters, text_response
from app.api.routes.v2 import EXTENSIONS, known, model_metadata
from app.api.routes.v2_repository import loadable, reload, repository_index
from app.api.security import ADMIN_IDENTITY, check_api_key, check_model_control, identity
from app.api.v2_models import INFER, poem_tensor_spec
from app.api.v2_tensors import InferRequest
from app.core.client_limits import ClientLimits
from app.core.config import Settings
from app.core.errors import ServiceError, Unavailable
from app.core.metrics import Metrics
from app.inference import poems
from app.inference.dataplane import Admission, DataPlane
from app.models.service import ModelService
from app.schemas.model_meta import TEXT

Tensors = pb.ModelMetadataResponse.TensorMetadata


class InferenceServicer(pb_grpc.GRPCInferenceServiceServicer):
    def __init__(
        self,
        *,
        settings: Settings,
        service: ModelService,
        plane: DataPlane,
        metrics: Metrics,
        limits: ClientLimits,
        server_name: str,
        server_version: str,
    ) -> None:
        self.settings, self.service, self.plane, self.metrics, self.limits = settings, service, plane, metrics, limits
        self.server_name, self.server_version = server_name, server_version

    # Health and metadata: open to anyone, as over REST.

    @unary
    async def ServerLive(self, request: pb.ServerLiveRequest, call: Call) -> pb.ServerLiveResponse:
        return pb.ServerLiveResponse(live=True)

    @unary
    async def ServerReady(self, request: pb.ServerReadyRequest, call: Call) -> pb.ServerReadyResponse:
        return pb.ServerReadyResponse(ready=self.service.ready)

    @unary
    async def ModelReady(self, request: pb.ModelReadyRequest, call: Call) -> pb.ModelReadyResponse:
        current = self.service.status(known(self.service, request.name)).serving
        ready = current is not None and request.version in ("", current.version)
        return pb.ModelReadyResponse(ready=ready)

    @unary
    async def ServerMetadata(self, request: pb.ServerMetadataRequest, call: Call) -> pb.ServerMetadataResponse:
        return pb.ServerMetadataResponse(name=self.server_name, version=self.server_version, extensions=EXTENSIONS)

    @unary
    async def ModelMetadata(self, request: pb.ModelMetadataRequest, call: Call) -> pb.ModelMetadataResponse:
        found = model_metadata(self.plane, request.name, request.version or None)
        return pb.ModelMetadataResponse(
            name=found["name"], versions=found["versions"], platform=found["platform"],
            inputs=[Tensors(**tensor) for tensor in found["inputs"]],
            outputs=[Tensors(**tensor) for tensor in found["outputs"]],
        )  # fmt: skip

    # Inference: behind the API key; a poem holds one of its client's poem slots, as over REST.

    def _check_key(self, call: Call) -> None:
        check_api_key(self.settings, call.metadata.get(API_KEY), sent_in=f"the {API_KEY} metadata")

    def _caller(self, call: Call) -> str:
        return identity(self.settings, call.metadata.get(API_KEY), call.address)

    @staticmethod
    async def _tensors(request: pb.ModelInferRequest) -> InferRequest:
        if request.raw_input_contents:
            return infer_request(request)  # bytes to arrays: no copy worth a thread hop
        return await asyncio.to_thread(infer_request, request)  # typed contents: a loop over every value

    @unary
    async def ModelInfer(self, request: pb.ModelInferRequest, call: Call) -> pb.ModelInferResponse:
        self._check_key(call)
        call.model = request.model_name
        # NOT_FOUND/UNAVAILABLE (and a poem's RESOURCE_EXHAUSTED) before the tensors are read.
        async with self.plane.admit(known(self.service, request.model_name), self._caller(call),
                                    version=request.model_version or None) as admission:  # fmt: skip
            return await self._infer(request, admission, call)

    async def _infer(self, request: pb.ModelInferRequest, admission: Admission, call: Call) -> pb.ModelInferResponse:
        """One request's tensors through the model, on one version from the tensors to the answer."""
        name, tensors = request.model_name, await self._tensors(request)
        with admission.hold() as current:
            outputs = await INFER[current.task](current, tensors, self.settings)
            response = infer_response(name, current.version, outputs, tensors)
        call.batch_size = outputs[0].shape[0] if outputs and outputs[0].shape else 1
        return response

    @streaming
    async def ModelStreamInfer(
        self, requests: AsyncIterator[pb.ModelInferRequest], call: Call
    ) -> AsyncIterator[pb.ModelStreamInferResponse]:
        self._check_key(call)
        async for request in requests:
            call.model = request.model_name
            try:
                async for response in self._stream_one(request, call):
                    yield pb.ModelStreamInferResponse(infer_response=response)
            except ServiceError as error:
                failed = pb.ModelInferResponse(model_name=request.model_name, id=request.id)
                yield pb.ModelStreamInferResponse(error_message=error.detail, infer_response=failed)

    async def _stream_one(self, request: pb.ModelInferRequest, call: Call) -> AsyncIterator[pb.ModelInferResponse]:
        name = request.model_name
        async with self.plane.admit(known(self.service, name), self._caller(call),
                                    version=request.model_version or None) as admission:  # fmt: skip
            if self.service.status(name).task != TEXT:
                yield await self._infer(request, admission, call)
                return
            tensors = await self._tensors(request)
            with admission.hold() as current:  # held from the tensors to the poem's last character
                poem = poems.PoemStream(current, poem_tensor_spec(current, tensors, self.settings), streaming=True)
                request_id = tensors.request_id
                try:
                    async for event in poem.events():
                        if isinstance(event, poems.PoemChar):
                            call.first_char_ms = call.first_char_ms or poem.first_char_ms
                            yield text_response(name, current.version, event.char, request_id)
                        elif isinstance(event, poems.PoemDone):
                            yield text_response(name, current.version, "", request_id, triton_final_response=True,
                                                poem=event.poem["poem"], seed=event.poem["seed"])  # fmt: skip
                        else:
                            raise Unavailable(event.detail)
                finally:
                    poem.close()  # a client that leaves mid-poem frees its row at the next pass

    # The model repository: the index is open; load and unload follow REST's rules exactly.

    @unary
    async def RepositoryIndex(self, request: pb.RepositoryIndexRequest, call: Call) -> pb.RepositoryIndexResponse:
        models = [pb.RepositoryIndexResponse.ModelIndex(**model)
                  for model in repository_index(self.service, ready_only=request.ready)]  # fmt: skip
        return pb.RepositoryIndexResponse(models=models)

    def _admin(self, call: Call) -> AbstractAsyncContextManager[None]:
        check_model_control(self.settings, call.metadata.get(ADMIN_KEY), sent_in=f"the {ADMIN_KEY} metadata")
        return self.limits.hold("reload", ADMIN_IDENTITY)

    @unary
    async def RepositoryModelLoad(
        self, request: pb.RepositoryModelLoadRequest, call: Call
    ) -> pb.RepositoryModelLoadResponse:
        async with self._admin(call):
            loadable(self.service, request.model_name)
            call.model = request.model_name
            await reload(self.service, request.model_name, parameters(request.parameters))
        return pb.RepositoryModelLoadResponse()

    @unary
    async def RepositoryModelUnload(
        self, request: pb.RepositoryModelUnloadRequest, call: Call
    ) -> pb.RepositoryModelUnloadResponse:
        async with self._admin(call):
            call.model = known(self.service, request.model_name)
            await self.service.unload(request.model_name)
        return pb.RepositoryModelUnloadResponse()
