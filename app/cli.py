"""`dlserve serve` (and `python -m app`): run the API with uvicorn, configured from the same settings as the app;
`dlserve import`: make a network trained elsewhere into a verified model folder (app/models/importer.py).

`--host`, `--port` and `--workers` override HOST, PORT and WORKERS for this run (as `fastapi run` and
`bentoml serve` take them); every other setting comes from the environment or `.env`.

On SIGTERM uvicorn stops accepting connections, lets in-flight requests finish for up to
GRACEFUL_TIMEOUT_S, then runs the lifespan's shutdown (the micro-batchers drain) and exits 0.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

import uvicorn

from app.core.config import get_settings
from app.core.memory import limit_malloc_arenas
from app.core.metrics import MULTIPROCESS_ENV


def share_metrics_between_workers() -> None:
    """Give the workers one folder for their metric files, empty at start (stale files would add old counts).

    Set before uvicorn spawns the workers, which inherit it; an operator's own PROMETHEUS_MULTIPROC_DIR
    (on a volume, say) is used and emptied instead of a new temporary folder.
    """
    folder = os.environ.get(MULTIPROCESS_ENV)
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        for stale in Path(folder).glob("*.db"):
            stale.unlink()
    else:
        folder = tempfile.mkdtemp(prefix="dlserve-metrics-")
        os.environ[MULTIPROCESS_ENV] = folder
        atexit.register(shutil.rmtree, folder, ignore_errors=True)


def _exit_cleanly(signum: int, frame: object) -> None:
    sys.exit(0)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="dlserve", description="Serve deep-learning models over HTTP.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the API (settings: environment variables or .env)")
    serve.add_argument("--host", help="interface to listen on (HOST; default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (PORT; default 8000)")
    serve.add_argument("--workers", type=int, help="worker processes (WORKERS; default 1)")
    add_import_command(commands)
    return parser.parse_args(argv)


def add_import_command(commands: Any) -> None:
    imports = commands.add_parser(
        "import", help="make a network trained elsewhere into a verified model folder",
        description="Write MODEL_DIR/NAME from a TorchScript file, an ONNX file, or a .py file defining the "
                    "network plus its state_dict; checked on probe inputs before anything is written.",
    )  # fmt: skip
    imports.add_argument("name", help="the model's name: its folder and its paths (/predict/NAME)")
    imports.add_argument("source", type=Path, help="model.pt (TorchScript), model.onnx, or the .py defining it")
    imports.add_argument("--task", default="image-classification",
                         choices=["image-classification", "tabular-regression", "text-generation"])  # fmt: skip
    imports.add_argument(
        "--state-dict", type=Path, help="with a .py source: the weights (torch.save(net.state_dict()))"
    )
    imports.add_argument("--class", dest="class_name", help="the nn.Module class in the .py file (if it has several)")
    imports.add_argument(
        "--args", type=json.loads, default=None, help="its constructor's arguments as JSON: '{\"c\": 6}'"
    )
    imports.add_argument("--classes", help="images: the class names in output order, comma-separated, or @FILE "
                         "(one per line)")  # fmt: skip
    imports.add_argument("--classes-zh", help="the Chinese class names, likewise (shown by the playground)")
    imports.add_argument("--input-shape", type=_ints, help="images: one image as the network takes it: C,H,W")
    imports.add_argument("--flat", action="store_true", help="the network takes rows of C·H·W values (an MLP)")
    imports.add_argument("--scale", type=_number, default=1.0,
                         help="multiply the 0–255 pixels by this first: 1/255 for ToTensor()'s 0–1 inputs")  # fmt: skip
    imports.add_argument("--mean", type=_floats, help="then subtract this per channel (comma-separated)")
    imports.add_argument("--std", type=_floats, help="then divide by this per channel")
    imports.add_argument("--photo", default="resize", choices=["resize", "mnist", "fashion-mnist"],
                         help="how an uploaded photo is made to look like the training data")  # fmt: skip
    imports.add_argument("--columns-from", type=Path, action="append", default=[],
                         help="tables: the course's train.csv (repeat for test.csv): columns and the course's "
                              "preprocessing, fitted on them together")  # fmt: skip
    imports.add_argument("--target", default="SalePrice", help="tables: the column the network predicts")
    imports.add_argument("--id-column", default="Id", help="tables: the rows' id column")
    imports.add_argument("--vocab", type=Path, help="characters: the course's vocab list (or word2idx) as JSON")
    imports.add_argument("--rhymes", type=Path,
                         help="characters: rhyme tables for regulated verse (models/poem/rhymes.json)")  # fmt: skip
    imports.add_argument("--version", default="1")
    imports.add_argument("--model-dir", type=Path, help="the model repository (MODEL_DIR; default models/)")
    imports.add_argument("--force", action="store_true", help="replace a model folder of that name")


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(","))


def _floats(text: str) -> list[float]:
    return [float(part) for part in text.split(",")]


def _number(text: str) -> float:
    """A float, or a fraction such as 1/255."""
    top, _, bottom = text.partition("/")
    return float(top) / float(bottom) if bottom else float(top)


def _names(text: str | None) -> list[str] | None:
    if text is None:
        return None
    if text.startswith("@"):
        return [line.strip() for line in Path(text[1:]).read_text(encoding="utf-8").splitlines() if line.strip()]
    return [part.strip() for part in text.split(",")]


def run_import(args: argparse.Namespace) -> int:
    """`dlserve import`: 0 and the folder written, or 2 and why nothing was."""
    from app.models.import_tabular import TabularImport, import_tabular_regressor  # torch: only here
    from app.models.import_text import TextImport, import_text_generator
    from app.models.importer import ImageImport, ImportRefused, import_image_classifier

    network = {"name": args.name, "source": args.source, "state_dict": args.state_dict, "class_name": args.class_name,
               "init_args": args.args, "version": args.version}  # fmt: skip
    model_dir = args.model_dir or get_settings().model_dir
    try:
        if args.task == "tabular-regression":
            request = TabularImport(**network, tables=args.columns_from, target=args.target, id_column=args.id_column)
            folder = import_tabular_regressor(request, model_dir, force=args.force)
            what = f"{len(json.loads((folder / 'preprocess.json').read_text(encoding='utf-8'))['columns'])} columns"
        elif args.task == "text-generation":
            request = TextImport(**network, vocab=args.vocab, rhymes=args.rhymes)
            folder = import_text_generator(request, model_dir, force=args.force)
            what = f"{json.loads((folder / 'vocab.json').read_text(encoding='utf-8'))['size']} tokens"
        else:
            if not args.classes or args.input_shape is None or len(args.input_shape) != 3:
                raise ImportRefused("an image classifier needs --classes and --input-shape C,H,W")
            classes = _names(args.classes) or []
            request = ImageImport(**network, classes=classes, shape=args.input_shape,
                                  classes_zh=_names(args.classes_zh), scale=args.scale, mean=args.mean, std=args.std,
                                  flat=args.flat, photo=args.photo)  # fmt: skip
            folder = import_image_classifier(request, model_dir, force=args.force)
            what = f"{len(classes)} classes"
    except ImportRefused as exc:
        print(f"dlserve import: refused: {exc}", file=sys.stderr)
        return 2
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    door = "generate" if args.task == "text-generation" else "predict"
    print(
        f"{folder}: {meta['artifact']} (sha256 {meta['sha256'][:12]}…), {what}; answers like {args.source.name} "
        f"on its probe inputs. Served at /{door}/{args.name} after the next start, or now: "
        f"POST /v2/repository/models/{args.name}/load"
    )
    return 0


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.command == "import":
        sys.exit(run_import(args))
    # Through the environment, not arguments: each worker process builds its app from it (app/main.py).
    for name in ("host", "port", "workers"):
        if getattr(args, name) is not None:
            os.environ[name.upper()] = str(getattr(args, name))
    get_settings.cache_clear()
    serve()


def serve() -> None:
    limit_malloc_arenas()  # before uvicorn, torch or anything else starts a thread
    settings = get_settings()
    if settings.workers > 1:
        share_metrics_between_workers()
    # Uvicorn shuts down gracefully on SIGTERM/SIGINT, then re-raises the signal with the handler
    # that was installed before it started. Making that handler a clean exit gives status 0 (what
    # orchestrators expect of a graceful stop) instead of "killed by signal 15".
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _exit_cleanly)
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        timeout_graceful_shutdown=settings.graceful_timeout_s,
        log_config=None,  # our own logging setup (JSON lines or text) applies
        access_log=False,  # one request line comes from our middleware, with the request id
        # X-Forwarded-For is honoured by the app itself, and only from TRUSTED_PROXIES (app/main.py).
        proxy_headers=False,
    )
