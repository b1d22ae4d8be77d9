#!/usr/bin/env bash
# uscurl next to the real curl 7.88, the same command lines against the same
# kernel-side servers (http_fixture.py and python3 -m http.server, in one
# namespace; uscurl over a TAP there, curl over the kernel): for each case
# the exit codes, standard output, the files written and the lines on
# standard error that curl's users read must be the same. Cases: -r, -C -
# (resume, complete file, a server without ranges: 33), -C N, --retry (HTTP
# 503 with Retry-After, timeouts, the messages and "Throwing away"), -D with
# redirects, --fail-with-body, --no-progress-meter, -#, -G and
# --data-urlencode, -T FILE and -T - (PUT, Expect: 100-continue, chunked),
# -w variables (json, header_json, %header{}, stdout/stderr,
# onerror, @file), -H Host first, the meter on stderr when stdout is
# redirected with curl's final columns; --limit-rate (timed: curl 7.88.1
# itself does not limit small bodies); --compressed refused clearly.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd curl cmp
[ -x /usr/bin/python3 ] || skip "/usr/bin/python3 is missing"
[ -x "$BIN/uscurl" ] || fail "$BIN/uscurl is not built (make)"
curl --version | grep -q '^curl 7\.88\.' || skip "the reference is curl 7.88 (found: $(curl --version | head -1))"
here=$(cd "$(dirname "$0")" && pwd)

ns=$(new_ns uvc)
tap_up "$ns" tap0 10.9.21.1/24
Q="--tap tap0 --addr 10.9.21.2/24 --mac 02:00:0a:09:15:02"
F=http://10.9.21.1:8080     # http_fixture.py
H=http://10.9.21.1:8000     # python3 -m http.server (no ranges)

mkdir -p "$TMP/www" "$TMP/c" "$TMP/u"
head -c 300000 /dev/urandom > "$TMP/www/mid.bin"
printf 'hello\n' > "$TMP/www/small.txt"
start "$ns" "$TMP/fixture.log" /usr/bin/python3 "$here/http_fixture.py" 10.9.21.1 8080 "$TMP/www"
start "$ns" "$TMP/hs.log" /usr/bin/python3 -m http.server --bind 10.9.21.1 --directory "$TMP/www" 8000
wait_for 10 "http_fixture.py to listen" sh -c "ip netns exec $ns ss -tln | grep -q '10.9.21.1:8080'"
wait_for 10 "http.server to listen" sh -c "ip netns exec $ns ss -tln | grep -q '10.9.21.1:8000'"

# both ARGS... — run curl and uscurl with ARGS, each in its own directory
# ($TMP/c, $TMP/u): stdout to out, stderr to err, exit codes in RC_C, RC_U.
# STDIN_FILE, when set, is given to both on standard input.
both() {
	local in=${STDIN_FILE:-/dev/null}
	(cd "$TMP/c" && ip netns exec "$ns" timeout 40 curl "$@" < "$in" > out 2> err)
	RC_C=$?
	(cd "$TMP/u" && ip netns exec "$ns" timeout 40 "$BIN/uscurl" $Q "$@" < "$in" > out 2> err)
	RC_U=$?
	[ $RC_U -ne 124 ] || fail "uscurl $* did not finish in 40 s"
}
same_rc() {   # WHAT
	[ "$RC_C" = "$RC_U" ] || { sed 's/^/    uscurl stderr: /' "$TMP/u/err" | tail -5
		fail "$1: uscurl exit $RC_U, curl exit $RC_C"; }
}
same_file() {   # NAME WHAT — the file NAME is the same in both directories
	cmp -s "$TMP/c/$1" "$TMP/u/$1" || { diff <(od -c "$TMP/c/$1" | head -20) <(od -c "$TMP/u/$1" | head -20) | head -20
		fail "$2: $1 differs (curl $(wc -c < "$TMP/c/$1") bytes, uscurl $(wc -c < "$TMP/u/$1"))"; }
}
# errlines PATTERN — the stderr lines matching PATTERN, curl's and uscurl's
# names and carriage returns taken out, must be the same.
same_errlines() {   # PATTERN WHAT
	local c u
	c=$(tr '\r' '\n' < "$TMP/c/err" | grep -E "$1" | sed 's/^curl: /X: /')
	u=$(tr '\r' '\n' < "$TMP/u/err" | grep -E "$1" | sed 's/^uscurl: /X: /')
	[ -n "$c" ] || fail "$2: curl printed no line matching '$1' (test assumption broken)"
	[ "$c" = "$u" ] || { echo "  curl:   $c"; echo "  uscurl: $u"; fail "$2: stderr lines differ"; }
}

note "-r: the bytes asked for"
both -s -r 1000-1999 "$F/file/mid.bin"
same_rc "-r"; same_file out "-r 1000-1999"
[ "$(wc -c < "$TMP/u/out")" = 1000 ] || fail "-r 1000-1999 gave $(wc -c < "$TMP/u/out") bytes"
both -s -r -100 "$F/file/mid.bin"
same_rc "-r -100"; same_file out "-r -100"

note "-C -: resume a partial file, then a complete one (416), then a server without ranges (33)"
head -c 100000 "$TMP/www/mid.bin" > "$TMP/c/part.bin"; cp "$TMP/c/part.bin" "$TMP/u/part.bin"
both -C - -o part.bin -w '%{http_code}' "$F/file/mid.bin"
same_rc "-C - resume"; same_file part.bin "-C - resume"; same_file out "-C - resume, -w"
cmp -s "$TMP/u/part.bin" "$TMP/www/mid.bin" || fail "-C - did not complete the file"
same_errlines '^\*\* Resuming transfer from byte position' "-C - resume message"
both -C - -o part.bin -w '%{http_code}' "$F/file/mid.bin"
same_rc "-C - on a complete file"; same_file part.bin "-C - complete"; same_file out "-C - complete, -w"
[ "$(cat "$TMP/u/out")" = 416 ] || fail "-C - on a complete file: -w http_code $(cat "$TMP/u/out")"
head -c 100000 "$TMP/www/mid.bin" > "$TMP/c/part.bin"; cp "$TMP/c/part.bin" "$TMP/u/part.bin"
both -sS -C - -o part.bin "$H/mid.bin"
same_rc "-C - without server ranges"; same_file part.bin "-C - without ranges"
[ "$RC_U" = 33 ] || fail "-C - against a server without ranges: exit $RC_U, expected 33"
same_errlines '^(curl|uscurl): \(33\)' "exit 33 message"
both -s -C 299990 "$F/file/mid.bin"
same_rc "-C N to stdout"; same_file out "-C 299990"

note "--retry: 503 with Retry-After, then success; timeouts; the messages"
rm -f "$TMP/c/r.bin" "$TMP/u/r.bin"
(cd "$TMP/c" && ip netns exec "$ns" curl --retry 3 -o r.bin -w '%{http_code}' "$F/flaky/c/2" > out 2> err); RC_C=$?
(cd "$TMP/u" && ip netns exec "$ns" timeout 40 "$BIN/uscurl" $Q --retry 3 -o r.bin -w '%{http_code}' "$F/flaky/u/2" > out 2> err); RC_U=$?
same_rc "--retry 503"; same_file r.bin "--retry 503"; same_file out "--retry 503 -w"
[ "$(cat "$TMP/u/r.bin")" = ok ] || fail "--retry: the final body is '$(cat "$TMP/u/r.bin")'"
same_errlines '^(Warning|Throwing)' "--retry 503 messages"
[ "$(grep -c '^Warning: Problem : HTTP error. Will retry in 1 seconds' "$TMP/u/err")" = 2 ] ||
	fail "--retry: expected two 'Will retry in 1 seconds' (Retry-After: 1): $(grep Warning "$TMP/u/err")"
both -S --no-progress-meter --retry 1 --max-time 1 -o t.bin "$F/hang"
same_rc "--retry timeout"
same_errlines '^Warning' "--retry timeout warning"
for d in c u; do
	[ "$(grep -cE '^(curl|uscurl): \(28\) Operation timed out after' "$TMP/$d/err")" = 2 ] ||
		fail "$d: --retry 1 --max-time 1 should time out twice: $(cat "$TMP/$d/err")"
done
both -sS --retry 2 "$F/status/404"
same_rc "--retry does not retry a 404"; same_file out "--retry 404 body"

note "-D: every response head of a redirect chain"
both -s -L -D hdr.txt -o body.txt "$F/redirect/2"
same_rc "-D"; same_file body.txt "-D body"
for d in c u; do grep -v '^Date:' "$TMP/$d/hdr.txt" > "$TMP/$d/hdr.nodate"; done
same_file hdr.nodate "-D headers (Date lines aside)"
[ "$(grep -c '^HTTP/1.1 ' "$TMP/u/hdr.txt")" = 3 ] || fail "-D wrote $(grep -c '^HTTP/1.1 ' "$TMP/u/hdr.txt") heads, expected 3"
both -s -D - "$F/status/200"
same_rc "-D -"; for d in c u; do grep -v '^Date:' "$TMP/$d/out" > "$TMP/$d/out.nodate"; done
same_file out.nodate "-D - on stdout"

note "--fail-with-body, --no-progress-meter"
both -sS --fail-with-body "$F/status/404"
same_rc "--fail-with-body"; same_file out "--fail-with-body body"
same_errlines '^(curl|uscurl): \(22\)' "--fail-with-body message"
both --no-progress-meter -o nm.bin "$F/file/mid.bin"
same_rc "--no-progress-meter"; same_file nm.bin "--no-progress-meter"
[ ! -s "$TMP/u/err" ] || fail "--no-progress-meter wrote to stderr: $(head -c 200 "$TMP/u/err")"

note "-#: the bar's last state (COLUMNS=80)"
export COLUMNS=80
both -# -o bar.bin "$F/file/mid.bin"
unset COLUMNS
same_rc "-#"; same_file bar.bin "-#"
for d in c u; do tr '\r' '\n' < "$TMP/$d/err" | grep -v '^$' | tail -1 > "$TMP/$d/bar.last"; done
same_file bar.last "-# final bar"
grep -q '^#\{73\} 100.0%$' "$TMP/u/bar.last" || fail "-# final bar: '$(cat "$TMP/u/bar.last")'"

note "-G, --data-urlencode: the request line"
printf 'a b&c\n' > "$TMP/du.txt"
both -sv -G -d x=1 --data-urlencode 'y=a b&c/é' --data-urlencode '=z z' --data-urlencode 'p~.-_*' \
	--data-urlencode "f@$TMP/du.txt" --data-urlencode "@$TMP/du.txt" "$F/headers?q=0"
same_rc "-G"
same_errlines '^> GET ' "-G --data-urlencode request line"
both -s -G -d a=1 -w '%{url} %{url_effective}' "$F/echo?x#frag"
same_rc "-G with a query and a fragment"; same_file out "-G: %{url} and %{url_effective}"
both -s --data-urlencode 'name=a b' -d 'k=v' "$F/echo"
same_rc "--data-urlencode POST"; same_file out "--data-urlencode POST body"

note "-T: PUT a file (name added to a URL ending in /), and standard input (chunked)"
head -c 150000 /dev/urandom > "$TMP/up.bin"
both -sv -A x -T "$TMP/up.bin" "$F/echo/"
same_rc "-T FILE"; same_file out "-T FILE echo"
cmp -s "$TMP/u/out" "$TMP/up.bin" || fail "-T FILE: the fixture echoed something else"
same_errlines '^> ' "-T FILE request head"
same_errlines '^< HTTP/1.1 100' "-T FILE 100 Continue"
STDIN_FILE="$TMP/up.bin" both -sv -A x -T - "$F/echo"
same_rc "-T -"; same_file out "-T - echo"
cmp -s "$TMP/u/out" "$TMP/up.bin" || fail "-T -: the fixture echoed something else"
same_errlines '^> ' "-T - request head"

note "--data-binary over 1 MiB: Expect: 100-continue as curl; at 1 MiB none"
head -c 1048577 /dev/urandom > "$TMP/post.bin"
both -sv -A x --data-binary @"$TMP/post.bin" "$F/echo"
same_rc "POST 1 MiB + 1"; same_file out "POST 1 MiB + 1 echo"
same_errlines '^> ' "POST 1 MiB + 1 request head"
grep -q '^> Expect: 100-continue' "$TMP/u/err" || fail "no Expect: 100-continue for a body over 1 MiB"
head -c 1048576 "$TMP/post.bin" > "$TMP/post1.bin"
both -sv -A x --data-binary @"$TMP/post1.bin" "$F/echo"
same_rc "POST 1 MiB"; same_errlines '^> ' "POST 1 MiB request head"

note "-H 'Host: x' stays first; the rest of the head as curl's"
both -sv -A x -H 'X-A: 1' -H 'Host: example.test' -r 0-9 -u a:b -o /dev/null "$F/file/small.txt"
same_rc "-H Host"
same_errlines '^> ' "request head with -H Host"
[ "$(tr -d '\r' < "$TMP/u/err" | grep '^> ' | sed -n 2p)" = '> Host: example.test' ] || fail "-H Host is not the first field"

note "-w: variables as curl 7.88 prints them"
printf 'v=%%{http_version} s=%%{scheme} n=%%{num_connects} h=%%{num_headers} f=%%{filename_effective}\n' > "$TMP/wo.txt"
for d in c u; do cp "$TMP/wo.txt" "$TMP/$d/wo.txt"; done
both -s -L -o w.bin -w @wo.txt "$F/redirect/2"
same_rc "-w @file"; same_file out "-w @file (the file's newline dropped)"
[ "$(cat "$TMP/u/out")" = "v=1.1 s=HTTP n=1 h=4 f=w.bin" ] || fail "-w @file printed '$(cat "$TMP/u/out")'"
both -s -A x -o w.bin -w '%{url} %{method} %{http_code} %{content_type} %{size_download} %{size_request} %{time_appconnect} %{errormsg}|%{HTTP_CODE}|%{referer}|%header{content-type}|%{redirect_url}|%{exitcode}|\\\\|%x\n' "$H/small.txt"
same_rc "-w variables"; same_file out "-w variables"
both -s -A x -o w.bin -w '%{stderr}E:%{http_code}%{stdout}O:%{size_download}\n' "$F/file/small.txt"
same_rc "-w stdout/stderr"; same_file out "-w %{stdout}"; same_file err "-w %{stderr}"
both -s -o w.bin -w '%{onerror}failed %{exitcode}' "$F/file/small.txt"
same_rc "-w onerror"; same_file out "-w %{onerror} on success"
[ ! -s "$TMP/u/out" ] || fail "-w %{onerror} printed on success"
both -s -o w.bin -w '%{onerror}failed %{exitcode} %{http_code}' "http://10.9.21.1:7999/"
same_rc "-w onerror refused"; same_file out "-w %{onerror} on error"
both -sS -o w.bin -w '%{errormsg}' "http://10.9.21.1:7999/"
same_rc "refused"
for d in c u; do sed -E 's/after [0-9]+ ms/after N ms/; s/^(curl|uscurl): /X: /' "$TMP/$d/err" "$TMP/$d/out" > "$TMP/$d/refused"; done
same_file refused "exit 7 message and %{errormsg} (milliseconds aside)"
both -s -o w.bin -w '%{json}' "http://10.9.21.1:7999/"
same_rc "json refused"
/usr/bin/python3 - "$TMP/c/out" "$TMP/u/out" <<'PY' || fail "-w %{json} after a refused connection differs from curl's"
import json, re, sys
c, u = (json.load(open(p)) for p in sys.argv[1:3])
vary = {"curl_version", "local_ip", "local_port"}
bad = [k for k in c if k not in vary and not k.startswith("time_") and
       re.sub(r"after \d+ ms", "", str(c.get(k))) != re.sub(r"after \d+ ms", "", str(u.get(k)))]
for k in bad:
    print("  json %s: curl %r, uscurl %r" % (k, c.get(k), u.get(k)))
sys.exit(1 if bad else 0)
PY
both -s -A x -o w.bin -w '%{json}' "$F/file/small.txt"
same_rc "-w json"
/usr/bin/python3 - "$TMP/c/out" "$TMP/u/out" <<'PY' || fail "-w %{json} differs from curl's"
import json, sys
c, u = (json.load(open(p)) for p in sys.argv[1:3])
vary = {"curl_version", "local_ip", "local_port", "speed_download", "speed_upload"}
bad = [k for k in c if k not in vary and not k.startswith("time_") and c.get(k) != u.get(k)]
bad += [k for k in u if k not in c]
bad += [k for k in c if k not in u]
if list(c) != list(u):
    bad.append("key order")
for k in bad:
    print("  json %s: curl %r, uscurl %r" % (k, c.get(k), u.get(k)))
sys.exit(1 if bad else 0)
PY
both -s -o w.bin -w '%{header_json}' "$F/file/small.txt"
same_rc "-w header_json"
for d in c u; do grep -v '^"date"' "$TMP/$d/out" > "$TMP/$d/hj"; done
same_file hj "-w %{header_json} (date aside)"

note "the meter: on stderr when stdout is redirected; final columns as curl's for a 2.5 s body"
both "$F/slow/mid.bin/120000"
same_rc "slow body"; same_file out "slow body"
cmp -s "$TMP/u/out" "$TMP/www/mid.bin" || fail "the slow body differs"
for d in c u; do
	grep -q '% Total    % Received % Xferd' "$TMP/$d/err" || fail "$d: no meter heading with stdout redirected"
	tr '\r' '\n' < "$TMP/$d/err" | grep -v '^$' | tail -1 > "$TMP/$d/final"
done
# Columns: % total % rcvd % xferd dload upload ttotal tspent tleft current
read -r cp ct crp cr cxp cx cdl cul ctt cts ctl ccur < "$TMP/c/final"
read -r up ut urp ur uxp ux udl uul utt uts utl ucur < "$TMP/u/final"
[ "$up $ut $urp $ur $uxp $ux $uul" = "$cp $ct $crp $cr $cxp $cx $cul" ] ||
	fail "meter final sizes: uscurl '$(cat "$TMP/u/final")', curl '$(cat "$TMP/c/final")'"
[ "$utt $uts $utl" = "$ctt $cts $ctl" ] ||
	fail "meter final Total/Spent/Left: uscurl '$utt $uts $utl', curl '$ctt $cts $ctl'"
[ "$utl" = "--:--:--" ] || fail "meter final Left '$utl', expected --:--:-- (curl's estimate minus time spent)"
# 120000 B/s = 117k: curl's Current is the rate over the last seconds, not a last-instant burst.
for v in "$ccur" "$ucur"; do
	case "$v" in 1[01][0-9]k|12[0-9]k) ;; *) fail "meter final Current '$v' (curl $ccur, uscurl $ucur), expected about 117k";; esac
done

note "--limit-rate: 300000 bytes at 100K take about 2.9 s (uscurl only: curl 7.88.1 does not limit a body this small)"
t0=$(date +%s%N)
ip netns exec "$ns" "$BIN/uscurl" $Q -s --limit-rate 100K -o "$TMP/u/lr.bin" "$F/file/mid.bin" || fail "--limit-rate exit $?"
t1=$(date +%s%N)
cmp -s "$TMP/u/lr.bin" "$TMP/www/mid.bin" || fail "--limit-rate: the body differs"
ms=$(( (t1 - t0) / 1000000 ))
[ $ms -ge 2300 ] || fail "--limit-rate 100K moved 300000 bytes in $ms ms (at most 102400 B/s means >= 2900 ms)"

note "messages for bad arguments and unreadable files, as curl's (warnings wrapped at 79 columns)"
for args in "-d @/nonexistent $F/echo" "-sS -T /nonexistent $F/echo" "-sS -o /nonexistent/x $F/file/small.txt" \
	"--retry x $F/echo" "--retry -1 $F/echo" "-m x $F/echo" "--connect-timeout -1 $F/echo" \
	"--limit-rate x $F/echo" "-C x $F/echo" "-s -r 5 $F/file/small.txt" "-r 5 -s -o /dev/null $F/file/small.txt" \
	"--data-urlencode a@/nonexistent -s $F/echo" "-s -w @/nonexistent $F/file/small.txt"; do
	# shellcheck disable=SC2086
	both $args
	same_rc "$args"; same_file out "$args: stdout"
	for d in c u; do
		tr '\r' '\n' < "$TMP/$d/err" | grep -v '^ \|^$\|^100' |
			sed -E "s/^(curl|uscurl): //; s/(curl|uscurl)/X/g; s/ or 'X --manual'//" > "$TMP/$d/msg"
	done
	same_file msg "$args: messages"
done

note "--compressed is refused with a reason"
ip netns exec "$ns" "$BIN/uscurl" $Q --compressed "$F/file/small.txt" > "$TMP/out" 2> "$TMP/err"
rc=$?
[ $rc = 2 ] || fail "--compressed: exit $rc, expected 2"
grep -q 'zlib' "$TMP/err" || fail "--compressed: the message does not say why: $(cat "$TMP/err")"
echo ok
