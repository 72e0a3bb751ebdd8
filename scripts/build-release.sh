#!/usr/bin/env bash
# Builds static (musl) release binaries of sweep, bt-worker and collect for the
# architectures of a small cluster, and lays them out as dist/bin/<arch>/ — the same layout
# `sweep install` copies to <sharedfs>/bin/<arch>/.
#
#   scripts/build-release.sh [x86_64] [aarch64]     (default: both)
#   BINS="bt-worker" scripts/build-release.sh ...   (only some binaries; default all three)
#
# Needs the rustup targets (added here when missing); links with rust-lld from rustup, so no
# cross C toolchain is needed.
set -euo pipefail
cd "$(dirname "$0")/.."

archs=("$@")
[ ${#archs[@]} -gt 0 ] || archs=(x86_64 aarch64)
read -r -a bins <<<"${BINS:-sweep bt-worker collect}"
bin_flags=()
for bin in "${bins[@]}"; do
  case "$bin" in
    sweep | bt-worker | collect) bin_flags+=(--bin "$bin") ;;
    *) echo "error: unknown binary '$bin' (sweep, bt-worker, collect)" >&2; exit 2 ;;
  esac
done

installed=$(rustup target list --installed)
for arch in "${archs[@]}"; do
  case "$arch" in
    x86_64 | aarch64) ;;
    *) echo "error: unsupported architecture '$arch' (x86_64 or aarch64)" >&2; exit 2 ;;
  esac
  target="$arch-unknown-linux-musl"
  if ! grep -qx "$target" <<<"$installed"; then
    echo "adding rustup target $target" >&2
    rustup target add "$target"
  fi
  cargo build --release --locked --target "$target" "${bin_flags[@]}"
  mkdir -p "dist/bin/$arch"
  for bin in "${bins[@]}"; do
    # Beside, then rename: a process running the old dist binary keeps it.
    cp "${CARGO_TARGET_DIR:-target}/$target/release/$bin" "dist/bin/$arch/.$bin.tmp"
    mv "dist/bin/$arch/.$bin.tmp" "dist/bin/$arch/$bin"
  done
  if command -v file >/dev/null; then
    for bin in "${bins[@]}"; do
      if file -L "dist/bin/$arch/$bin" | grep -q "dynamically linked"; then
        echo "error: dist/bin/$arch/$bin is dynamically linked; expected a static binary" >&2
        exit 1
      fi
    done
  fi
  echo "dist/bin/$arch:" >&2
  (cd "dist/bin/$arch" && ls -l "${bins[@]}" >&2)
done
