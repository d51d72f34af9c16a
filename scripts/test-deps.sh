#!/usr/bin/env bash
# Installs what Vigil's tests touch for real (Docker engine, rpm tools,
# cron/at, middleware servers) and starts the Docker engine. Debian/Ubuntu,
# as root. Safe to run again.
set -euo pipefail

packages=(
	docker.io        # containers collector: a real engine
	busybox-static   # a local test image (no registry access)
	rpm gnupg sqlite3 # real rpmdb fixtures (rpmbuild, a signing key, the sqlite backend)
	cron at passwd   # crontab and at spool formats written by the real tools; useradd
	systemd          # systemctl enable for unit and timer tests
	openssh-client   # ssh-keygen fingerprints
	iproute2 procps  # ss and ps: the reference the tests compare with
	nginx-light redis-server memcached   # middleware and exposure, started on loopback by tests
	dpkg-dev         # dpkg-scanpackages: a local apt repository for the fix and rollback test
	curl ncat strace python3 util-linux # runtime techniques performed for real by the agent tests
	openssh-server   # brute-force tests drive a real sshd on 127.0.0.1:2222
	nftables         # nft: the tests read the agent's block sets
	yara             # the YARA engine is checked against libyara's own answers
	postgresql       # the server store's conformance suite runs against PostgreSQL too
	chromium nodejs  # the console's browser test: Playwright (playwright-core, via the npm that nodejs ships) drives headless Chromium
)

if [ "$(id -u)" -ne 0 ]; then
	echo "test-deps: run as root (tests create users, containers and units)" >&2
	exit 1
fi

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f '${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' || missing+=("$p")
done
if ((${#missing[@]})); then
	# Packages must not start their services: tests start servers on
	# loopback themselves. policy-rc.d 101 tells invoke-rc.d to do nothing.
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

"$(dirname "$0")/start-dockerd.sh"

# playwright-core for the console's browser test, pinned by its lock file.
# It drives Debian's Chromium, so no browser is downloaded.
(cd "$(dirname "$0")/../e2e/console" && npm ci --no-audit --no-fund --silent)

# A minimal Debian 12 root made by debootstrap: the rootfs scan tests match
# hand-checked Debian OSV records against its real dpkg database. Made once
# and kept under /var/cache; a failed run leaves nothing half-made.
bookworm_root=/var/cache/vigil-test/bookworm

# debian_mirror prints the first Debian archive URI this machine's apt uses
# for the bookworm suite itself (not -updates or -security), from one-line
# .list files and deb822 .sources files alike.
debian_mirror() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		awk '$1 == "deb" {
			i = 2
			if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
			if ($(i+1) == "bookworm") { print $i; exit }
		}' "$f"
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk 'function flush() {
				if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ / bookworm / && uri != "") { print uri; found = 1 }
				types = ""; suites = ""; uri = ""
			}
			/^[ \t]*#/ { next }
			/^[ \t]*$/ { flush(); if (found) exit; next }
			tolower($1) == "types:" { $1 = ""; types = $0 }
			tolower($1) == "suites:" { $1 = ""; suites = $0 }
			tolower($1) == "uris:" { uri = $2 }
			END { if (!found) flush() }' "$f"
	done
}

if [ ! -f "$bookworm_root/var/lib/dpkg/status" ]; then
	if ! dpkg-query -W -f '${db:Status-Abbrev}' debootstrap 2>/dev/null | grep -q '^ii'; then
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap
	fi
	mirror=$(debian_mirror | head -n 1)
	if [ -z "$mirror" ]; then
		echo "test-deps: no bookworm suite in /etc/apt/sources.list or /etc/apt/sources.list.d; cannot debootstrap" >&2
		exit 1
	fi
	mkdir -p "$(dirname "$bookworm_root")"
	rm -rf "$bookworm_root" # a leftover without a dpkg database is not a root
	(
		tmp=$(mktemp -d "$bookworm_root.tmp.XXXXXX")
		trap 'rm -rf "$tmp"' EXIT
		start=$SECONDS
		echo "test-deps: debootstrap --variant=minbase bookworm from $mirror"
		debootstrap --variant=minbase bookworm "$tmp" "$mirror" > "$tmp.log" 2>&1 ||
			{ tail -n 20 "$tmp.log" >&2; rm -f "$tmp.log"; exit 1; }
		rm -f "$tmp.log"
		mv -T "$tmp" "$bookworm_root"
		trap - EXIT
		echo "test-deps: made $bookworm_root in $((SECONDS - start))s"
	)
fi
