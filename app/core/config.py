"""The service's one settings object, read from environment variables (and `.env`).

Every setting is listed, with its default, in the README's Settings table (a test checks that).
Values that could only hurt — a zero batch size, a negative limit — are refused at startup.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MiB = 1024 * 1024


class Settings(BaseSettings):
    # An empty variable (compose's `API_KEY: ${API_KEY:-}`) means "not set", not "set to nothing".
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_ignore_empty=True)

    # Models and hardware
    model_dir: Path = Field(Path("models"), description="Folder with one sub-folder per model (model.pt, meta.json).")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="Where models run; auto = CUDA when available.")
    torch_threads: int = Field(0, ge=0, description="Torch intra-op CPU threads; 0 keeps torch's default.")
    optimize_models: bool = Field(
        True,
        description="Freeze + optimize_for_inference at start-up, served only if it answers like the committed module.",
    )
    backend: Literal["auto", "torchscript", "onnxruntime", "export"] = Field(
        "auto",
        description="Runtime per model: auto = the fastest measured for it (ONNX Runtime for the CNNs on the CPU), "
        "served only once it answers like model.pt; TorchScript otherwise.",
    )
    precision: Literal["auto", "fp32", "int8"] = Field(
        "auto",
        description="Where ONNX Runtime serves: auto = model.int8.onnx for a model whose export met the accuracy "
        "bar (digit), fp32 = never, int8 = wherever the file exists.",
    )

    # Server process (used by `python -m app`, the Docker image and `make serve`)
    # Loopback unless told otherwise, as uvicorn and `fastapi dev` do: a developer's `make serve` is not
    # reachable from the network by accident. The image, compose and the manifests set 0.0.0.0 themselves.
    host: str = Field("127.0.0.1", description="Interface to listen on (0.0.0.0: every interface).")
    port: int = Field(8000, ge=1, le=65535, description="Port to listen on.")
    # The Open Inference Protocol over gRPC, beside HTTP in the same process (app/api/grpc_v2/): Triton's port.
    grpc_port: int = Field(8001, ge=0, le=65535, description="Port of the gRPC Open Inference Protocol; 0 = off.")
    workers: int = Field(1, ge=1, le=64, description="Uvicorn worker processes (each loads every model).")
    graceful_timeout_s: float = Field(30.0, ge=0, description="On SIGTERM, how long in-flight requests may finish.")

    # Operations
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="Logging level.")
    log_format: Literal["json", "text"] = Field("json", description="json: one object per line; text: for humans.")
    api_key: SecretStr | None = Field(None, description="If set, prediction/generation need header X-API-Key.")
    # Triton's names: with `none` nothing can load or unload a model at run time; `explicit` opens the
    # repository API to whoever holds ADMIN_API_KEY — a secret of its own, checked on its own.
    model_control: Literal["none", "explicit"] = Field(
        "none", description="none: load/unload refused; explicit: allowed with X-Admin-Key (ADMIN_API_KEY)."
    )
    admin_api_key: SecretStr | None = Field(None, description="The X-Admin-Key that MODEL_CONTROL=explicit needs.")
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description='Addresses or networks of proxies whose X-Forwarded-For names the client, e.g. ["10.0.0.0/8"].',
    )
    cors_origins: list[str] = Field(default_factory=list, description='Origins allowed by CORS, e.g. ["*"].')

    # Micro-batching of classification and regression requests
    batching: bool = Field(True, description="Gather concurrent requests into one forward pass (off: one each).")
    # 32, not 64: on two cores a half-size batch lets the event loop read the next requests while the
    # model runs this one (measured, 64 clients: 2,730-2,800 vs 2,340-2,550 requests/s).
    max_batch_size: int = Field(32, ge=1, le=4096, description="Most items in one batched forward pass.")
    # 0 = batch whatever queued while the model was busy, as Triton's dynamic batcher does by default:
    # measured here, a 5 ms wait made 16 clients 1.7x slower (each batch idled for company that never
    # came) and gained nothing at 64. A GPU, where a bigger batch costs almost nothing more, may want 2-5.
    max_wait_ms: float = Field(0.0, ge=0, le=1000, description="Longest a request waits for others to batch with.")
    max_queue_size: int = Field(2048, ge=1, description="Items waiting per model before new ones get 503.")
    retry_after_s: int = Field(1, ge=1, description="Retry-After seconds sent with a 503 for a full queue.")

    # Continuous batching of poems (app/models/poem_scheduler.py): every poem in progress advances one
    # character per forward pass. 1 writes poems one at a time (for comparison).
    max_active_poems: int = Field(32, ge=1, le=1024, description="Most poems decoded together, one pass each step.")
    max_queued_poems: int = Field(
        256, ge=1, description="Poems in progress or waiting per model before new ones get 503 (Retry-After)."
    )

    # Input limits
    max_body_bytes: int = Field(64 * MiB, ge=1024, description="Largest request body (a Kaggle test.csv is ~51 MB).")
    body_timeout_s: float = Field(
        30.0, gt=0, le=3600, description="Longest a client may take to send its request body (slower: 408)."
    )
    max_image_bytes: int = Field(10 * MiB, ge=1024, description="Largest encoded image.")
    max_image_pixels: int = Field(25_000_000, ge=784, description="Most pixels (width × height) in a decoded image.")
    max_csv_rows: int = Field(30_000, ge=1, description="Most rows in an uploaded CSV.")
    max_list_items: int = Field(256, ge=1, description="Most items in one request (a JSON list, or raw-bytes images).")
    max_explain_items: int = Field(
        16, ge=1, description="Most images in one explain=true request (each adds a forward and a backward pass)."
    )
    max_theme_chars: int = Field(200, ge=1, description="Longest poem `theme` text.")
    max_concurrent_csv: int = Field(
        2, ge=1, le=64, description="CSV uploads worked on at once; more wait their turn (bounds memory)."
    )
    csv_chunk_rows: int = Field(1024, ge=1, description="Rows per forward pass when answering a CSV upload.")

    # Per-client bounds on the costly operations (in flight at once; more: 429 + Retry-After). A client is
    # its API key when one is sent, else its address. Generous by default: `make soak` runs 16 threads
    # from one address through CSV uploads and poems, `bench.poems` 32 connections, and neither may meet
    # them (a slot is given back just after the answer is sent, so a closed-loop client can briefly hold
    # one more than its connections); tighten them for the public.
    per_client_explain: int = Field(16, ge=1, description="explain=true requests one client may have in flight.")
    per_client_csv: int = Field(16, ge=1, description="CSV batch uploads one client may have in flight.")
    per_client_poems: int = Field(64, ge=1, description="Poems (any door, streamed or not) one client may have.")
    per_client_reloads: int = Field(1, ge=1, description="Model loads/unloads one client may have in flight.")
    refusal_delay_ms: float = Field(
        100.0, ge=0, le=10_000, description="How long a per-client 429 waits before it is sent (stops spinning)."
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, proxies: list[str]) -> list[str]:
        # Checked here: uvicorn's middleware would take a typo for a host name that never matches, silently.
        for proxy in proxies:
            if proxy != "*":
                try:
                    ipaddress.ip_network(proxy, strict=False)
                except ValueError as exc:
                    raise ValueError(f"{proxy!r} is not an IP address or network (e.g. 10.0.0.5, 10.0.0.0/8)") from exc
        return proxies

    @model_validator(mode="after")
    def _ports_differ(self) -> Settings:
        if self.grpc_port == self.port:
            raise ValueError(f"GRPC_PORT and PORT are both {self.port}: give gRPC a port of its own, or 0 for none")
        return self

    @model_validator(mode="after")
    def _model_control_needs_its_key(self) -> Settings:
        if self.model_control == "explicit" and self.admin_api_key is None:
            raise ValueError(
                "MODEL_CONTROL=explicit needs ADMIN_API_KEY: set it to a secret of its own (the repository API "
                "loads and unloads models for everyone), or leave MODEL_CONTROL=none"
            )
        if self.admin_api_key is not None and not self.admin_api_key.get_secret_value():
            raise ValueError("ADMIN_API_KEY is set but empty")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
