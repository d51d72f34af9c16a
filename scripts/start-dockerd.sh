#!/usr/bin/env bash
# Starts a Docker engine for tests when none answers: no bridge and no
# iptables rules, so test containers (always --network none) touch no
# network.
set -euo pipefail
if docker info >/dev/null 2>&1; then
	exit 0
fi
log=${DOCKERD_LOG:-/tmp/vigil-dockerd.log}
nohup dockerd --bridge=none --iptables=false --ip6tables=false >"$log" 2>&1 &
for _ in $(seq 60); do
	if docker info >/dev/null 2>&1; then
		echo "dockerd started (log: $log)"
		exit 0
	fi
	sleep 0.5
done
echo "dockerd did not start; last lines of $log:" >&2
tail -20 "$log" >&2
exit 1
