#!/usr/bin/env bash
# Build ig itself as an OCI image, from Debian packages only (no base image can be pulled here):
#   mmdebstrap (extract variant) of a minimal bookworm with libbpf 1.4 from bookworm-backports and the libraries the
#   addon and Node need, plus Node 20 (the same binary as this machine's: the nodesource nodejs package), then ig's
#   compiled dist, production node_modules, the native addon, the protos and the official gadgets' store.
# Output: an OCI image layout (an image index with a platform entry, so that more architectures can join it) in
#   .build/image/<input hash>/oci, tag = ig's version; rebuilt only when an input changes.
#   scripts/build-image.sh                 build (or reuse) and print the layout's path
#   scripts/build-image.sh --push REF      also copy it to a registry with skopeo (e.g. 127.0.0.1:5000/ig/ig:v0.1.0;
#                                          --dest-tls-verify=false for a plain-HTTP registry: pass SKOPEO_FLAGS)
#   scripts/build-image.sh --print-hash    only print the input hash
# Needs root (mmdebstrap's root mode), mmdebstrap, and deb.debian.org (or the mirror in IG_IMAGE_MIRROR).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
log() { printf '[build-image] %s\n' "$*" >&2; }
push=""; print_hash=false
while [ $# -gt 0 ]; do
  case "$1" in
    --push) push=${2:?--push needs a destination reference}; shift 2 ;;
    --print-hash) print_hash=true; shift ;;
    *) echo "build-image: unknown argument $1 (use --push REF, --print-hash)" >&2; exit 1 ;;
  esac
done

arch=$(dpkg --print-architecture)           # Debian's name (amd64, arm64) is also OCI's
version=v$(node -p "require('./package.json').version")
mirror=${IG_IMAGE_MIRROR:-http://deb.debian.org/debian}
store=${IG_OCI_STORE:-/var/lib/ig/oci-store}
node_bin=$(readlink -f "$(command -v node)")
# What the addon and node link against, as the Debian packages that hold those libraries here (libbpf1 is then
# taken from bookworm-backports, as on this machine), plus a shell and the tools ig runs (flock, mount).
lib_pkgs() {
  for f in native/build/Release/ig_native.node "$node_bin"; do ldd "$f"; done | awk '/=> \//{print $3}' | sort -u |
    while read -r lib; do
      real=$(readlink -f "$lib")
      # usr-merged paths: dpkg may know the library under /lib rather than /usr/lib
      dpkg -S "$real" 2>/dev/null || dpkg -S "${real#/usr}" 2>/dev/null || dpkg -S "$lib" 2>/dev/null ||
        { echo "build-image: no Debian package holds $lib (linked by the addon or node)" >&2; exit 1; }
    done | cut -d: -f1 | sort -u
}
[ -f native/build/Release/ig_native.node ] || { echo "build-image: build ig first (scripts/setup.sh)" >&2; exit 1; }
mapfile -t pkgs < <(lib_pkgs)
pkgs+=(libc-bin dash coreutils util-linux mount)

[ -f dist/src/cli/main.js ] && [ -f native/build/Release/ig_native.node ] || { echo "build-image: build ig first (scripts/setup.sh)" >&2; exit 1; }
[ -f "$store/index.json" ] || { echo "build-image: no gadget store at $store (scripts/setup.sh builds the official gadgets into it)" >&2; exit 1; }

# Inputs: everything that ends up in the image, and how it is made.
hash=$( {
  echo "$arch $version $mirror ${pkgs[*]}"
  sha256sum scripts/build-image.sh scripts/oci-image.mjs package.json package-lock.json native/build/Release/ig_native.node "$node_bin"
  find dist/src -type f -name '*.js' -print0 | sort -z | xargs -0 sha256sum
  find src -name '*.proto' -print0 | sort -z | xargs -0 sha256sum
  sha256sum "$store/index.json"
} | sha256sum | cut -c1-16)
if $print_hash; then echo "$hash"; exit 0; fi
out=.build/image/$hash
if [ -f "$out/oci/index.json" ]; then
  log "up to date: $out/oci ($version, inputs $hash)"
else
  command -v mmdebstrap >/dev/null || { echo "build-image: mmdebstrap is missing (apt-get install mmdebstrap; listed in scripts/deps/apt-test.txt)" >&2; exit 1; }
  [ "$(id -u)" = 0 ] || { echo "build-image: run as root (mmdebstrap root mode)" >&2; exit 1; }
  start=$(date +%s)
  work=$(mktemp -d "${TMPDIR:-/tmp}/ig-build-image.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  # 1. ig's files, as installed in the image under /usr/lib/ig.
  stage=$work/stage/usr/lib/ig
  mkdir -p "$stage/native/build/Release" "$stage/dist"
  cp package.json package-lock.json "$stage/"
  cp native/build/Release/ig_native.node "$stage/native/build/Release/"
  (cd dist && find src -name '*.js' -not -name '*.test.js' -print0 | tar --null -T - -cf -) | tar -xf - -C "$stage/dist"
  find src -name '*.proto' -print0 | tar --null -T - -cf - | tar -xf - -C "$stage"
  log "installing production npm packages"
  (cd "$stage" && npm ci --omit=dev --ignore-scripts --prefer-offline --no-audit --no-fund --loglevel=error >&2)
  # What only building or typing needs: AssemblyScript and binaryen (95 MB) compile WASM gadgets in `ig image
  # build`, which a node's daemon never runs.
  rm -rf "$stage/node_modules/.package-lock.json" "$stage/node_modules/typescript" "$stage/node_modules/@types" \
    "$stage/node_modules/assemblyscript" "$stage/node_modules/binaryen" "$stage/node_modules/.bin"
  find "$stage/node_modules" \( -name '*.map' -o -name '*.d.ts' -o -name '*.md' -o -name '*.markdown' \) -type f -delete
  mkdir -p "$work/stage/var/lib/ig"
  cp -a "$store" "$work/stage/var/lib/ig/oci-store"
  rm -f "$work/stage/var/lib/ig/oci-store/"*.lock
  mkdir -p "$work/stage/usr/bin"
  cp "$node_bin" "$work/stage/usr/bin/node"
  # `ig` and `gadgetctl` on PATH inside the image (node scripts: the image needs no shell for them).
  printf '#!/usr/bin/node\nimport("/usr/lib/ig/dist/src/cli/main.js");\n' > "$work/stage/usr/bin/ig"
  printf '#!/usr/bin/node\nimport("/usr/lib/ig/dist/src/cli/gadgetctl/main.js");\n' > "$work/stage/usr/bin/gadgetctl"
  chmod 755 "$work/stage/usr/bin/ig" "$work/stage/usr/bin/gadgetctl"
  # 2. The root file system: Debian packages, unpacked (extract variant: no maintainer scripts, nothing in these
  #    needs configuring; mmdebstrap runs no hooks for it, so the rest is done here), ld.so's cache, ig's files;
  #    apt's state and docs dropped. One tar, sorted, with fixed times and owners: equal inputs give equal bytes.
  log "mmdebstrap bookworm ($arch): ${pkgs[*]} (libbpf1 from bookworm-backports)"
  export SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || echo 0)
  root=$work/rootfs
  mkdir -p "$root"
  mmdebstrap --quiet --variant=extract --format=directory --architectures="$arch" \
    --include="$(IFS=,; echo "${pkgs[*]}" | sed 's/libbpf1/libbpf1\/bookworm-backports/')" \
    bookworm "$root" \
    "deb $mirror bookworm main" "deb $mirror bookworm-backports main"
  cp -a "$work/stage/." "$root/"
  rm -rf "$root/var/lib/apt" "$root/var/cache/apt" "$root/var/log/apt" "$root/usr/share/doc" "$root/usr/share/man" \
    "$root/usr/share/locale" "$root/usr/share/info" "$root/usr/share/lintian"
  mkdir -p "$root/tmp" "$root/run" "$root/proc" "$root/sys" "$root/dev" "$root/etc/ig"
  chmod 1777 "$root/tmp"
  chroot "$root" /sbin/ldconfig
  rm -f "$root/var/cache/ldconfig/aux-cache"
  tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime -C "$root" -cf "$work/rootfs.tar" .
  # 3. OCI layout: gzip layer, config, manifest, index (platform entry).
  rm -rf "$out.tmp"
  mkdir -p "$out.tmp"
  node scripts/oci-image.mjs --rootfs "$work/rootfs.tar" --out "$out.tmp/oci" --arch "$arch" --tag "$version" --name "localhost/ig:$version" --created "$SOURCE_DATE_EPOCH"
  rm -rf "$out"
  mv "$out.tmp" "$out"
  # Older builds of this worktree are of no use any more.
  find .build/image -mindepth 1 -maxdepth 1 -not -name "$hash" -exec rm -rf {} + 2>/dev/null || true
  log "built $out/oci in $(( $(date +%s) - start ))s ($(du -sh "$out/oci" | cut -f1) compressed)"
fi
if [ -n "$push" ]; then
  log "pushing to $push"
  # shellcheck disable=SC2086  # SKOPEO_FLAGS is a list of flags
  skopeo copy --quiet --all ${SKOPEO_FLAGS:-} "oci:$out/oci:$version" "docker://$push"
fi
echo "$ROOT/$out/oci"
