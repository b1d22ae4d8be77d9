#!/usr/bin/env bash
# t_tcp_transfer.sh with `offload: false` on the TAP: the plain path
# (no virtio-net header, every checksum computed and verified by the stack).
XFER_OFFLOAD=false exec bash "$(dirname "$0")/t_tcp_transfer.sh"
