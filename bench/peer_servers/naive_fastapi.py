"""Peer (b): the tutorial server — FastAPI, one forward pass per request, no batching.

What most people write first: a pydantic body, a plain `def` endpoint (FastAPI runs it in its
thread pool), the TorchScript model called on one image.
"""

from __future__ import annotations

import argparse

import torch
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel


class Pixels(BaseModel):
    pixels: list[float]


def build(model_path: str) -> FastAPI:
    app = FastAPI()
    model = torch.jit.load(model_path, map_location="cpu").eval()

    @app.post("/predict")
    def predict(body: Pixels) -> dict:
        x = torch.tensor(body.pixels, dtype=torch.float32).view(1, 1, 28, 28)
        with torch.inference_mode():
            probabilities = torch.softmax(model(x), dim=1)[0]
        return {"label": int(probabilities.argmax()), "probabilities": probabilities.tolist()}

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model", required=True)
    args = parser.parse_args()
    uvicorn.run(build(args.model), host="127.0.0.1", port=args.port, log_level="warning", access_log=False)
