#!/usr/bin/env bash
# deps.sh [--quiet] PKG... — install the Debian packages that are missing.
# As root it runs apt-get; otherwise it prints the exact command and fails.
set -u
quiet=0
if [ "${1:-}" = "--quiet" ]; then quiet=1; shift; fi
missing=()
for p in "$@"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	[ $quiet -eq 1 ] || echo "deps: everything is installed"
	exit 0
fi
cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing: ${missing[*]}" >&2
	echo "deps: run as root: apt-get update && $cmd" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no, non-interactively.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
# Packages with a service (nginx) must not start it on the host: tests run
# their own servers inside namespaces. policy-rc.d 101 = "action forbidden".
prc=/usr/sbin/policy-rc.d
own_prc=0
if [ ! -e $prc ]; then
	printf '#!/bin/sh\nexit 101\n' > $prc && chmod 755 $prc && own_prc=1
fi
apt-get update -qq >/dev/null && $cmd -qq >/dev/null
rc=$?
[ $own_prc -eq 0 ] || rm -f $prc
[ $rc -eq 0 ] || echo "deps: apt-get failed ($rc)" >&2
exit $rc
