#!/usr/bin/env bash
# The playground's screenshots show Chinese text: a headless machine may have no CJK font at all (every
# character a box). Install a small one (Debian's fonts-wqy-microhei, 1.6 MB) when fontconfig finds none.
set -euo pipefail
if fc-list :lang=zh 2>/dev/null | grep -q .; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "The screenshots need a Chinese font: sudo apt-get install fonts-wqy-microhei" >&2
    exit 1
fi
echo "Installing fonts-wqy-microhei (Debian package) for the playground screenshots"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq fonts-wqy-microhei >/dev/null 2>&1 || {
    apt-get update -qq
    apt-get install -y -qq fonts-wqy-microhei
}
