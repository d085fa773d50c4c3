#!/usr/bin/env bash
# Renders a report.html headless to a PNG, to look at the page as a reviewer
# would see it (layout, colours, charts) without a desktop.
#
#   ci/screenshot-report.sh REPORT.html [OUT.png] [WIDTHxHEIGHT]
#
# Installs Debian's chromium when it is missing (needs root or sudo). The
# browser runs with a fresh, throw-away profile and without background
# networking, so the screenshot also shows that the page needs nothing
# from the network.
set -euo pipefail

if [[ $# -lt 1 ]]; then
    echo "usage: $0 REPORT.html [OUT.png] [WIDTHxHEIGHT]" >&2
    exit 2
fi
report=$(realpath "$1")
out=${2:-${report%.html}.screenshot.png}
size=${3:-1280x4200}
width=${size%x*}
height=${size#*x}

browser=""
for candidate in chromium chromium-browser; do
    if command -v "$candidate" >/dev/null 2>&1; then
        browser=$candidate
        break
    fi
done
if [[ -z $browser ]]; then
    echo "chromium is missing; installing Debian's chromium" >&2
    sudo=""
    if [[ $(id -u) -ne 0 ]]; then
        sudo="sudo"
    fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
    browser=chromium
fi

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT

out_abs=$(realpath -m "$out")
"$browser" \
    --headless \
    --no-sandbox \
    --disable-gpu \
    --no-first-run \
    --disable-background-networking \
    --disable-component-update \
    --disable-sync \
    --user-data-dir="$profile" \
    --hide-scrollbars \
    --window-size="$width,$height" \
    --screenshot="$out_abs" \
    "file://$report" 2> >(grep -v -e 'dbus' -e 'Fontconfig' >&2 || true)

echo "$out_abs"
