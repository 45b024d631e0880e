"""Peer (c): LitServe with its dynamic batching, serving the same TorchScript digit model.

The LitAPI contract as LitServe's documentation writes it: decode each request, batch, one
forward pass, unbatch, encode. Batching up to 32 items with a 5 ms wait: the settings the performance
issue measured it with, and dlserve's batch size.
"""

from __future__ import annotations

import argparse

import litserve as ls
import torch


class DigitAPI(ls.LitAPI):
    def __init__(self, model_path: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.model_path = model_path

    def setup(self, device: str) -> None:
        self.model = torch.jit.load(self.model_path, map_location=device).eval()

    def decode_request(self, request: dict) -> torch.Tensor:
        return torch.tensor(request["pixels"], dtype=torch.float32).view(1, 28, 28)

    def batch(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        return torch.stack(inputs)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return torch.softmax(self.model(x), dim=1)

    def unbatch(self, output: torch.Tensor) -> list[torch.Tensor]:
        return list(output)

    def encode_response(self, output: torch.Tensor) -> dict:
        return {"label": int(output.argmax()), "probabilities": output.tolist()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--max-batch-size", type=int, default=32)
    parser.add_argument("--batch-timeout", type=float, default=0.005)
    args = parser.parse_args()
    api = DigitAPI(args.model, max_batch_size=args.max_batch_size, batch_timeout=args.batch_timeout)
    server = ls.LitServer(api, accelerator="cpu")
    server.run(port=args.port, host="127.0.0.1", log_level="warning", generate_client_file=False)
