"""The service's one settings object, read from environment variables (and `.env`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    model_dir: Path = Field(Path("models"), description="Folder with one sub-folder per model (model.pt, meta.json).")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="Where models run; auto = CUDA when available.")
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="Logging level.")


@lru_cache
def get_settings() -> Settings:
    return Settings()
