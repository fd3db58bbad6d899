#!/usr/bin/env bash
# Installs what the build and the tests need (Debian 12 packages, only those
# missing), then configures and builds into the folder given as $1 with the
# CMake options that follow. Used by tools/demo.sh and tools/test.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/tools/script_help.sh"
script_help "$0" "$@"
build_dir=${1:?usage: tools/setup.sh BUILD_DIR [cmake options...]}
shift

packages=(build-essential cmake pkg-config clang libclang-rt-14-dev libdnnl-dev libhdf5-dev libpng-dev libturbojpeg0-dev libjansson-dev time libopenmpi-dev openmpi-bin
          python3-torch python3-torchvision python3-h5py python3-numpy python3-pil python3-skimage)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

cmake -S "$root" -B "$build_dir" "$@" >&2
cmake --build "$build_dir" -j "$(nproc)" >&2
