#!/usr/bin/env bash
# The playground's screenshots show Chinese text: a headless machine may have no CJK font at all (every
# character a box). Install a small one (Debian's fonts-wqy-microhei, 1.6 MB) when fontconfig finds none.
set -euo pipefail
if fc-list :lang=zh 2>/dev/null | grep -q .; then
    exit 0
fi
exec bash "$(dirname "$0")/apt_install.sh" "The playground screenshots" fonts-wqy-microhei
