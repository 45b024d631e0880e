#!/usr/bin/env bash
# For a machine without Docker Hub or the PyTorch index (a closed network, a build sandbox): everything
# `make docker-smoke` needs, from Debian packages and a torch wheel on local disk. Run as root, once per boot:
#   sudo deploy/local-base.sh
# then build with the stand-ins it prints:
#   BASE_IMAGE=local/python:3.11-slim TORCH_INDEX_URL=http://127.0.0.1:8765/ make docker-smoke
# It is idempotent: a running engine, an existing image or a running index is left as it is.
#   1. the Docker engine (Debian's docker.io, docker-compose, mmdebstrap), started with the vfs storage driver
#      and no bridge or iptables, which works inside containers and VMs that allow neither overlayfs nor NAT;
#   2. local/python:3.11-slim, a stand-in for the official image: Debian 12's Python 3.11 with venv, plus
#      this machine's extra certificate authorities (a TLS-inspecting proxy's, say), which pip inside the
#      build must trust exactly as pip on this machine does;
#   3. a package index on 127.0.0.1 holding only the local torch wheel (the build reaches it with --network host;
#      every other package still comes from PIP_INDEX_URL).
set -euo pipefail

BASE_TAG=${BASE_TAG:-local/python:3.11-slim}
WHEEL_DIR=${WHEEL_DIR:-/opt/wheels}
INDEX_DIR=${INDEX_DIR:-/var/tmp/dlserve-torch-index}
INDEX_PORT=${INDEX_PORT:-8765}
EXTRA_CA_DIR=/usr/local/share/ca-certificates

say() { printf '[local-base] %s\n' "$*" >&2; }
fail() { say "$*"; exit 1; }

[ "$(id -u)" = 0 ] || fail "run as root: it installs Debian packages and starts dockerd"

missing=()
for tool in dockerd docker-compose mmdebstrap; do command -v "$tool" > /dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing docker.io docker-compose mmdebstrap (missing: ${missing[*]})"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io docker-compose mmdebstrap > /dev/null
fi

if ! docker info > /dev/null 2>&1; then
    say "starting dockerd (vfs storage, no bridge, no iptables); its log: /var/log/dlserve-dockerd.log"
    nohup dockerd --storage-driver=vfs --iptables=false --bridge=none > /var/log/dlserve-dockerd.log 2>&1 &
    for _ in $(seq 60); do docker info > /dev/null 2>&1 && break; sleep 1; done
    docker info > /dev/null 2>&1 || fail "dockerd did not start; see /var/log/dlserve-dockerd.log"
fi

if ! docker image inspect "$BASE_TAG" > /dev/null 2>&1; then
    say "building $BASE_TAG from Debian 12 packages (about a minute)"
    tarball=$(mktemp --suffix=.tar)
    hooks=()
    if compgen -G "$EXTRA_CA_DIR/*.crt" > /dev/null; then
        hooks+=(--customize-hook="copy-in $EXTRA_CA_DIR/. /usr/local/share/ca-certificates/"
                --customize-hook='chroot "$1" update-ca-certificates')
    fi
    mmdebstrap --quiet --variant=minbase --include=python3,python3-venv,python-is-python3,ca-certificates \
        "${hooks[@]}" bookworm "$tarball"
    # What the official image sets; PIP_CERT makes pip use the system's authorities, not its own bundle.
    docker import \
        --change 'ENV LANG=C.UTF-8' \
        --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
        --change 'CMD ["python3"]' \
        "$tarball" "$BASE_TAG" > /dev/null
    rm -f "$tarball"
fi
say "$BASE_TAG: $(docker image inspect --format '{{.Size}}' "$BASE_TAG" | numfmt --to=si)B"

wheel=$(compgen -G "$WHEEL_DIR/torch-2.13.0+cpu-*.whl" | head -n 1) || true
[ -n "$wheel" ] || fail "no torch-2.13.0+cpu wheel in $WHEEL_DIR (set WHEEL_DIR)"
mkdir -p "$INDEX_DIR/torch"
ln -sf "$wheel" "$INDEX_DIR/torch/"
if ! curl -fsS "http://127.0.0.1:$INDEX_PORT/torch/" > /dev/null 2>&1; then
    say "serving $INDEX_DIR at http://127.0.0.1:$INDEX_PORT/ (a PEP 503 simple index of one project)"
    nohup python3 -m http.server "$INDEX_PORT" --bind 127.0.0.1 --directory "$INDEX_DIR" \
        > /var/log/dlserve-torch-index.log 2>&1 &
    for _ in $(seq 20); do curl -fsS "http://127.0.0.1:$INDEX_PORT/torch/" > /dev/null 2>&1 && break; sleep 0.5; done
fi
curl -fsS "http://127.0.0.1:$INDEX_PORT/torch/" | grep -q 'torch-2.13.0' || fail "the local torch index does not answer"

echo "BASE_IMAGE=$BASE_TAG TORCH_INDEX_URL=http://127.0.0.1:$INDEX_PORT/"
