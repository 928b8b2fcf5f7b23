#!/usr/bin/env bash
# npm run prebuild (prepack runs it): the binaries the package ships, in prebuilds/<platform>-<arch>/,
# where node-gyp-build looks before it would compile. Node-API (--napi): one binary per
# platform and architecture serves every Node version. --tag-libc names them
# posix-fork.glibc.node, so node-gyp-build passes them over on musl (Alpine), whose install
# then compiles instead of loading a binary linked against glibc.
#
# On linux-x64 the linux-arm64 binary is cross-compiled as well (g++-aarch64-linux-gnu,
# installed by scripts/arm64-setup.sh when missing) and stripped with the cross strip. It is
# built in a staged copy, so build/ keeps the host's build.
#
#   scripts/prebuild.sh [--arm64-only]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
PREBUILDIFY="$ROOT/node_modules/.bin/prebuildify"

# node-gyp: the one npm names under `npm run`, else the copy npm ships, else one on PATH.
# (npm's node-gyp on PATH is a wrapper that needs $npm_config_node_gyp.)
node_gyp="${npm_config_node_gyp:-}"
[ -f "$node_gyp" ] || node_gyp="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
[ -f "$node_gyp" ] || node_gyp="$(command -v node-gyp)"
# prebuildify names the newest Node it knows as the target; with Node-API any version's headers
# build the same binary, so the running Node's own are used when npm has no nodedir set
# (node-gyp would otherwise download that version's headers).
if [ -z "${npm_config_nodedir:-}" ]; then
  prefix="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
  [ -e "$prefix/include/node/node_api.h" ] && export npm_config_nodedir="$prefix"
fi
FLAGS=(--napi --strip --tag-libc --node-gyp "$node_gyp")

host="$(node -p 'process.platform + "-" + process.arch')"
if [ "${1:-}" != --arm64-only ]; then
  rm -rf "prebuilds/$host" # a binary of an earlier name would ship next to the new one
  "$PREBUILDIFY" "${FLAGS[@]}"
fi

if [ "$host" != linux-x64 ]; then
  echo "prebuild: linux-arm64 is cross-compiled on linux-x64 only; this is $host"
  exit 0
fi

bash scripts/arm64-setup.sh compiler
stage="$(mktemp -d "${TMPDIR:-/tmp}/posix-fork-prebuild-arm64.XXXXXX")"
trap 'rm -rf "$stage"' EXIT
cp -R package.json binding.gyp native "$stage/"
ln -s "$ROOT/node_modules" "$stage/node_modules"
rm -rf prebuilds/linux-arm64
CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ \
  "$PREBUILDIFY" "${FLAGS[@]}" --arch arm64 --strip-bin aarch64-linux-gnu-strip --out "$ROOT" "$stage"
