#!/usr/bin/env bash
# compare.sh: Vigil's Go findings against osv-scanner v2.6.0 on the same
# inputs and the same OSV Go database, both run offline (issue 3, Go
# acceptance). See README.md next to this file.
#
#   bench/osvscanner/compare.sh            # from the repository root, as root
#
# Environment:
#   DB_ZIP       OSV Go export (default ../shared/data/osv/Go/all.zip)
#   WORK         scratch directory (default: a new /tmp/vigil-osvbench.XXXXXX)
#   OSV_BIN_DIR  where osv-scanner is installed (default /tmp/osvbin)
#   RUNS         timed runs per tool (default 5; the median is reported)
#
# Network: the module proxy is used to install osv-scanner and to build the
# fixture binaries. Every scan, Vigil's and osv-scanner's, runs in a new
# network namespace (unshare -n) that has no interface but loopback, and
# osv-scanner gets --offline (local databases only, no transitive
# resolution, no download), --no-call-analysis, and no license check.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
DB_ZIP=${DB_ZIP:-$repo/../shared/data/osv/Go/all.zip}
OSV_BIN_DIR=${OSV_BIN_DIR:-/tmp/osvbin}
RUNS=${RUNS:-5}
WORK=${WORK:-$(mktemp -d /tmp/vigil-osvbench.XXXXXX)}
OSV_VERSION=v2.6.0

die() { echo "compare.sh: $*" >&2; exit 1; }
[ -r "$DB_ZIP" ] || die "no OSV Go database at $DB_ZIP (set DB_ZIP)"
[ "$(id -u)" = 0 ] || die "run as root (scans run in a private network namespace: unshare -n)"
command -v jq >/dev/null || die "jq is missing (apt-get install jq)"
[ -x /usr/bin/time ] || die "/usr/bin/time is missing (apt-get install time)"
unshare -n true || die "unshare -n does not work here"
mkdir -p "$WORK"
echo "work dir: $WORK"

# --- tools -----------------------------------------------------------------
OSV="$OSV_BIN_DIR/osv-scanner"
if ! [ -x "$OSV" ] || ! "$OSV" --version 2>/dev/null | grep -q "${OSV_VERSION#v}"; then
	echo "installing osv-scanner $OSV_VERSION into $OSV_BIN_DIR (needs Go 1.27 from the module proxy)"
	GOTOOLCHAIN=go1.27.3 GOBIN="$OSV_BIN_DIR" GOFLAGS= \
		go install "github.com/google/osv-scanner/v2/cmd/osv-scanner@$OSV_VERSION"
fi
"$OSV" --version | head -1

VIGIL="$WORK/vigil"
(cd "$repo" && go build -o "$VIGIL" ./cmd/vigil)

# --- databases: the same all.zip for both ----------------------------------
VDATA="$WORK/vigil-data"
"$VIGIL" db import --data-dir "$VDATA" "$DB_ZIP" >/dev/null
# osv-scanner v2.6.0 (osv-scalibr's vulnmatch/osvlocal) reads
# <local-db-path>/osv-scalibr/<Ecosystem>/all.zip; the documented
# osv-scanner/ layout is filled too, for other versions.
ODB="$WORK/osv-db"
for d in osv-scalibr osv-scanner; do
	mkdir -p "$ODB/$d/Go"
	cp "$DB_ZIP" "$ODB/$d/Go/all.zip"
done

# --- targets ---------------------------------------------------------------
T="$WORK/targets"
rm -rf "$T"
mkdir -p "$T"
targets=()

# Debian's docker.io, containerd and runc binaries.
for b in /usr/sbin/dockerd /usr/bin/containerd /usr/bin/docker /usr/sbin/runc; do
	[ -f "$b" ] || { echo "skip $b: not installed"; continue; }
	name="debian-$(basename "$b")"
	mkdir -p "$T/$name"
	cp "$b" "$T/$name/"
	targets+=("$name")
done

# Tiny modules built from old module versions through the module proxy.
# moda: gin v1.6.0 and x/net v0.7.0 (x/net raises x/text to v0.7.0), no
# toolchain line, built with the default toolchain.
# modb: x/text v0.3.5, x/crypto at a pseudo-version, a replace directive,
# and "toolchain go1.21.0", built with go1.21.0 (an old stdlib).
mkmod() { # name toolchain; main.go and go.mod on stdin, separated by a line "----"
	local name=$1 tc=$2 src="$WORK/src/$1"
	rm -rf "$src"
	mkdir -p "$src"
	awk -v d="$src" '/^----$/ {f=1; next} { print > (f ? d"/go.mod" : d"/main.go") }'
	(cd "$src" && GOTOOLCHAIN=$tc GOFLAGS=-mod=mod go mod tidy &&
		CGO_ENABLED=0 GOTOOLCHAIN=$tc GOFLAGS=-mod=mod go build -trimpath -o "$name" .)
	mkdir -p "$T/$name-gomod" "$T/$name-bin"
	cp "$src/go.mod" "$src/go.sum" "$T/$name-gomod/"
	cp "$src/$name" "$T/$name-bin/"
	targets+=("$name-gomod" "$name-bin")
}
mkmod moda local <<'EOF'
package main

import (
	"fmt"

	"github.com/gin-gonic/gin"
	"golang.org/x/net/html"
	"golang.org/x/text/language"
)

func main() { fmt.Println(gin.Version, language.English, html.ElementNode) }
----
module example.com/vigilbench/moda

go 1.22

require (
	github.com/gin-gonic/gin v1.6.0
	golang.org/x/net v0.7.0
	golang.org/x/text v0.3.5
)
EOF
mkmod modb go1.21.0 <<'EOF'
package main

import (
	"fmt"

	"golang.org/x/crypto/ssh"
	"golang.org/x/text/language"
)

func main() { fmt.Println(ssh.CertAlgoRSAv01, language.English) }
----
module example.com/vigilbench/modb

go 1.21

toolchain go1.21.0

require (
	golang.org/x/crypto v0.0.0-20200622213623-75b288015ac9
	golang.org/x/text v0.3.5
)

replace golang.org/x/sys => golang.org/x/sys v0.0.0-20210423082822-04245dca01da
EOF

# all: every target in one tree (hard links), for timing.
mkdir -p "$T/all"
for t in "${targets[@]}"; do cp -al "$T/$t" "$T/all/$t"; done

# --- scanning --------------------------------------------------------------
# Both run with no network but loopback. osv-scanner: local DB only
# (--offline sets --offline-vulnerabilities and --no-resolve), no DB
# download, no call analysis (reachability would hide "uncalled" findings:
# compared separately below), no license lookups (not enabled), Go
# extractors only (go.mod and Go binaries; the default "directory" preset's
# git and vendored-C detection is off).
osv_flags=(scan source --offline --download-offline-databases=false
	--local-db-path "$ODB" --no-call-analysis=go --all-vulns
	--experimental-no-default-plugins --experimental-plugins=go/gomod
	--experimental-plugins=go/binary --format json -r)

vigil_cmd() { # dir
	local sub=dir
	case $1 in *-bin | debian-* | */all) sub=rootfs ;; esac
	echo "$VIGIL" --data-dir "$VDATA" --format json scan "$sub" "$1"
}

run_vigil() { unshare -n $(vigil_cmd "$1"); }
run_osv() {
	local rc=0
	unshare -n "$OSV" "${osv_flags[@]}" "$1" || rc=$?
	# 0: no vulnerabilities, 1: vulnerabilities found; anything else failed.
	[ $rc -le 1 ] || { echo "osv-scanner failed on $1 (exit $rc)" >&2; return 1; }
}

# (package@version ID) pairs, sorted, one a line.
vigil_set() { jq -r '.findings[] | "\(.package.name)@\(.package.version) \(.id)"' | sort -u; }
osv_set() { jq -r '.results[]?.packages[]? | .package as $p | .vulnerabilities[]? | "\($p.name)@\($p.version) \(.id)"' | sort -u; }

O="$WORK/out"
mkdir -p "$O"
total_only_v=0 total_only_o=0 total_both=0
for t in "${targets[@]}" all; do
	run_vigil "$T/$t" >"$O/$t.vigil.json"
	run_osv "$T/$t" >"$O/$t.osv.json" 2>"$O/$t.osv.log"
	vigil_set <"$O/$t.vigil.json" >"$O/$t.vigil.set"
	osv_set <"$O/$t.osv.json" >"$O/$t.osv.set"
	comm -12 "$O/$t.vigil.set" "$O/$t.osv.set" >"$O/$t.both"
	comm -23 "$O/$t.vigil.set" "$O/$t.osv.set" >"$O/$t.only-vigil"
	comm -13 "$O/$t.vigil.set" "$O/$t.osv.set" >"$O/$t.only-osv"
	nb=$(wc -l <"$O/$t.both") nv=$(wc -l <"$O/$t.only-vigil") no=$(wc -l <"$O/$t.only-osv")
	echo
	echo "=== $t: vigil $(wc -l <"$O/$t.vigil.set"), osv-scanner $(wc -l <"$O/$t.osv.set"), both $nb, only vigil $nv, only osv-scanner $no"
	echo "--- packages: vigil $(jq '.packages | length' "$O/$t.vigil.json"), osv-scanner $(jq '[.results[]?.packages[]?] | length' "$O/$t.osv.json") (with findings)"
	echo "--- vigil set:";       sed 's/^/    /' "$O/$t.vigil.set"
	echo "--- osv-scanner set:"; sed 's/^/    /' "$O/$t.osv.set"
	echo "--- intersection:";    sed 's/^/    /' "$O/$t.both"
	echo "--- only vigil:";      sed 's/^/    /' "$O/$t.only-vigil"
	echo "--- only osv-scanner:"; sed 's/^/    /' "$O/$t.only-osv"
	if [ "$t" != all ]; then
		total_both=$((total_both + nb)) total_only_v=$((total_only_v + nv)) total_only_o=$((total_only_o + no))
	fi
done
echo
echo "TOTAL over targets: both $total_both, only vigil $total_only_v, only osv-scanner $total_only_o"

# --- osv-scanner's defaults that change the set -----------------------------
# 1. Go call analysis (on by default for go.mod): govulncheck marks the
#    findings whose vulnerable symbols the code does not reach as
#    "called": false (hidden from its table output unless --all-vulns).
#    The module cache holds every module, so it works offline.
# 2. stdlib from go.mod: osv-scanner drops it unless the config sets
#    ScanGoModVersion = true; then it takes the toolchain line, else the
#    go line (a two-part "1.22" becomes 1.22.99).
echo
echo "=== osv-scanner with its default Go call analysis (go.mod targets)"
printf 'ScanGoModVersion = true\n' >"$WORK/osv-scanner-gomodversion.toml"
for t in "${targets[@]}"; do
	case $t in *-gomod) ;; *) continue ;; esac
	rc=0
	(cd "$T/$t" && cp "$WORK/src/${t%-gomod}/main.go" . &&
		GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local unshare -n "$OSV" scan source --offline \
			--download-offline-databases=false --local-db-path "$ODB" \
			--experimental-no-default-plugins --experimental-plugins=go/gomod \
			--format json -r . >"$O/$t.osv-callan.json" 2>"$O/$t.osv-callan.log") || rc=$?
	rm -f "$T/$t/main.go"
	if [ $rc -gt 1 ]; then
		echo "$t: osv-scanner with call analysis failed (exit $rc), see $O/$t.osv-callan.log"
	else
		jq -r '.results[]?.packages[]? | .package as $p | .groups[]?.experimental_analysis // {} | to_entries[]
			| select(.value.called == false) | "\($p.name)@\($p.version) \(.key)"' \
			"$O/$t.osv-callan.json" | sort -u >"$O/$t.uncalled"
		echo "--- $t: $(wc -l <"$O/$t.uncalled") of $(wc -l <"$O/$t.osv.set") findings marked uncalled by govulncheck (reported by Vigil: $(comm -12 "$O/$t.uncalled" "$O/$t.vigil.set" | wc -l)):"
		sed 's/^/    /' "$O/$t.uncalled"
	fi
	run_osv_cfg() { unshare -n "$OSV" "${osv_flags[@]:0:2}" --config="$WORK/osv-scanner-gomodversion.toml" "${osv_flags[@]:2}" "$1"; }
	rc=0
	run_osv_cfg "$T/$t" >"$O/$t.osv-gomodver.json" 2>/dev/null || rc=$?
	[ $rc -le 1 ] || { echo "$t: osv-scanner with ScanGoModVersion failed (exit $rc)"; continue; }
	osv_set <"$O/$t.osv-gomodver.json" >"$O/$t.osv-gomodver.set"
	echo "--- $t with ScanGoModVersion = true: osv-scanner $(wc -l <"$O/$t.osv-gomodver.set"), both $(comm -12 "$O/$t.vigil.set" "$O/$t.osv-gomodver.set" | wc -l), only vigil $(comm -23 "$O/$t.vigil.set" "$O/$t.osv-gomodver.set" | wc -l), only osv-scanner $(comm -13 "$O/$t.vigil.set" "$O/$t.osv-gomodver.set" | wc -l)"
	comm -13 "$O/$t.vigil.set" "$O/$t.osv-gomodver.set" | awk '{print $1}' | sort | uniq -c | sed 's/^/    only osv-scanner: /'
done

# --- timing: the "all" target, median of $RUNS, peak RSS ------------------
timed() { # label cmd...
	local label=$1
	shift
	: >"$O/time.$label"
	for i in $(seq "$RUNS"); do
		unshare -n /usr/bin/time -f '%e %M' -o "$O/time.$label.$i" "$@" >/dev/null 2>&1 || true
		grep -E '^[0-9.]+ [0-9]+$' "$O/time.$label.$i" >>"$O/time.$label"
	done
	# median wall seconds, max of peak RSS (KiB)
	sort -n "$O/time.$label" | awk -v n="$RUNS" '{w[NR]=$1; if ($2>m) m=$2} END {printf "%s %d\n", w[int((n+1)/2)], m}'
}
echo
echo "=== timing: target 'all' ($(du -sh "$T/all" | cut -f1)), $RUNS runs each, median wall time, peak RSS"
read -r vw vm < <(timed vigil $(vigil_cmd "$T/all"))
read -r ow om < <(timed osv "$OSV" "${osv_flags[@]}" "$T/all")
printf '%-12s %8ss %8d KiB\n' vigil "$vw" "$vm" osv-scanner "$ow" "$om"
awk -v v="$vw" -v o="$ow" -v vm="$vm" -v om="$om" \
	'BEGIN {printf "ratio osv-scanner/vigil: wall %.2fx, peak RSS %.2fx\n", o/v, om/vm}'
# osv-scanner reads the zip on every run; Vigil's import is a one-off
# step (like osv-scanner's download), timed here once for reference.
read -r iw im < <(RUNS=1 timed import "$VIGIL" db import --data-dir "$WORK/vigil-data-timed" "$DB_ZIP")
printf 'vigil db import (one-off): %ss, %d KiB\n' "$iw" "$im"
echo
echo "outputs: $O"
