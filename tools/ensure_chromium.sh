#!/usr/bin/env bash
# The browser tests drive Debian's headless Chromium: install it (and its driver) when missing.
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    exit 0
fi
exec bash "$(dirname "$0")/apt_install.sh" "The browser tests" chromium chromium-driver
