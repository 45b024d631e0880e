#!/usr/bin/env bash
# make docker-smoke: build the CPU image, run it with compose as a user would, call every endpoint with a real
# input, stop it during a burst of requests, and remove what was started (containers, network; the image stays).
# Build arguments are taken from the environment, as compose takes them:
#   BASE_IMAGE, TORCH_INDEX_URL, PIP_INDEX_URL   (deploy/README.md: stand-ins where Docker Hub is out of reach)
#   SMOKE_PORT (8000)   the host port the API is published on
#   SMOKE_GRPC_PORT (8001)   the host port its gRPC door is published on
#   DOCKER_BUILDKIT     unset = the docker CLI's default builder; 0 = the classic builder (Debian 12 has no buildx)
set -euo pipefail
cd "$(dirname "$0")/.."

PROJECT=dlserve-smoke
IMAGE=dlserve:cpu
PORT=${SMOKE_PORT:-8000}
GRPC_PORT=${SMOKE_GRPC_PORT:-8001}
export DLSERVE_PORT=$PORT DLSERVE_GRPC_PORT=$GRPC_PORT  # compose publishes these (docker-compose.yml)
BASE_IMAGE=${BASE_IMAGE:-python:3.11-slim}
TORCH_INDEX_URL=${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}
PIP_INDEX_URL=${PIP_INDEX_URL:-https://pypi.org/simple}
export BASE_IMAGE TORCH_INDEX_URL PIP_INDEX_URL

say() { printf '\n== %s\n' "$*"; }
cannot_run() {
    printf 'docker-smoke cannot run: %s\n' "$1" >&2
    printf 'On a machine without Docker Hub or the PyTorch index, see deploy/README.md ("Building offline").\n' >&2
    exit 2
}

command -v docker > /dev/null || cannot_run "no docker command (Debian: apt-get install docker.io)"
docker info > /dev/null 2>&1 || cannot_run "no Docker engine answers at $(docker context inspect --format \
    '{{.Endpoints.docker.Host}}' 2>/dev/null || echo 'the default socket') (start dockerd, or check DOCKER_HOST)"
if docker compose version > /dev/null 2>&1; then
    compose=(docker compose)
elif command -v docker-compose > /dev/null; then
    compose=(docker-compose)
else
    cannot_run "neither 'docker compose' (the plugin) nor 'docker-compose' is installed"
fi
command -v python3 > /dev/null || cannot_run "python3 is needed on the host for the checks (standard library only)"
docker image inspect "$BASE_IMAGE" > /dev/null 2>&1 || docker pull "$BASE_IMAGE" > /dev/null 2>&1 \
    || cannot_run "base image $BASE_IMAGE is neither here nor pullable (set BASE_IMAGE, e.g. a registry mirror's)"
# SO_REUSEADDR as a server sets it: connections of a previous run still in TIME_WAIT do not count as taken.
for port in "$PORT" "$GRPC_PORT"; do
    if ! python3 -c "import socket; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', $port)); s.listen()" 2> /dev/null; then
        cannot_run "port $port is taken on this host (set SMOKE_PORT / SMOKE_GRPC_PORT)"
    fi
done

compose+=(--project-name "$PROJECT")
cleanup() {
    say "removing the smoke deployment"
    "${compose[@]}" down --remove-orphans --timeout 5 > /dev/null 2>&1 || true
}
trap cleanup EXIT

say "building $IMAGE (BASE_IMAGE=$BASE_IMAGE TORCH_INDEX_URL=$TORCH_INDEX_URL PIP_INDEX_URL=$PIP_INDEX_URL)"
started=$SECONDS
# Host network for the build: an index on the host's loopback (deploy/local-base.sh) is reachable too.
docker build --network host --tag "$IMAGE" \
    --build-arg BASE_IMAGE --build-arg TORCH_INDEX_URL --build-arg PIP_INDEX_URL . > /tmp/dlserve-smoke-build.log \
    || { tail -n 30 /tmp/dlserve-smoke-build.log; cannot_run "the image did not build (log above)"; }
image_bytes=$(docker image inspect --format '{{.Size}}' "$IMAGE")
base_bytes=$(docker image inspect --format '{{.Size}}' "$BASE_IMAGE")
megabytes() { printf '%d MB' $(($1 / 1000000)); }
printf 'built in %d s: %s is %s, its base %s is %s, so the image adds %s (target: at most 1,100 MB)\n' \
    $((SECONDS - started)) "$IMAGE" "$(megabytes "$image_bytes")" "$BASE_IMAGE" "$(megabytes "$base_bytes")" \
    "$(megabytes $((image_bytes - base_bytes)))"

say "docker compose up (${compose[*]})"
"${compose[@]}" up --detach --no-build api
container=$("${compose[@]}" ps --quiet api)
started=$SECONDS
while true; do
    health=$(docker inspect --format '{{.State.Health.Status}}' "$container")
    [ "$health" = healthy ] && break
    if [ "$health" = unhealthy ] || [ $((SECONDS - started)) -gt 180 ]; then
        docker logs --tail 40 "$container"
        echo "the container is $health after $((SECONDS - started)) s" >&2
        exit 1
    fi
    sleep 1
done
printf 'healthy after %d s (the healthcheck polls every 15 s); user %s\n' $((SECONDS - started)) \
    "$(docker exec "$container" id -un)"

say "checks"
# The gRPC door through its published port, with the image's own client library (the host needs none).
docker run --rm --network host --entrypoint python "$IMAGE" -c "
import grpc
from app.api.grpc_v2 import grpc_predict_v2_pb2 as pb, grpc_predict_v2_pb2_grpc as stubs
stub = stubs.GRPCInferenceServiceStub(grpc.insecure_channel('127.0.0.1:$GRPC_PORT'))
ready = stub.ServerReady(pb.ServerReadyRequest(), timeout=30).ready
print(f'  {\"ok  \" if ready else \"FAIL\"} gRPC ServerReady on port $GRPC_PORT: {ready}')
raise SystemExit(0 if ready else 1)
" || { echo "the gRPC door did not answer ready" >&2; exit 1; }
python3 deploy/smoke_check.py --url "http://127.0.0.1:$PORT" \
    --stop "${compose[*]} stop --timeout 60 api"

exit_code=$(docker inspect --format '{{.State.ExitCode}}' "$container")
printf 'container exit code after SIGTERM: %s\n' "$exit_code"
docker logs "$container" 2>&1 | grep -E '"shut down cleanly"|Traceback' | tail -n 3 || true
[ "$exit_code" = 0 ] || { echo "the container did not exit 0" >&2; exit 1; }
say "docker-smoke passed"
