# syntax=docker/dockerfile:1
# dlserve API image. One Dockerfile, two flavours chosen by a build argument:
#   docker build -t dlserve:cpu .                              # CPU: torch's CPU-only wheel (small image)
#   docker build -t dlserve:cuda --build-arg TORCH_FLAVOR=cuda .  # GPU: PyPI's torch, which bundles CUDA
# Dependencies are installed in layers before the code is copied, so a code change rebuilds in seconds.
ARG TORCH_FLAVOR=cpu

FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /srv
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

FROM base AS torch-cpu
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

FROM base AS torch-cuda
RUN pip install torch==2.13.0

# The chosen torch, then every other dependency read from pyproject.toml (torch is already satisfied).
FROM torch-${TORCH_FLAVOR} AS deps
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH
# MODEL_DIR's default, models/, resolves to /srv/models here: the baked-in models, or the compose volume.
WORKDIR /srv
RUN useradd --create-home --uid 10001 --user-group dlserve
COPY --from=deps /opt/venv /opt/venv
COPY --chown=dlserve:dlserve app ./app
COPY --chown=dlserve:dlserve training ./training
COPY --chown=dlserve:dlserve models ./models
USER dlserve
EXPOSE 8000
# Ready means every model is loaded and warmed; give the first start time to do that.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health/ready', timeout=4).status != 200)"]
# Exec form: uvicorn is PID 1's child-free main process and receives SIGTERM directly (graceful shutdown).
CMD ["python", "-m", "app"]
