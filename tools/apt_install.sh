#!/usr/bin/env bash
# Install Debian packages that a developer target needs (as root), refreshing apt's lists once if needed.
#   bash tools/apt_install.sh "the browser tests" chromium chromium-driver
set -euo pipefail
purpose=$1
shift
if [ "$(id -u)" -ne 0 ]; then
    echo "$purpose need Debian's $*: sudo apt-get install $*" >&2
    exit 1
fi
echo "Installing $* (Debian packages) for $purpose"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq "$@" >/dev/null 2>&1 || {
    apt-get update -qq
    apt-get install -y -qq "$@"
}
