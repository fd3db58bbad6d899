#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: installs what is missing, builds,
# and trains the tiny FACS network on generated images (facs-demo --help lists
# the options, which this script passes on).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/setup.sh" "$root/build" -DCMAKE_BUILD_TYPE=Release -DFACS_CUDA=AUTO
exec "$root/build/facs-demo" "$@"
