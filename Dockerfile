# CPU image of the dlserve API. Dependencies are installed in their own layer, before the code,
# so a code change does not reinstall torch. (The GPU image and compose profiles come with the
# deployment work; see the README.)
FROM python:3.11-slim AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /srv

# torch's CPU-only wheel index keeps the image from pulling a multi-GB CUDA build.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install --extra-index-url "$TORCH_INDEX_URL" -r /tmp/requirements.txt

COPY README.md ./
COPY app ./app
COPY training ./training
COPY bench ./bench
COPY models ./models
RUN pip install --no-deps . \
    && useradd --create-home --uid 10001 dlserve

USER dlserve
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=4)"
CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000"]
