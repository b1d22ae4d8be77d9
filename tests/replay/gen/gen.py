#!/usr/bin/python3
"""
gen.py -- (re)build the replay scenarios of tests/replay/ from scenarios.py.

For each scenario: write host.yaml and app.yaml, let the scripted peer and
the stack run to a fixed point (replaylib.solve), run the scenario's checks
of the stack's behaviour on the final output, and only if they pass write
in.pcap and expected.pcap. A failed check writes nothing and is reported:
an output that breaks the RFC is a bug to fix, not an expectation to bless.

    /usr/bin/python3 tests/replay/gen/gen.py [--usreplay build/bin/usreplay] [NAME ...]

Also rebuilds tests/replay/broken/ (a copy of one scenario with one byte of
its expected output changed, which usreplay must reject).
"""

import argparse
import os
import shutil
import struct
import sys

sys.dont_write_bytecode = True     # keep tests/replay/gen free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import replaylib  # noqa: E402
import scenarios  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPLAY = os.path.dirname(HERE)
ROOT = os.path.dirname(os.path.dirname(REPLAY))

BROKEN_FROM = "tcp_passive_open"
BROKEN_FRAME = 3        # 1-based: the SYN-ACK
BROKEN_OFFSET = 45      # Ethernet 14 + IP 20 + 11: the low byte of the TCP ack number


def host_yaml(sc):
    extra = sc.host.strip("\n")
    return ("# %s: host config (usreplay puts eth0 on its own wire; seed and MAC fix the output)\n"
            "stack:\n"
            "  log_level: error\n"
            "  seed: 1\n"
            "interfaces:\n"
            "  eth0:\n"
            "    backend: pair\n"
            "    device: replay\n"
            "    macaddress: %s\n"
            "    addresses: [%s/24]\n" % (sc.name, replaylib.STACK_MAC, replaylib.STACK_IP)
            + (extra + "\n" if extra else ""))


def app_yaml(sc):
    head = "".join("# " + line + "\n" for line in sc.doc.strip().splitlines())
    body = "\n".join(line for line in sc.app.splitlines() if line.strip())
    return head + (body + "\n" if body else "")


def build(sc, usreplay, debug=None):
    d = os.path.join(REPLAY, sc.name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "host.yaml"), "w") as f:
        f.write(host_yaml(sc))
    with open(os.path.join(d, "app.yaml"), "w") as f:
        f.write(app_yaml(sc))
    frames, out, rc, msgs, out_pcap = replaylib.solve(sc, d, usreplay)
    if rc != 0:
        raise replaylib.CheckFailed("usreplay reported script errors:\n" + msgs)
    if debug:
        os.makedirs(debug, exist_ok=True)
        replaylib.write_pcap(os.path.join(debug, sc.name + ".in.pcap"), frames)
        with open(os.path.join(debug, sc.name + ".out.pcap"), "wb") as f:
            f.write(out_pcap)
    ctx = replaylib.Ctx(out)
    sc.check(ctx, out, frames[1:])
    replaylib.write_pcap(os.path.join(d, "in.pcap"), frames)
    # expected.pcap: the final run's output exactly as usreplay wrote it (virtual times).
    with open(os.path.join(d, "expected.pcap"), "wb") as f:
        f.write(out_pcap)
    return len(frames) - 1, len(out)


def build_broken():
    src = os.path.join(REPLAY, BROKEN_FROM)
    dst = os.path.join(REPLAY, "broken")
    os.makedirs(dst, exist_ok=True)
    for n in ("host.yaml", "app.yaml", "in.pcap"):
        shutil.copy(os.path.join(src, n), os.path.join(dst, n))
    with open(os.path.join(src, "expected.pcap"), "rb") as f:
        data = bytearray(f.read())
    # Walk the pcap records (24-byte file header, 16-byte record headers, little-endian
    # as usreplay writes them) to the frame, and flip one bit of the chosen byte.
    off = 24
    for _ in range(BROKEN_FRAME - 1):
        off += 16 + struct.unpack_from("<I", data, off + 8)[0]
    data[off + 16 + BROKEN_OFFSET] ^= 0x01
    with open(os.path.join(dst, "expected.pcap"), "wb") as f:
        f.write(data)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--usreplay", default=os.path.join(ROOT, "build", "bin", "usreplay"))
    ap.add_argument("--debug", metavar="DIR",
                    help="also write NAME.in.pcap and NAME.out.pcap there (even when a check "
                    "fails), for a look with usreplay -v or tshark")
    ap.add_argument("names", nargs="*")
    a = ap.parse_args()
    todo = [s for s in scenarios.ALL if not a.names or s.name in a.names]
    if a.names and len(todo) != len(a.names):
        known = {s.name for s in scenarios.ALL}
        sys.exit("unknown scenario(s): " + ", ".join(n for n in a.names if n not in known))
    failed = 0
    for sc in todo:
        try:
            nin, nout = build(sc, a.usreplay, a.debug)
            print("%-28s ok   (%d peer frames, %d stack frames)" % (sc.name, nin, nout))
        except Exception as e:  # noqa: BLE001 -- report, go on with the next scenario
            failed += 1
            print("%-28s FAILED: %s" % (sc.name, e))
    if not a.names or BROKEN_FROM in a.names:
        build_broken()
        print("%-28s rebuilt from %s (frame %d byte %d flipped)" % ("broken", BROKEN_FROM,
                                                                      BROKEN_FRAME, BROKEN_OFFSET))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
