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
