# preload_lib.sh — shared by tests/net/t_preload_*.sh (source after lib.sh).
# preload_setup TAG NET — a namespace with tap0 at 10.9.NET.1/24 (the
# kernel's side) and $TMP/host.yaml putting the stack at 10.9.NET.2 on it;
# sets ns, SHIM, KADDR, UADDR. shim CMD... runs CMD in the namespace with
# the shim preloaded. In a sanitizer build the shim carries the sanitizer:
# its runtime is preloaded first, as an uninstrumented program needs.
need_root
SHIM=$(cd "$BIN/../lib" 2>/dev/null && pwd)/libustack-preload.so
[ -f "$SHIM" ] || fail "$SHIM is not built (make)"
SHIM_PRELOAD=
for rt in libasan libtsan libubsan; do   # ASan's runtime must come first
	p=$(ldd "$SHIM" | awk -v r="$rt" '$1 ~ "^" r { print $3 }')
	[ -n "$p" ] && SHIM_PRELOAD="$SHIM_PRELOAD$p "
done
SHIM_PRELOAD="$SHIM_PRELOAD$SHIM"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}

preload_setup() {
	ns=$(new_ns "$1")
	KADDR=10.9.$2.1
	UADDR=10.9.$2.2
	ip netns exec "$ns" ip tuntap add dev tap0 mode tap || fail "ip tuntap add"
	ip netns exec "$ns" ip addr add "$KADDR/24" dev tap0
	ip netns exec "$ns" ip link set tap0 up
	cat > "$TMP/host.yaml" <<YAML
interfaces:
  eth0: {backend: tap, device: tap0, addresses: [$UADDR/24], macaddress: "02:00:0a:09:$(printf %02x "$2"):02"}
YAML
}

shim() {
	ip netns exec "$ns" timeout 60 env LD_PRELOAD="$SHIM_PRELOAD" USTACK_CONFIG="$TMP/host.yaml" "$@"
}

# shim_start LOG CMD... — like start, with the shim preloaded.
shim_start() {
	local log=$1; shift
	start "$ns" "$log" env LD_PRELOAD="$SHIM_PRELOAD" USTACK_CONFIG="$TMP/host.yaml" "$@"
}

sha() { sha256sum < "$1" | cut -d' ' -f1; }
