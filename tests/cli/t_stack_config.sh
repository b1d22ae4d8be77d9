#!/usr/bin/env bash
# Every tool takes its stack configuration from --stack-config FILE, from
# -C FILE (all but uscurl, where -C is curl's --continue-at), or, when the
# command line names none, from $USTACK_CONFIG; a flag on the command line
# wins over the environment. A configuration that does not validate is
# refused with FILE:LINE:COLUMN, which shows which file each tool read.
# No network: the tools stop at the configuration error.
. "$(dirname "$0")/../net/lib.sh"
[ -x "$BIN/usnc" ] || fail "no $BIN/usnc: build first"

printf 'interfaces:\n  eth0:\n    backend: nosuch\n' > "$TMP/a.yaml"
printf 'interfaces:\n  eth0:\n    backend: tap\n    mtu: 1\n' > "$TMP/b.yaml"
unset USTACK_CONFIG

# expect_file DESCRIPTION FILE CMD... : CMD fails naming FILE:LINE:COL.
expect_file() {
	local what=$1 file=$2; shift 2
	"$@" > "$TMP/out" 2>&1 && fail "$what: exit 0 with a bad configuration"
	grep -q "$file:[0-9]*:[0-9]*:" "$TMP/out" || { cat "$TMP/out"; fail "$what: did not read $file"; }
}

# Each tool with the arguments it needs besides the configuration.
declare -A args=(
	[usnc]="10.0.0.1 7"
	[usping]="10.0.0.1"
	[usperf]="-c 10.0.0.1"
	[ustackd]=""
	[uscurl]="http://10.0.0.1/"
	[usreplay]="--in $TMP/none.pcap"
)
for tool in "${!args[@]}"; do
	a=${args[$tool]}
	expect_file "$tool --stack-config" "$TMP/a.yaml" "$BIN/$tool" --stack-config "$TMP/a.yaml" $a
	expect_file "$tool with USTACK_CONFIG" "$TMP/a.yaml" env USTACK_CONFIG="$TMP/a.yaml" "$BIN/$tool" $a
	expect_file "$tool: the flag wins over USTACK_CONFIG" "$TMP/b.yaml" \
		env USTACK_CONFIG="$TMP/a.yaml" "$BIN/$tool" --stack-config "$TMP/b.yaml" $a
	if [ "$tool" != uscurl ]; then
		expect_file "$tool -C" "$TMP/a.yaml" "$BIN/$tool" -C "$TMP/a.yaml" $a
	fi
	note "$tool: --stack-config, USTACK_CONFIG and precedence ok"
done

# uscurl: -C is not the stack configuration (curl's continue-at).
"$BIN/uscurl" -C "$TMP/a.yaml" http://10.0.0.1/ > "$TMP/out" 2>&1
grep -q "$TMP/a.yaml:" "$TMP/out" && { cat "$TMP/out"; fail "uscurl read -C FILE as its stack configuration"; }
# The old long form is gone everywhere (curl's --config is something else).
"$BIN/usnc" --config "$TMP/a.yaml" 10.0.0.1 7 > "$TMP/out" 2>&1
grep -q "$TMP/a.yaml:" "$TMP/out" && fail "usnc still takes --config"
# An empty USTACK_CONFIG counts as unset.
env USTACK_CONFIG= "$BIN/usnc" 10.0.0.1 7 > "$TMP/out" 2>&1
grep -q 'no interface' "$TMP/out" || { cat "$TMP/out"; fail "empty USTACK_CONFIG not treated as unset"; }
echo ok
