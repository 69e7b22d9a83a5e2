#!/bin/sh
# Installs the headless browser the slow review-page tests drive (Debian's chromium + chromium-driver).
# Never fails a build: without root, or without apt-get, the browser tests skip and say why.
set -u

if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "install_browser: not root, not installing chromium/chromium-driver; browser tests will skip" >&2
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_browser: no apt-get, not installing chromium/chromium-driver; browser tests will skip" >&2
    exit 0
fi
if ! apt-get update; then
    echo "install_browser: apt-get update failed; browser tests will skip" >&2
    exit 0
fi
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium chromium-driver; then
    echo "install_browser: apt-get install failed; browser tests will skip" >&2
fi
exit 0
