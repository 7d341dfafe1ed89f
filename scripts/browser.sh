#!/usr/bin/env bash
# The browser tests (tests/e2e/test_pages_*.py) drive Debian's Chromium through playwright with
# executable_path=/usr/bin/chromium; playwright never downloads a browser of its own here.
# Install it from apt when it is missing, with a Chinese font so that screenshots are legible
# (the pages themselves use the phone's own fonts). Quiet when both are present. Never fails the
# caller: with CI=true the browser tests themselves fail when /usr/bin/chromium is still missing.
set -u

PACKAGES=()
[ -x /usr/bin/chromium ] || PACKAGES+=(chromium)
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || PACKAGES+=(fonts-wqy-microhei)
[ ${#PACKAGES[@]} -eq 0 ] && exit 0

echo "browser: installing ${PACKAGES[*]} from Debian" >&2
if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo -n); fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get install -y -q "${PACKAGES[@]}" >/dev/null 2>&1 || {
  "${SUDO[@]}" apt-get update -q >/dev/null 2>&1 && "${SUDO[@]}" apt-get install -y -q "${PACKAGES[@]}" >/dev/null 2>&1
} || echo "browser: could not install ${PACKAGES[*]} (the browser tests will say so)" >&2
exit 0
