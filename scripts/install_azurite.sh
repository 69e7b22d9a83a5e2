#!/bin/sh
# Installs Azurite (the Azure Storage emulator, npm package `azurite`) into tests/azurite/node_modules, at the
# version tests/azurite/package-lock.json pins, for the Azure tests of tests/test_object_store_emulators.py.
# Idempotent: nothing to do when that version is there. Never fails a build: without node or npm, or when npm
# fails, the Azure tests skip and say why.
set -u
cd "$(dirname "$0")/../tests/azurite" || exit 0

wanted=$(sed -n 's/^ *"azurite": *"\([^"]*\)".*/\1/p' package.json | head -n 1)
installed=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' node_modules/azurite/package.json 2>/dev/null | head -n 1)
if [ -x node_modules/.bin/azurite-blob ] && [ -n "$wanted" ] && [ "$installed" = "$wanted" ]; then
    exit 0
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "install_azurite: no node/npm, not installing Azurite; the Azure object-store tests will skip" >&2
    exit 0
fi
if ! npm ci --no-audit --no-fund --loglevel=error >/dev/null; then
    echo "install_azurite: npm ci failed; the Azure object-store tests will skip" >&2
fi
exit 0
