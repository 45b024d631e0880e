"""`python -m bench.saliency`: is the saliency map meaningful, and what does `explain=true` cost?

Meaningful: on real test images, blank (set to 0) the 10 % of pixels the map ranks highest and
see how far the predicted class's probability falls; then blank 10 % of pixels chosen at random.
A map that points at what the model uses makes the first fall far larger than the second. The
same is measured for occlusion maps (6×6 squares, stride 2: 144 masked copies per image), the
alternative the service does not use, with the model-only time of each method.

Cost: the same request with and without `explain=true`, one at a time over HTTP against the real
server (a multipart PNG upload, as the playground sends, and a JSON Kaggle row): p50 of each and
their ratio, in the same run (target: at most 10×).
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import time
import uuid
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from app.models.optimize import Probe, optimize_for_serving
from app.models.registry import load_model
from app.predictors.classifier import ImageClassifier
from bench.serve import HEADERS, percentile, running_server
from training.data.images import read_image_csv
from training.data.mnist_like import DIGITS, FASHION

ROOT = Path(__file__).resolve().parents[1]
MASK_FRACTION = 0.10
MAX_COST = 10.0
TEST_FILES = {
    "digit": ROOT / "data" / DIGITS.name / DIGITS.test_csv,
    "fashion": ROOT / "data" / FASHION.name / FASHION.test_csv,
}


OCCLUSION_PATCH, OCCLUSION_STRIDE = 6, 2


def occlusion_maps(classifier: ImageClassifier, image: np.ndarray) -> np.ndarray:
    """The alternative: the mean fall of the predicted class's probability over the blanked squares covering a pixel."""
    starts = range(0, 28 - OCCLUSION_PATCH + 1, OCCLUSION_STRIDE)
    offsets = [(r, c) for r in starts for c in starts]
    copies = np.repeat(image[None], len(offsets) + 1, axis=0)
    for i, (r, c) in enumerate(offsets, start=1):
        copies[i, r : r + OCCLUSION_PATCH, c : c + OCCLUSION_PATCH] = 0
    probabilities = classifier.run_batch(list(copies))
    label = int(probabilities[0].argmax())
    total, cover = np.zeros((28, 28)), np.zeros((28, 28))
    for p, (r, c) in zip(probabilities[1:], offsets, strict=True):
        total[r : r + OCCLUSION_PATCH, c : c + OCCLUSION_PATCH] += max(probabilities[0][label] - p[label], 0.0)
        cover[r : r + OCCLUSION_PATCH, c : c + OCCLUSION_PATCH] += 1
    return total / cover


def gradient_maps(classifier: ImageClassifier, image: np.ndarray) -> np.ndarray:
    """What the service answers with explain=true (ImageClassifier.explain: gradient × input)."""
    ((_, saliency, _),) = classifier.explain([image])
    return saliency


def masking_drops(classifier: ImageClassifier, images: np.ndarray, method, seed: int = 0) -> tuple[float, float, float]:
    """(mean fall with the top-10 % salient pixels blanked, with random 10 % blanked, ms per map)."""
    rng = np.random.default_rng(seed)
    count = round(MASK_FRACTION * images[0].size)
    salient_drops, random_drops, seconds = [], [], 0.0
    for image in images.astype(np.float32):
        before = classifier.run_batch([image])[0]
        label = int(before.argmax())
        started = time.perf_counter()
        saliency = method(classifier, image)
        seconds += time.perf_counter() - started
        top = np.argsort(-saliency, axis=None, kind="stable")[:count]
        chosen = rng.choice(image.size, size=count, replace=False)
        masked = []
        for pixels in (top, chosen):
            copy = image.copy().reshape(-1)
            copy[pixels] = 0.0
            masked.append(copy.reshape(image.shape))
        after = classifier.run_batch(masked)
        salient_drops.append(before[label] - after[0][label])
        random_drops.append(before[label] - after[1][label])
    return float(np.mean(salient_drops)), float(np.mean(random_drops)), seconds / len(images) * 1000


def multipart(png: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="digit.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + png
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def request_forms(test_csv: Path) -> dict[str, tuple[bytes, str]]:
    """The first test image as the playground sends it (a 280×280 PNG, dark on light) and as a JSON Kaggle row."""
    images, _ = read_image_csv(test_csv, require_label=True)
    encoded = io.BytesIO()
    Image.fromarray(255 - images[0].astype(np.uint8)).resize((280, 280)).save(encoded, format="PNG")
    row = json.dumps({"pixels": images[0].reshape(-1).astype(int).tolist()}).encode()
    return {"multipart PNG 280×280": multipart(encoded.getvalue()), "JSON Kaggle row": (row, "application/json")}


def p50_ms(port: int, path: str, body: bytes, content_type: str, count: int) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = HEADERS | {"Content-Type": content_type}
    latencies = []
    for i in range(count + 5):
        sent = time.perf_counter()
        conn.request("POST", path, body, headers)
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"POST {path}: {response.status}")
        if i >= 5:  # the first few warm the connection and the caches
            latencies.append((time.perf_counter() - sent) * 1000)
    conn.close()
    return percentile(latencies, 50)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000, help="test images per model for the masking check")
    parser.add_argument("--requests", type=int, default=200, help="requests per form for the cost check")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"## Saliency: masking {MASK_FRACTION:.0%} of the pixels ({args.images} real test images per model)\n")
    print(
        "| model | method | probability fall, top-salient pixels blanked | random pixels blanked | ratio | ms per map |"
    )
    print("|---|---|---:|---:|---:|---:|")
    for name, path in TEST_FILES.items():
        images, _ = read_image_csv(path, require_label=True)
        loaded = load_model(name, ROOT / "models" / name, torch.device("cpu"))
        loaded.committed = loaded.module
        loaded.module, _ = optimize_for_serving(name, loaded.module, Probe.of(loaded), loaded.device)
        for method, label in ((gradient_maps, "gradient × input (served)"), (occlusion_maps, "occlusion 6×6/2")):
            classifier = ImageClassifier(loaded.module, loaded.committed, loaded.device, loaded.version, loaded.spec)
            salient, random, ms = masking_drops(classifier, images[: args.images], method)
            ratio = salient / max(random, 1e-9)
            print(f"| {name} | {label} | {salient:.3f} | {random:.3f} | {ratio:.0f}× | {ms:.1f} |", flush=True)

    print(f"\n## Cost of explain=true, one request at a time ({args.requests} each, same server and run)\n")
    print("| endpoint | input | p50 without | p50 with explain | ratio | target |")
    print("|---|---|---:|---:|---:|---|")
    worst = 0.0
    with running_server(ROOT / "models", "cpu", True, args.threads) as server:
        for name, path in TEST_FILES.items():
            for label, (body, content_type) in request_forms(path).items():
                endpoint = f"/predict/{name}"
                plain = p50_ms(server.port, endpoint, body, content_type, args.requests)
                explained = p50_ms(server.port, f"{endpoint}?explain=true", body, content_type, args.requests)
                worst = max(worst, explained / plain)
                print(f"| {endpoint} | {label} | {plain:.2f} ms | {explained:.2f} ms | {explained / plain:.1f}× "
                      f"| ≤ {MAX_COST:.0f}× |", flush=True)  # fmt: skip
    print(f"\n{'PASS' if worst <= MAX_COST else 'FAIL'}: explain costs at most {worst:.1f}× (target ≤ {MAX_COST:.0f}×)")
    return 0 if worst <= MAX_COST else 1


if __name__ == "__main__":
    raise SystemExit(main())
