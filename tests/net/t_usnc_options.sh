#!/usr/bin/env bash
# usnc's nc options side by side with the kernel's nc (netcat-openbsd
# 1.219) against the same kernel peers: -p as a client's source port, -s,
# -n, -4, -q, the -l forms (-l -p PORT, -l PORT, -l ADDR PORT), -z with
# ranges, lists and service names (same messages and exit status as nc),
# -zu to a closed UDP port (exit 1) and an open one, standard output
# closed (| head -c 10: exit 0, no message), -v against -vv.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd nc socat

ns=$(new_ns opt)
tap_up "$ns" tap0 10.9.22.1/24
Q="--tap tap0 --addr 10.9.22.2/24 --addr 10.9.22.3/24"
K=10.9.22.1
usnc() { ip netns exec "$ns" timeout 20 "$BIN/usnc" "$@"; }
knc() { ip netns exec "$ns" timeout 20 nc "$@"; }
listening() { ip netns exec "$ns" ss -tln | grep -q ":$2 "; }

# server_log PORT: a kernel nc -lvn on PORT whose log names the client.
server_log() {
	start "$ns" "$TMP/srv$1.log" sh -c "exec nc -lvn -p $1 > '$TMP/srv$1.out' < /dev/null"
	wait_for 5 "nc -l on $1" listening "$K" "$1"
}

note "-p SRCPORT and -s SRCADDR set the client's source (nc as reference)"
server_log 7400; k=$LAST_PID
echo ref | knc -N -p 40400 $K 7400 || fail "reference nc -p exit $?"
wait "$k"
grep -q "^Connection received on $K 40400\$" "$TMP/srv7400.log" || { cat "$TMP/srv7400.log"; fail "reference: nc -p did not set the source port"; }
server_log 7401; k=$LAST_PID
echo hi | usnc -N -p 40401 $Q $K 7401 || fail "usnc -p exit $?"
wait "$k"
grep -q "^Connection received on 10.9.22.[23] 40401\$" "$TMP/srv7401.log" ||
	{ cat "$TMP/srv7401.log"; fail "usnc -p 40401: the server saw another source port"; }
server_log 7402; k=$LAST_PID
echo hi | usnc -N -s 10.9.22.3 -p 40402 $Q $K 7402 || fail "usnc -s exit $?"
wait "$k"
grep -q "^Connection received on 10.9.22.3 40402\$" "$TMP/srv7402.log" ||
	{ cat "$TMP/srv7402.log"; fail "usnc -s 10.9.22.3: the server saw another source"; }
[ "$(cat "$TMP/srv7402.out")" = hi ] || fail "usnc -s: data not delivered"

note "-n: numeric only; -4 accepted"
knc -zn nosuch.invalid 80 2> "$TMP/ref.err"; ref_rc=$?
usnc -zn -4 $Q nosuch.invalid 80 2> "$TMP/u.err"; rc=$?
cat "$TMP/ref.err" "$TMP/u.err"
[ $rc -eq $ref_rc ] || fail "usnc -n with a name: exit $rc, nc $ref_rc"
grep -q 'getaddrinfo for host "nosuch.invalid" port 80' "$TMP/u.err" || fail "usnc -n looked the name up or said something else"

note "-q SECS: quit SECS after stdin EOF, against a server that stays"
start "$ns" "$TMP/stay.log" sh -c "sleep 8 | exec nc -l -p 7403 > '$TMP/stay.out'"
wait_for 5 "nc -l on 7403" listening "$K" 7403
t0=$(date +%s%N)
echo quit-test | usnc -q 1 $Q $K 7403; rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ $rc -eq 0 ] || fail "usnc -q 1 exit $rc"
[ $ms -ge 900 ] && [ $ms -lt 4000 ] || fail "usnc -q 1 took $ms ms (nc: about 1 s after stdin EOF)"
wait_for 5 "the server to get the line" grep -q quit-test "$TMP/stay.out"
start "$ns" "$TMP/stay2.log" sh -c "sleep 8 | exec nc -l -p 7404 > /dev/null"
wait_for 5 "nc -l on 7404" listening "$K" 7404
echo x | ip netns exec "$ns" timeout 3 "$BIN/usnc" $Q $K 7404; rc=$?
[ $rc -eq 124 ] || fail "without -q usnc exit $rc: it should wait for the server, as nc"

note "-l forms: -l -p PORT, -l PORT, -l ADDR PORT"
for form in "-p 7410" "7411" "10.9.22.3 7412"; do
	port=${form##* }
	start "$ns" "$TMP/l$port.log" sh -c "exec '$BIN/usnc' -v -l $form $Q > '$TMP/l$port.out' < /dev/null"
	u=$LAST_PID
	wait_for 5 "usnc -l $form" grep -q '^Listening on' "$TMP/l$port.log"
	dst=10.9.22.2
	case "$form" in 10.9.22.3*)
		grep -q "^Listening on 10.9.22.3 $port\$" "$TMP/l$port.log" || { cat "$TMP/l$port.log"; fail "usnc -l $form: wrong listening line"; }
		knc -z $dst $port && fail "usnc -l 10.9.22.3 $port also accepted on 10.9.22.2"
		dst=10.9.22.3 ;;
	*) grep -q "^Listening on 0.0.0.0 $port\$" "$TMP/l$port.log" || { cat "$TMP/l$port.log"; fail "usnc -l $form: wrong listening line"; } ;;
	esac
	echo "form $form" | knc -N $dst $port || fail "kernel nc to usnc -l $form exit $?"
	wait "$u" || fail "usnc -l $form exit $?"
	[ "$(cat "$TMP/l$port.out")" = "form $form" ] || fail "usnc -l $form received '$(cat "$TMP/l$port.out")'"
	grep -q "^Connection received on $K [0-9]*\$" "$TMP/l$port.log" || fail "usnc -l: no 'Connection received' line"
done

note "-z: a range, a list and a service name, messages and exit status as nc"
start "$ns" "$TMP/k8000.log" nc -lk -p 8000
start "$ns" "$TMP/k80.log" nc -lk -p 80
wait_for 5 "nc -lk on 8000 and 80" sh -c "ip netns exec $ns ss -tln | grep -q ':8000 ' && ip netns exec $ns ss -tln | grep -q ':80 '"
for args in "7999-8002" "8002-7999" "7999 8000 http" "7998 7999" "-n 80"; do
	knc -zv $K $args > "$TMP/zref" 2>&1; ref_rc=$?
	usnc -zv $Q $K $args > "$TMP/zu" 2>&1; rc=$?
	sed -i 's/^nc: /usnc: /' "$TMP/zref"
	[ $rc -eq $ref_rc ] || { cat "$TMP/zref" "$TMP/zu"; fail "usnc -zv $args exit $rc, nc $ref_rc"; }
	diff "$TMP/zref" "$TMP/zu" || fail "usnc -zv $args: messages differ from nc's (< nc, > usnc)"
	note "-zv $args: exit $rc, $(wc -l < "$TMP/zu") lines as nc"
done
usnc -z $Q $K 7998-7999 > "$TMP/zq" 2>&1 && fail "usnc -z with every port closed exit 0"
[ ! -s "$TMP/zq" ] || fail "usnc -z without -v printed: $(cat "$TMP/zq")"

note "-zu: a closed UDP port is a failure (nc -zuv: 1), an open one not"
knc -zuv $K 9999 2> /dev/null; ref_rc=$?
[ $ref_rc -eq 1 ] || fail "reference: nc -zuv to a closed port exit $ref_rc"
usnc -zu $Q $K 9999 2> "$TMP/zu.err"; rc=$?
[ $rc -eq 1 ] || { cat "$TMP/zu.err"; fail "usnc -zu to a closed UDP port exit $rc, expected 1"; }
start "$ns" "$TMP/udp.log" socat -u UDP4-RECV:9000,bind=$K -
wait_for 5 "socat on udp 9000" sh -c "ip netns exec $ns ss -uln | grep -q ':9000 '"
usnc -zuv -w 1 $Q $K 9000 2> "$TMP/zu2.err"; rc=$?
[ $rc -eq 0 ] || { cat "$TMP/zu2.err"; fail "usnc -zu to an open UDP port exit $rc"; }
grep -q "^Connection to $K 9000 port \[udp/\*\] succeeded!\$" "$TMP/zu2.err" || fail "no udp success line"
wait_for 5 "the probe datagrams to arrive" grep -q X "$TMP/udp.log"

note "stdout closed (| head -c 10): exit 0, nothing on stderr (nc: the same)"
head -c 2000000 /dev/urandom > "$TMP/big"
for who in nc usnc; do
	start "$ns" "$TMP/big-$who.log" sh -c "exec nc -l -p 7420 < '$TMP/big'"
	wait_for 5 "nc -l on 7420" listening "$K" 7420
	if [ $who = nc ]; then cmd="nc $K 7420"; else cmd="$BIN/usnc $Q $K 7420"; fi
	ip netns exec "$ns" timeout 20 $cmd < /dev/null 2> "$TMP/head.err" | head -c 10 > "$TMP/head.out"
	rc=${PIPESTATUS[0]}
	[ $rc -eq 0 ] || fail "$who | head -c 10: exit $rc"
	[ ! -s "$TMP/head.err" ] || fail "$who | head -c 10 said: $(cat "$TMP/head.err")"
	[ "$(wc -c < "$TMP/head.out")" -eq 10 ] || fail "$who | head -c 10: head got $(wc -c < "$TMP/head.out") bytes"
	stop_pid "$LAST_PID" >/dev/null 2>&1
done

note "usage text: -v is messages, -vv adds the frame trace"
"$BIN/usnc" -h > "$TMP/usage"
grep -q -- '^  -v  .*stderr' "$TMP/usage" && grep -q -- '^  -vv .*frame' "$TMP/usage" || { cat "$TMP/usage"; fail "usage does not tell -v from -vv"; }
grep -q -- 'one line per frame in and out' "$TMP/usage" && fail "usage still says -v traces frames"
usnc -zv $Q $K 8000 2> "$TMP/v1"
usnc -zvv $Q $K 8000 2> "$TMP/v2"
grep -q 'succeeded' "$TMP/v1" && grep -q 'succeeded' "$TMP/v2" || fail "-v/-vv: no success message"
[ "$(wc -l < "$TMP/v1")" -eq 1 ] || { cat "$TMP/v1"; fail "-v printed more than nc's one line"; }
grep -q "$K.8000" "$TMP/v2" || { cat "$TMP/v2"; fail "-vv printed no frame to $K.8000"; }
echo ok
