#!/usr/bin/env bash
# Installs everything Vigil needs to build, test and benchmark on Debian 12 (as root).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends \
  cmake ninja-build ccache g++ clang clang-format libclang-rt-14-dev mold pkg-config coreutils \
  libboost1.81-all-dev libssl-dev librocksdb-dev libsimdjson-dev libfmt-dev catch2 \
  libtomlplusplus-dev libbenchmark-dev \
  prometheus-cpp-dev prometheus libsystemd-dev systemd dpkg-dev \
  chromium curl iproute2 \
  mosquitto mosquitto-clients python3 python3-paho-mqtt python3-websockets python3-pytest python3-pytest-xdist python3-cryptography python3-yaml openssl
# Node.js for the JavaScript clients in the tests (MQTT.js and ws, pinned in test/js): Debian's,
# unless the machine already has a Node.js with npm.
if ! command -v npm >/dev/null; then
  apt-get install -y --no-install-recommends nodejs npm
fi
# The console's browser libraries (Leaflet, Natural Earth outlines), embedded in vigil at build
# time, and the JavaScript test clients (MQTT.js, ws, Playwright for Debian's chromium).
npm ci --prefix "$(dirname "$0")/../src/console" --no-audit --no-fund
npm ci --prefix "$(dirname "$0")/../test/js" --no-audit --no-fund
