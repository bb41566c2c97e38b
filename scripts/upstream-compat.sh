#!/usr/bin/env bash
# Build every upstream Inspektor Gadget gadget source, unmodified, with our `ig image build` and our
# include/gadget headers, and report how many build.
#
# Upstream's gadgets (and wasmapi/, which their Rust modules use by path) are exported from the mirrored git dir
# into a scratch directory OUTSIDE this repository
# (they are never copied into the project); images go to a scratch store, so the user's store is untouched.
#
#   scripts/upstream-compat.sh [--mirror GITDIR] [--rev REV] [--ci] [--keep] [--json FILE] [GADGET...]
#
#   --mirror  bare git dir of inspektor-gadget/inspektor-gadget
#             (default /work/.mirror/inspektor-gadget+inspektor-gadget/repo)
#   --rev     revision to export (default HEAD)
#   --ci      also build upstream's test gadgets under gadgets/ci/
#   --keep    keep the scratch directory (its path is printed) with one build log per gadget
#   --json    write {"built":N,"total":M,"ebpfOnly":K,"gadgets":{name:{ok,error}}} to FILE
#   GADGET    only these gadget directories (e.g. trace_open ci/uprobe)
#
# Exit code 0 when every selected gadget built, 1 otherwise.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
mirror=/work/.mirror/inspektor-gadget+inspektor-gadget/repo
rev=HEAD
with_ci=0
keep=0
json=
only=()
while [ $# -gt 0 ]; do
	case "$1" in
	--mirror) mirror=$2; shift 2 ;;
	--rev) rev=$2; shift 2 ;;
	--ci) with_ci=1; shift ;;
	--keep) keep=1; shift ;;
	--json) json=$2; shift 2 ;;
	-h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) echo "upstream-compat: unknown option $1" >&2; exit 2 ;;
	*) only+=("$1"); shift ;;
	esac
done
git -C "$mirror" rev-parse --verify -q "$rev^{commit}" >/dev/null || { echo "upstream-compat: $mirror has no revision $rev" >&2; exit 2; }

scratch=$(mktemp -d /tmp/ig-upstream-compat.XXXXXX)
case "$scratch" in "$here"/*) echo "upstream-compat: scratch dir must be outside the repository" >&2; exit 2 ;; esac
cleanup() { [ "$keep" = 1 ] || rm -rf "$scratch"; }
trap cleanup EXIT
git -C "$mirror" archive "$rev" gadgets wasmapi | tar -x -C "$scratch" || { echo "upstream-compat: export failed" >&2; exit 2; }
mkdir -p "$scratch/logs" "$scratch/store"

if [ ${#only[@]} -gt 0 ]; then
	dirs=("${only[@]}")
else
	dirs=()
	for f in "$scratch"/gadgets/*/program.bpf.c; do dirs+=("$(basename "$(dirname "$f")")"); done
	if [ "$with_ci" = 1 ]; then
		for f in "$scratch"/gadgets/ci/*/program.bpf.c; do dirs+=("ci/$(basename "$(dirname "$f")")"); done
	fi
fi

built=0
total=0
ebpf_only=0
results=()
# A gadget whose WASM module cannot be built here (no Go toolchain, no wasm32-wasip1 Rust target) is built a
# second time from a scratch build file without `wasm`, to tell whether its eBPF program and metadata are fine.
wasm_toolchain_missing() { grep -q -E 'needs the Go toolchain|needs Go [0-9.]+ or later|needs cargo|cargo [0-9.]+ cannot read|building .*\.(go|rs) failed' "$1"; }
ebpf_only_build() {
	local d=$1 bf="$scratch/buildfiles/${1//\//_}.yaml"
	mkdir -p "$scratch/buildfiles"
	grep -v -E '^[[:space:]]*wasm[[:space:]]*:' "$scratch/gadgets/$d/build.yaml" >"$bf"
	IG_OCI_STORE="$scratch/store" "$here/ig" image build "$scratch/gadgets/$d" -f "$bf" -t "upstream-compat/${d//\//-}-ebpf:latest" >>"$2" 2>&1
}
for d in "${dirs[@]}"; do
	total=$((total + 1))
	log="$scratch/logs/${d//\//_}.log"
	if [ ! -d "$scratch/gadgets/$d" ]; then
		echo "no such gadget directory: $d" >"$log"
		ok=0
	elif IG_OCI_STORE="$scratch/store" "$here/ig" image build "$scratch/gadgets/$d" -t "upstream-compat/${d//\//-}:latest" >"$log" 2>&1; then
		ok=1
	else
		ok=0
	fi
	if [ "$ok" = 1 ]; then
		built=$((built + 1))
		printf 'ok    %s\n' "$d"
		results+=("$d"$'\t'1$'\t')
	else
		err=$(grep -v '^\s*$' "$log" | grep -m1 -E '^Error:' | cut -c1-300)
		[ -n "$err" ] || err=$(grep -v '^\s*$' "$log" | tail -n 1 | cut -c1-300)
		if [ -f "$scratch/gadgets/$d/build.yaml" ] && wasm_toolchain_missing "$log"; then
			echo "--- again without wasm:" >>"$log"
			if ebpf_only_build "$d" "$log"; then
				ebpf_only=$((ebpf_only + 1))
				err="$err (its eBPF program and metadata build)"
			fi
		fi
		printf 'FAIL  %s: %s\n' "$d" "$err"
		results+=("$d"$'\t'0$'\t'"$err")
	fi
done
echo "upstream $(git -C "$mirror" rev-parse --short "$rev"): $built of $total built; of the others, $ebpf_only build their eBPF program and metadata but not their WASM module (toolchain missing)"
[ "$keep" = 1 ] && echo "logs in $scratch/logs"

if [ -n "$json" ]; then
	printf '%s\n' "${results[@]}" | node -e '
		const lines = require("fs").readFileSync(0, "utf8").split("\n").filter(Boolean);
		const gadgets = {};
		for (const l of lines) { const [n, ok, err] = l.split("\t"); gadgets[n] = ok === "1" ? { ok: true } : { ok: false, error: err }; }
		process.stdout.write(JSON.stringify({ built: Number(process.argv[1]), total: Number(process.argv[2]), ebpfOnly: Number(process.argv[3]), gadgets }, null, 2) + "\n");
	' "$built" "$total" "$ebpf_only" >"$json"
fi
[ "$built" = "$total" ]
