"""Peer (a): plain FastAPI with no model — the ceiling of the framework for the same requests.

`POST /predict` parses the same `{"pixels": [784 numbers]}` body as `list[float]` and answers a
constant; `GET /health/live` is the trivial GET that dlserve's own liveness probe is compared with.
"""

from __future__ import annotations

import argparse

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()


class Pixels(BaseModel):
    pixels: list[float]


@app.post("/predict")
async def predict(body: Pixels) -> dict[str, int]:
    return {"label": 0}


@app.get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "alive"}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    uvicorn.run(app, host="127.0.0.1", port=parser.parse_args().port, log_level="warning", access_log=False)
