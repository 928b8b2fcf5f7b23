#!/usr/bin/env bash
# What building for and running on linux-arm64 needs on a linux-x64 Debian/Ubuntu machine:
#
#   compiler  g++-aarch64-linux-gnu (cross g++, with the arm64 libc and libstdc++ it links
#             against) and binutils-aarch64-linux-gnu (the cross strip): npm run prebuild.
#   emulator  qemu-user-static, qemu's library prefix pointed at those arm64 libraries, and
#             a binfmt_misc entry for arm64 ELF files: npm run test:arm64.
#
# qemu-user-static, not qemu-user: Debian's dynamic qemu 7.2 is built with plugin support, and
# its plugin code aborts ("qemu_plugin_vcpu_init_hook: assertion failed") when a forked child
# of a multithreaded program starts a thread, which every fork child of Node does on its first
# fs call. The static build has no plugin support and runs those children.
#
# Idempotent: what is there already is kept. Missing packages are installed with apt-get when
# running as root (CI), non-interactively; otherwise the script names the command and fails.
#
#   scripts/arm64-setup.sh [compiler|emulator|all]     (default: all)
set -euo pipefail

want="${1:-all}"
case "$want" in compiler | emulator | all) ;; *) echo "usage: $0 [compiler|emulator|all]" >&2; exit 2 ;; esac

SYSROOT=/usr/aarch64-linux-gnu
is_root() { [ "$(id -u)" = 0 ]; }

packages=()
if [ "$want" != emulator ]; then
  command -v aarch64-linux-gnu-g++ >/dev/null || packages+=(g++-aarch64-linux-gnu)
  command -v aarch64-linux-gnu-strip >/dev/null || packages+=(binutils-aarch64-linux-gnu)
fi
if [ "$want" != compiler ]; then
  command -v qemu-aarch64-static >/dev/null || packages+=(qemu-user-static)
  # The arm64 Node binary is linked against glibc and libstdc++; the cross packages hold both.
  [ -e "$SYSROOT/lib/ld-linux-aarch64.so.1" ] || packages+=(libc6-arm64-cross)
  [ -e "$SYSROOT/lib/libstdc++.so.6" ] || packages+=(libstdc++6-arm64-cross)
fi

if [ "${#packages[@]}" -gt 0 ]; then
  if ! is_root || ! command -v apt-get >/dev/null; then
    echo "arm64-setup: missing ${packages[*]}; run as root: apt-get install ${packages[*]}" >&2
    exit 1
  fi
  echo "arm64-setup: apt-get install ${packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Package lists may be absent on a fresh machine: update only when the first try fails.
  if ! apt-get install -y -q --no-install-recommends "${packages[@]}" </dev/null; then
    apt-get update -q </dev/null
    apt-get install -y -q --no-install-recommends "${packages[@]}" </dev/null
  fi
fi

[ "$want" = compiler ] && exit 0

# qemu looks for the arm64 dynamic loader and libraries under its compiled-in prefix
# (/etc/qemu-binfmt/aarch64 on Debian). A link there, rather than $QEMU_LD_PREFIX, also holds
# for processes started with an environment of their own.
QEMU="$(command -v qemu-aarch64-static)"
prefix="$("$QEMU" --help | sed -n 's/^QEMU_LD_PREFIX *= *//p' | head -n 1)"
if [ -n "$prefix" ] && [ ! -e "$prefix/lib/ld-linux-aarch64.so.1" ]; then
  if ! is_root; then
    echo "arm64-setup: run as root: mkdir -p $(dirname "$prefix") && ln -sfn $SYSROOT $prefix" >&2
    exit 1
  fi
  mkdir -p "$(dirname "$prefix")"
  ln -sfn "$SYSROOT" "$prefix"
  echo "arm64-setup: $prefix -> $SYSROOT"
fi

# binfmt_misc: the kernel hands every arm64 ELF it is asked to execve() to qemu. Without it
# qemu-user runs one program only, and the suite's own children (process.execPath, execve in
# the library, daemons) would fail to start. Flag F: the kernel opens qemu now, so the entry
# works from any mount namespace.
BINFMT=/proc/sys/fs/binfmt_misc
MAGIC='7f454c460201010000000000000000000200b700'
if [ ! -e "$BINFMT/register" ]; then
  if ! is_root; then echo "arm64-setup: run as root: mount -t binfmt_misc binfmt_misc $BINFMT" >&2; exit 1; fi
  mount -t binfmt_misc binfmt_misc "$BINFMT"
fi
NAME=qemu-aarch64
ready=no
for entry in "$BINFMT"/*; do
  case "$(basename "$entry")" in register | status) continue ;; esac
  grep -qx "magic $MAGIC" "$entry" && grep -qx enabled "$entry" || continue
  if grep -qx "interpreter $QEMU" "$entry"; then
    ready=yes
  elif [ "$(basename "$entry")" = "$NAME" ] && is_root; then
    echo -1 >"$entry" # this script's name, another qemu: registered again below
  else
    echo "arm64-setup: $entry runs arm64 programs with $(sed -n 's/^interpreter //p' "$entry");" \
      "test:arm64 needs $QEMU. Disable that entry (echo 0 > $entry) and run again." >&2
    exit 1
  fi
done
[ "$ready" = yes ] && exit 0
if ! is_root; then echo "arm64-setup: no binfmt_misc entry for arm64; run this script as root" >&2; exit 1; fi
# The magic and mask of qemu's scripts/qemu-binfmt-conf.sh for aarch64.
echo ":$NAME:M::"'\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:'"$QEMU:F" \
  >"$BINFMT/register"
echo "arm64-setup: binfmt_misc entry $NAME -> $QEMU"
