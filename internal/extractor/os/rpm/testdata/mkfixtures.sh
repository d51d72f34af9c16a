#!/bin/sh
# mkfixtures.sh builds the rpm database fixtures of this directory with the
# real rpm tools (Debian: apt-get install rpm), so that nothing is made by
# hand:
#
#   1. rpmbuild two trivial noarch packages from a spec (one with an Epoch);
#   2. for each backend this rpm can write, rpmdb --initdb a fresh database
#      and rpm -i --justdb both packages into it;
#   3. import a throw-away OpenPGP key, which rpm stores in the database as
#      a gpg-pubkey pseudo package (the extractor must skip it).
#
# Usage: mkfixtures.sh [OUTDIR]   (default: the directory of this script)
#
# Backends: Debian 12's rpm 4.18 is built with the sqlite backend only. It
# reads BerkeleyDB (bdb_ro) but cannot write it, and it has no ndb backend
# ("invalid %_db_backend: ndb"), so only rpmdb.sqlite is made here. The ndb
# and bdb readers are tested against the real SUSE and CentOS databases that
# ship in go-rpmdb's own testdata.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/top/SPECS" "$work/top/SOURCES"

cat >"$work/top/SPECS/vigil-hello.spec" <<'SPEC'
Name:      vigil-hello
Version:   1.0
Release:   1.fc40
Summary:   Trivial fixture package
License:   MIT
Vendor:    Vigil Test Vendor
BuildArch: noarch

%description
A trivial package for the Vigil rpm extractor tests.

%install
mkdir -p %{buildroot}/usr/share/vigil-hello
echo hello >%{buildroot}/usr/share/vigil-hello/hello.txt

%files
/usr/share/vigil-hello/hello.txt
SPEC

cat >"$work/top/SPECS/vigil-epoch.spec" <<'SPEC'
Name:      vigil-epoch
Epoch:     2
Version:   3.4.1
Release:   5.el9
Summary:   Trivial fixture package with an epoch
License:   MIT
Packager:  Vigil Packager <packager@example.com>
BuildArch: noarch

%description
A trivial package with an Epoch for the Vigil rpm extractor tests.

%install
mkdir -p %{buildroot}/usr/share/vigil-epoch
echo epoch >%{buildroot}/usr/share/vigil-epoch/epoch.txt

%files
/usr/share/vigil-epoch/epoch.txt
SPEC

for spec in vigil-hello vigil-epoch; do
	rpmbuild --quiet -ba --define "_topdir $work/top" "$work/top/SPECS/$spec.spec" >/dev/null
done

# A throw-away signing key: rpm keeps imported keys as gpg-pubkey headers.
export GNUPGHOME="$work/gnupg"
mkdir -m 700 "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-gen-key 'Vigil Fixture <fixture@example.com>' ed25519 sign never 2>/dev/null
gpg --batch --quiet --armor --export fixture@example.com >"$work/key.asc"

for backend in sqlite; do
	db="$work/db-$backend"
	mkdir -p "$db"
	rpmdb --initdb --dbpath "$db" --define "_db_backend $backend"
	rpm -i --justdb --nodeps --noscripts --dbpath "$db" --define "_db_backend $backend" \
		"$work"/top/RPMS/noarch/*.rpm
	rpmkeys --import --dbpath "$db" --define "_db_backend $backend" "$work/key.asc"
	case $backend in
	sqlite)
		# Fold the write-ahead log into the main file and drop free
		# pages, so one small file holds the whole database.
		sqlite3 "$db/rpmdb.sqlite" 'PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE; VACUUM;' >/dev/null
		cp "$db/rpmdb.sqlite" "$out/rpmdb.sqlite"
		;;
	esac
done
