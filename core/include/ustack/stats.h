/*
 * ustack/stats.h — counters, one list for every layer.
 *
 * US_STAT_LIST is an X-macro: X(id, layer, "description"). The ids become
 * enum us_stat_id; the names and layers are what us_stack_stats_print()
 * prints, so the list and its printout cannot drift apart.
 */
#ifndef USTACK_STATS_H
#define USTACK_STATS_H

#define US_STAT_LIST(X) \
	X(ETH_RX_FRAMES,      "eth",  "frames received") \
	X(ETH_RX_BYTES,       "eth",  "bytes received") \
	X(ETH_TX_FRAMES,      "eth",  "frames sent") \
	X(ETH_TX_BYTES,       "eth",  "bytes sent") \
	X(ETH_DROP_SHORT,     "eth",  "frames dropped: shorter than the Ethernet header") \
	X(ETH_DROP_NOT_OURS,  "eth",  "frames dropped: destination MAC not ours") \
	X(ETH_DROP_TYPE,      "eth",  "frames dropped: unsupported EtherType") \
	X(ETH_DROP_NOBUF,     "eth",  "frames dropped: buffer pool empty") \
	X(ETH_TX_ERRORS,      "eth",  "frames the backend failed to send") \
	X(ARP_RX,             "arp",  "packets received") \
	X(ARP_RX_REQUESTS,    "arp",  "requests received") \
	X(ARP_RX_REPLIES,     "arp",  "replies received") \
	X(ARP_TX_REQUESTS,    "arp",  "requests sent") \
	X(ARP_TX_REPLIES,     "arp",  "replies sent") \
	X(ARP_TX_GRATUITOUS,  "arp",  "gratuitous announcements sent") \
	X(ARP_DROP_MALFORMED, "arp",  "packets dropped: malformed") \
	X(ARP_DROP_NOT_OURS,  "arp",  "requests ignored: target not ours") \
	X(ARP_CACHE_HITS,     "arp",  "next-hop lookups answered by the cache") \
	X(ARP_CACHE_MISSES,   "arp",  "next-hop lookups that had to resolve") \
	X(ARP_RESOLVE_FAILED, "arp",  "resolutions that failed after all retries") \
	X(ARP_QUEUE_DROPS,    "arp",  "packets dropped: pending queue full or failed") \
	X(ARP_CACHE_FULL,     "arp",  "resolutions refused: cache full") \
	X(IP_RX,              "ip",   "packets received") \
	X(IP_DELIVERED,       "ip",   "packets delivered to upper layers") \
	X(IP_TX,              "ip",   "packets sent") \
	X(IP_TX_TSO,          "ip",   "TCP segments above the MTU handed to the device to cut (TSO)") \
	X(IP_TX_GSO_SW,       "ip",   "TCP segments cut from a large one in software (no TSO, or next hop unresolved)") \
	X(IP_DROP_SHORT,      "ip",   "dropped: shorter than the header") \
	X(IP_DROP_VERSION,    "ip",   "dropped: version not 4") \
	X(IP_DROP_IHL,        "ip",   "dropped: bad header length") \
	X(IP_DROP_CHECKSUM,   "ip",   "dropped: bad header checksum") \
	X(IP_DROP_LENGTH,     "ip",   "dropped: total length beyond the frame or below the header") \
	X(IP_DROP_NOT_OURS,   "ip",   "dropped: destination not ours (forwarding off)") \
	X(IP_DROP_SRC,        "ip",   "dropped: source address broadcast or multicast") \
	X(IP_DROP_MARTIAN,    "ip",   "dropped on a wire interface: from 127/8 or our own address, or to 127/8") \
	X(IP_DROP_PROTO,      "ip",   "dropped: unknown protocol") \
	X(IP_NO_ROUTE,        "ip",   "sends refused: no route") \
	X(IP_FRAG_RX,         "ip",   "fragments received") \
	X(IP_FRAG_DUP,        "ip",   "fragments dropped: exact duplicate") \
	X(IP_REASM_OK,        "ip",   "datagrams reassembled") \
	X(IP_REASM_OVERLAP,   "ip",   "datagrams dropped: overlapping fragments") \
	X(IP_REASM_TOO_BIG,   "ip",   "datagrams dropped: reassembled size beyond 65535") \
	X(IP_REASM_TIMEOUT,   "ip",   "datagrams dropped: reassembly timed out") \
	X(IP_REASM_LIMIT,     "ip",   "fragments dropped: reassembly limits reached") \
	X(IP_REASM_EVICTED,   "ip",   "datagrams dropped: evicted, the oldest, for a new one (table full)") \
	X(IP_REASM_SRC_EVICTED, "ip", "datagrams dropped: evicted, a source's oldest, for its new one (share used)") \
	X(IP_REASM_BAD,       "ip",   "fragments dropped: inconsistent offsets or lengths") \
	X(IP_FRAG_CREATED,    "ip",   "fragments created on output") \
	X(IP_FRAG_DF,         "ip",   "sends refused: too big with DF (EMSGSIZE)") \
	X(IP_FORWARDED,       "ip",   "forwarded: packets sent on towards another host") \
	X(IP_FWD_TTL,         "ip",   "not forwarded: TTL exceeded (ICMP time exceeded)") \
	X(IP_FWD_NO_ROUTE,    "ip",   "not forwarded: no route (ICMP net unreachable)") \
	X(IP_FWD_NEED_FRAG,   "ip",   "not forwarded: too big with DF (ICMP fragmentation needed)") \
	X(IP_FWD_BCAST,       "ip",   "not forwarded: link broadcast, broadcast or multicast destination") \
	X(IP_FWD_MARTIAN,     "ip",   "not forwarded: martian source or destination (0/8, 240/4)") \
	X(IP_FWD_NOBUF,       "ip",   "not forwarded: buffer pool empty or output failed") \
	X(IP_FWD_FRAGS,       "ip",   "fragments created while forwarding") \
	X(ICMP_RX,            "icmp", "messages received") \
	X(ICMP_TX,            "icmp", "messages sent") \
	X(ICMP_RX_ECHO_REQ,   "icmp", "echo requests received") \
	X(ICMP_TX_ECHO_REP,   "icmp", "echo replies sent") \
	X(ICMP_TX_ECHO_REQ,   "icmp", "echo requests sent") \
	X(ICMP_RX_ECHO_REP,   "icmp", "echo replies received") \
	X(ICMP_RX_UNREACH,    "icmp", "destination unreachable received") \
	X(ICMP_RX_TIMEEXC,    "icmp", "time exceeded received") \
	X(ICMP_TX_UNREACH,    "icmp", "destination unreachable sent") \
	X(ICMP_TX_TIMEEXC,    "icmp", "time exceeded sent") \
	X(ICMP_TX_REDIRECT,   "icmp", "redirects sent") \
	X(ICMP_RX_OTHER,      "icmp", "other types received and ignored") \
	X(ICMP_DROP_SHORT,    "icmp", "dropped: truncated") \
	X(ICMP_DROP_CHECKSUM, "icmp", "dropped: bad checksum") \
	X(ICMP_RATELIMITED,   "icmp", "errors not sent: rate limit") \
	X(ICMP_ECHO_NO_ENDPT, "icmp", "echo replies with no endpoint waiting") \
	X(ICMP_ECHO_Q_FULL,   "icmp", "echo replies dropped: endpoint queue full") \
	X(UDP_RX,             "udp",  "datagrams received") \
	X(UDP_TX,             "udp",  "datagrams sent") \
	X(UDP_DROP_SHORT,     "udp",  "dropped: truncated or bad length") \
	X(UDP_DROP_CHECKSUM,  "udp",  "dropped: bad checksum") \
	X(UDP_NO_PORT,        "udp",  "dropped: no socket on the port") \
	X(UDP_RCVBUF_FULL,    "udp",  "dropped: receive queue full") \
	X(UDP_ERRQ_FULL,      "udp",  "errors not queued: IP_RECVERR queue full") \
	X(DHCP_TX_DISCOVER,   "dhcp", "DHCPDISCOVER sent") \
	X(DHCP_TX_REQUEST,    "dhcp", "DHCPREQUEST sent (selecting)") \
	X(DHCP_TX_RENEW,      "dhcp", "DHCPREQUEST sent to renew (unicast, after T1)") \
	X(DHCP_TX_REBIND,     "dhcp", "DHCPREQUEST sent to rebind (broadcast, after T2)") \
	X(DHCP_TX_DECLINE,    "dhcp", "DHCPDECLINE sent (offered address in use)") \
	X(DHCP_TX_RELEASE,    "dhcp", "DHCPRELEASE sent") \
	X(DHCP_RX_OFFER,      "dhcp", "DHCPOFFER accepted") \
	X(DHCP_RX_ACK,        "dhcp", "DHCPACK accepted") \
	X(DHCP_RX_NAK,        "dhcp", "DHCPNAK accepted") \
	X(DHCP_BOUND,         "dhcp", "leases bound (a new address applied)") \
	X(DHCP_RENEWED,       "dhcp", "leases extended by renewing or rebinding") \
	X(DHCP_EXPIRED,       "dhcp", "leases expired unrenewed") \
	X(DHCP_DROP_MALFORMED, "dhcp", "messages dropped: malformed (RFC 2131/2132)") \
	X(DHCP_DROP_NOT_OURS, "dhcp", "messages ignored: other client, transaction or state") \
	X(TCP_ACTIVE_OPENS,   "tcp",  "active connection openings") \
	X(TCP_PASSIVE_OPENS,  "tcp",  "passive connection openings") \
	X(TCP_ESTABLISHED,    "tcp",  "connections established") \
	X(TCP_RESETS_SENT,    "tcp",  "connections aborted with a reset") \
	X(TCP_TIMEOUTS,       "tcp",  "connections timed out") \
	X(TCP_RX_SEGS,        "tcp",  "segments received") \
	X(TCP_TX_SEGS,        "tcp",  "segments sent") \
	X(TCP_RX_BYTES,       "tcp",  "bytes received in order") \
	X(TCP_RETRANS_SEGS,   "tcp",  "segments retransmitted") \
	X(TCP_RTO_FIRED,      "tcp",  "retransmission timeouts") \
	X(TCP_SPURIOUS_RTO,   "tcp",  "retransmission timeouts found spurious (F-RTO)") \
	X(TCP_FAST_RETRANS,   "tcp",  "fast retransmits") \
	X(TCP_SACK_RECOVERIES, "tcp", "loss recoveries by SACK (RFC 6675)") \
	X(TCP_LIMITED_TRANSMIT, "tcp", "segments sent by limited transmit (RFC 3042)") \
	X(TCP_DSACK_RX,       "tcp",  "D-SACK blocks received (RFC 2883)") \
	X(TCP_SACK_INVALID,   "tcp",  "SACK blocks ignored: outside SND.UNA..SND.NXT") \
	X(TCP_RACK_LOST,      "tcp",  "segments marked lost by RACK (RFC 8985)") \
	X(TCP_TLP_PROBES,     "tcp",  "tail loss probes sent (RFC 8985)") \
	X(TCP_TLP_RECOVERIES, "tcp",  "losses repaired by a tail loss probe") \
	X(TCP_DUP_ACKS,       "tcp",  "duplicate ACKs received") \
	X(TCP_DELAYED_ACKS,   "tcp",  "delayed ACKs sent") \
	X(TCP_OOO_SEGS,       "tcp",  "out-of-order segments queued") \
	X(TCP_OOO_DROPS,      "tcp",  "out-of-order segments dropped: queue full") \
	X(TCP_OUT_OF_WINDOW,  "tcp",  "segments outside the window (answered with ACK)") \
	X(TCP_PAWS_DROPS,     "tcp",  "segments dropped by PAWS") \
	X(TCP_CHALLENGE_ACKS, "tcp",  "challenge ACKs sent (RFC 5961)") \
	X(TCP_ACK_RATELIMITED, "tcp", "SYN-ACKs for duplicate SYNs not sent: rate limit") \
	X(TCP_DROP_SYNFIN,    "tcp",  "dropped: SYN and FIN both set") \
	X(TCP_RX_RST,         "tcp",  "resets received and accepted") \
	X(TCP_ICMP_OUT_OF_WINDOW, "tcp", "ICMP errors ignored: quoted sequence not in flight") \
	X(TCP_PMTU_REDUCED,   "tcp",  "path MTU lowered by fragmentation needed (RFC 1191)") \
	X(TCP_TX_RST,         "tcp",  "resets sent") \
	X(TCP_WINDOW_PROBES,  "tcp",  "zero-window probes sent") \
	X(TCP_KEEPALIVE_PROBES, "tcp", "keepalive probes sent") \
	X(TCP_RING_GROWS,     "tcp",  "send/receive rings allocated or grown (amortised: doubling)") \
	X(TCP_RING_RELEASES,  "tcp",  "empty send/receive rings released after idle time") \
	X(TCP_RING_NOMEM,     "tcp",  "data dropped or refused: no memory to grow a ring") \
	X(TCP_ARRAY_ALLOCS,   "tcp",  "out-of-order, SACK scoreboard or RACK log arrays allocated at first use") \
	X(TCP_ARRAY_NOMEM,    "tcp",  "such arrays not allocated, no memory: the connection went on without") \
	X(TCP_LISTEN_OVERFLOW, "tcp", "SYNs dropped: listen queue full") \
	X(TCP_SYNCOOKIES_SENT, "tcp", "SYN cookies sent (SYN queue full)") \
	X(TCP_SYNCOOKIES_RECV, "tcp", "valid SYN cookies received (connections made)") \
	X(TCP_SYNCOOKIES_FAILED, "tcp", "invalid SYN cookies received (answered with RST)") \
	X(TCP_SYNCOOKIES_DATA_DROPPED, "tcp", "data or FIN not proving a SYN cookie while cookies are in use (dropped, no RST: the peer resends its first segment)") \
	X(TCP_NO_SOCKET,      "tcp",  "segments for no connection (answered with RST)") \
	X(TCP_DROP_HANDSHAKING, "tcp", "dropped: their connection was still being made by another thread") \
	X(TCP_DROP_SHORT,     "tcp",  "dropped: truncated or bad data offset") \
	X(TCP_DROP_CHECKSUM,  "tcp",  "dropped: bad checksum")

enum us_stat_id {
#define US_STAT_ENUM(id, layer, desc) US_STAT_##id,
	US_STAT_LIST(US_STAT_ENUM)
#undef US_STAT_ENUM
	US_STAT__COUNT
};

/*
 * Per-interface counters (as `ip -s link` shows them): X(id, "description").
 * Frames counted here are also in the stack-wide eth counters.
 */
#define US_IFSTAT_LIST(X) \
	X(RX_FRAMES,  "frames received") \
	X(RX_BYTES,   "bytes received") \
	X(RX_DROPPED, "frames dropped on input (short, not our MAC, unsupported type)") \
	X(TX_FRAMES,  "frames sent") \
	X(TX_BYTES,   "bytes sent") \
	X(TX_ERRORS,  "frames the backend failed to send") \
	X(FORWARDED,  "packets received here and forwarded (router)") \
	X(FWD_DROPPED, "packets received here for another host dropped silently (broadcast, martian)") \
	X(FWD_ERRORS, "packets received here not forwarded with an ICMP error (TTL, no route, DF, no buffer)")

enum us_ifstat_id {
#define US_IFSTAT_ENUM(id, desc) US_IFSTAT_##id,
	US_IFSTAT_LIST(US_IFSTAT_ENUM)
#undef US_IFSTAT_ENUM
	US_IFSTAT__COUNT
};
const char *us_ifstat_desc(enum us_ifstat_id id);

/* "eth", "ip", ... and the description, for printing. */
const char *us_stat_layer(enum us_stat_id id);
const char *us_stat_desc(enum us_stat_id id);
/* The id's name in lower case, e.g. "ip_drop_checksum". */
const char *us_stat_name(enum us_stat_id id);

#endif /* USTACK_STATS_H */
