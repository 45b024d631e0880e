# dlserve API image: serving only (no training code or packages), one Dockerfile for every builder.
#   docker build -t dlserve:cpu .                                   # CPU: torch's CPU-only wheel
#   docker build -t dlserve:cuda --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 .
# Build arguments (every one optional):
#   BASE_IMAGE       a Python 3.11 image with venv; a registry mirror's copy, or deploy/local-base.sh's stand-in
#   TORCH_INDEX_URL  where torch (pinned in constraints.txt) comes from: the PyTorch CPU index (default), a CUDA index, or PyPI
#                    (PyPI's wheel bundles CUDA); a local index works too (deploy/README.md)
#   PIP_INDEX_URL    where every other package comes from (a mirror or proxy of PyPI)
# The two stages are both used (no flavour stages), so the classic builder and BuildKit build the same thing.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG PIP_INDEX_URL=https://pypi.org/simple
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH
WORKDIR /srv
RUN python -m venv /opt/venv
# torch first, in its own layer: it is most of the image and changes least. A local version such as
# 2.13.0+cpu sorts above PyPI's 2.13.0, so the extra index wins whenever it has the build.
COPY constraints.txt ./
RUN pip install --index-url "$PIP_INDEX_URL" --extra-index-url "$TORCH_INDEX_URL" -c constraints.txt torch
# Then the serving dependencies, read from pyproject.toml ([project] dependencies only: no extras).
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install --index-url "$PIP_INDEX_URL" -c constraints.txt -r /tmp/requirements.txt \
    # What serving never uses: pip itself, the C++ headers and CMake files torch ships for building extensions,
    # and the packages' own test suites (pandas, numpy, sympy, networkx: ~110 MB).
    && pip uninstall --yes pip setuptools \
    && cd /opt/venv/lib/python3.11/site-packages \
    && rm -rf torch/include torch/share \
    && find . -depth -type d -name tests -exec rm -rf {} +
# The code last (a code change rebuilds from here), compiled now: with a read-only root filesystem
# (compose, Kubernetes) Python could not write its bytecode cache at start.
COPY app ./app
RUN python -m compileall -q app

FROM ${BASE_IMAGE} AS runtime
# HOST: the app listens on loopback unless told; in a container, the published port needs every interface.
ENV PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    HOST=0.0.0.0
WORKDIR /srv
RUN useradd --create-home --uid 10001 --user-group dlserve
# 8000: HTTP (REST, /v2, /docs); 8001: the Open Inference Protocol over gRPC (GRPC_PORT)
EXPOSE 8000 8001
# Ready means every model is loaded and warmed; give the first start time to do that.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health/ready', timeout=4).status != 200)"]
# Exec form: uvicorn is PID 1 and receives SIGTERM directly (graceful shutdown, exit 0).
CMD ["python", "-m", "app"]
# Metadata above, files below: every step after the 1 GB venv costs a copy of it on the vfs storage driver.
COPY --from=build /opt/venv /opt/venv
COPY --from=build --chown=dlserve:dlserve /srv/app ./app
COPY --chown=dlserve:dlserve models ./models
USER dlserve
