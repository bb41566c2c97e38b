#!/usr/bin/env bash
# Install and build everything ig needs on a fresh Debian 12 machine (as root). Idempotent and quick when
# nothing changed: Debian packages (libbpf/bpftool from bookworm-backports), npm packages, the native
# addon, vmlinux.h, the TypeScript build and the official gadget images in the local store.
#   scripts/setup.sh          what running ig needs (scripts/deps/apt.txt, apt-backports.txt)
#   scripts/setup.sh --test   also what the tests and benchmarks need (scripts/deps/apt-test.txt)
#   scripts/setup.sh --print-packages [--test]   the Debian packages that mode installs
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
log() { printf '[setup] %s\n' "$*" >&2; }
mkdir -p .build
# bin/ig compares sources with .build/setup.stamp: a completed setup (run directly too) stamps the time it started,
# so a file edited while it ran still counts as changed next time.
started=$(mktemp .build/setup.started.XXXXXX)
trap 'rm -f "$started"' EXIT
with_tests=false
print_only=false
for a in "$@"; do
  case "$a" in
    --test) with_tests=true ;;
    --print-packages) print_only=true ;;  # list the Debian packages this mode installs, change nothing
    *) echo "setup: unknown argument $a (use --test, --print-packages)" >&2; exit 1 ;;
  esac
done

# 1. Debian packages.
pkgs() { grep -hv '^\s*#' "$@" | awk 'NF{print $1}' | sort -u; }
want=$(pkgs scripts/deps/apt.txt)
if $with_tests; then want="$want $(pkgs scripts/deps/apt-test.txt)"; fi
want_bp=$(pkgs scripts/deps/apt-backports.txt)
if $print_only; then printf '%s\n' $want $want_bp | sort -u; exit 0; fi
missing=()
for p in $want $want_bp; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
# libbpf-dev must come from backports (>= 1.4).
if dpkg-query -W -f='${Version}' libbpf-dev 2>/dev/null | grep -q '^1:1\.[0-3]\.'; then missing+=(libbpf-dev); fi
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { echo "setup: missing Debian packages (${missing[*]}); run as root" >&2; exit 1; }
  # The package names and the backports source are Debian 12's: elsewhere, say what is needed instead of
  # adding a source that does not fit the system.
  os_id=$(. /etc/os-release 2>/dev/null && echo "${ID:-}")
  os_codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
  if [ "$os_id" != debian ] || [ "$os_codename" != bookworm ]; then
    os_name=$(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-unknown}")
    echo "setup: this installer knows Debian 12 (bookworm); this system is $os_name." >&2
    echo "setup: install these (or your system's equivalents: libbpf >= 1.4, bpftool, clang/llvm >= 16) yourself, then run scripts/setup.sh again: ${missing[*]}" >&2
    exit 1
  fi
  if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    log "adding bookworm-backports to the apt sources (for libbpf >= 1.4 and bpftool)"
    cat > /etc/apt/sources.list.d/ig-backports.sources <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  fi
  log "installing Debian packages: ${missing[*]}"
  apt-get update -qq || apt-get update
  export DEBIAN_FRONTEND=noninteractive
  bp=(); rest=()
  for p in "${missing[@]}"; do if echo "$want_bp" | grep -qx "$p"; then bp+=("$p"); else rest+=("$p"); fi; done
  [ ${#bp[@]} -gt 0 ] && apt-get install -y -qq --no-install-recommends -t bookworm-backports "${bp[@]}" >/dev/null
  [ ${#rest[@]} -gt 0 ] && apt-get install -y -qq --no-install-recommends "${rest[@]}" >/dev/null
  # Debian's docker-registry package starts a registry on :5000 for everyone; the tests start their own.
  if printf '%s\n' "${rest[@]}" | grep -qx docker-registry && command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    log "disabling the docker-registry service the Debian package started (tests start their own registries)"
    systemctl disable --now docker-registry >/dev/null 2>&1 || log "could not disable docker-registry.service (no systemd here?): nothing else changes"
  fi
fi

# 2. npm packages.
if [ ! -d node_modules ] || [ package.json -nt node_modules/.package-lock.json ] || { [ -f package-lock.json ] && [ package-lock.json -nt node_modules/.package-lock.json ]; }; then
  log "installing npm packages"
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; else npm install --no-audit --no-fund --loglevel=error; fi
fi

# 3. vmlinux.h from the running kernel's BTF (never committed).
if [ ! -s include/gadget/amd64/vmlinux.h ]; then
  log "generating include/gadget/amd64/vmlinux.h"
  mkdir -p include/gadget/amd64
  bpftool btf dump file /sys/kernel/btf/vmlinux format c > include/gadget/amd64/vmlinux.h.tmp
  mv include/gadget/amd64/vmlinux.h.tmp include/gadget/amd64/vmlinux.h
fi

# 4. Native addon.
if [ ! -f native/build/Release/ig_native.node ] || [ ! -f native/build/Release/ig_native_test.node ] || [ -n "$(find native/src native/binding.gyp -newer native/build/Release/ig_native.node -print -quit)" ]; then
  log "building the native addon"
  node scripts/build-native.mjs
fi

# 5. TypeScript.
# A source that was moved or deleted leaves its compiled file behind (tsc never removes outputs): a stale
# *.test.js would still run. So the list of sources is part of the stamp, and a new list compiles into a clean dist.
sources=$(find src test gadgets bench -name '*.ts' -not -path '*/node_modules/*' 2>/dev/null | sort | sha256sum | cut -c1-64)
if [ "$(cat .build/tsc.sources 2>/dev/null)" != "$sources" ]; then rm -rf dist .build/tsc.stamp; fi
if [ ! -f dist/src/cli/main.js ] || [ -n "$(find src test gadgets bench tsconfig.json -name '*.ts' -newer .build/tsc.stamp -print -quit 2>/dev/null)" ] || [ ! -f .build/tsc.stamp ]; then
  log "compiling TypeScript"
  npx tsc -p tsconfig.json
  # The library's declarations (package.json "exports" → types): the public API only, a few seconds.
  npx tsc -p tsconfig.lib.json
  rm -rf dist/src/bundle
  touch .build/tsc.stamp
  echo "$sources" > .build/tsc.sources
fi
# The commands bundled (scripts/bundle.mjs): fewer files to load at start, ig's with V8's code cache.
if [ ! -f dist/src/bundle/ig-start.cjs ] || [ ! -f dist/src/bundle/gadgetctl.mjs ] || [ ! -f dist/src/bundle/gadgetctl-start.cjs ]; then
  log "bundling the commands"
  node scripts/bundle.mjs
fi

# The socket enricher's and the process enricher's own eBPF programs (compiled on first use otherwise).
node -e "import('./dist/src/operators/socketenricher/tracker.js').then((m) => m.trackerObjectPath())"
node -e "import('./dist/src/operators/process/exe-tracker.js').then((m) => m.exeTrackerObjectPath())"

# 6. Official gadget images into the local store (rebuilt when a gadget's sources or the headers change).
node dist/src/cli/build-official.js
touch -r "$started" .build/setup.stamp
