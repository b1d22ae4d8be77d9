/*
 * tcp.h — TCP (RFC 9293) inside the stack: the control block, the
 * connection tables, and the functions the TCP files share.
 *
 *   tcp_table.c   demux tables, port binding, ISN (RFC 6528)
 *   tcp_input.c   segment arrival (RFC 9293 3.10.7, RFC 5961, RFC 7323 PAWS)
 *   tcp_output.c  segmentation, Nagle, windows, retransmission, RST
 *   tcp_timer.c   retransmit (RFC 6298), delayed ACK, persist, keepalive,
 *                 TIME_WAIT / FIN_WAIT_2
 *   tcp_cc.c      the congestion-control interface and NewReno (RFC 5681,
 *                 RFC 6582, RFC 6928)
 *   tcp_cubic.c   CUBIC (RFC 9438) with HyStart++ (RFC 9406), the default
 *   tcp_frto.c    F-RTO (RFC 5682): spurious retransmission timeouts undone
 *   tcp_info.c    TCP_INFO
 *   tcp_sock.c    the socket operations (connect, listen, send, recv, ...)
 *   tcp_sack.c    SACK blocks we send (RFC 2018, RFC 2883)
 *   tcp_recovery.c the sender's SACK scoreboard, RFC 6675 recovery, PRR
 *                 (RFC 6937), limited transmit (RFC 3042)
 *   tcp_rack.c    RACK-TLP (RFC 8985): time-based loss detection, tail loss probe
 *
 * Locking: a TCB has no lock of its own; it is guarded by its socket's
 * mutex (struct us_sock.lock). The tables have one rwlock (us_tcp.lock).
 * Order: socket lock -> us_tcp.lock; a child connection's lock -> its
 * listener's lock. Nothing sleeps holding a socket lock except on that
 * socket's own condition variable.
 */
#ifndef US_TCP_H
#define US_TCP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "route.h"
#include "timer.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"

struct us_stack;
struct us_netif;
struct us_sock;
struct us_tcb;

enum tcp_state {
	TCPS_CLOSED = 0,
	TCPS_LISTEN,
	TCPS_SYN_SENT,
	TCPS_SYN_RCVD,
	TCPS_ESTABLISHED,
	TCPS_FIN_WAIT_1,
	TCPS_FIN_WAIT_2,
	TCPS_CLOSE_WAIT,
	TCPS_CLOSING,
	TCPS_LAST_ACK,
	TCPS_TIME_WAIT,
};
const char *tcp_state_name(enum tcp_state s);

#define US_TCP_HASH        4096     /* port hash buckets */
#define US_TCP_EPH_PERTURB 256      /* connect()'s port-search counters (power of two) */
#define US_TCP_CONN_MIN    256      /* connection hash buckets at start (doubles as needed) */
#define US_TCP_CONN_MAX    (1u << 22)  /* ... up to this many */
#define US_TCP_OOO_MAX     32       /* out-of-order ranges kept per connection */
#define US_TCP_RTO_MAX_MS  120000   /* Linux TCP_RTO_MAX */
#define US_TCP_PERSIST_MAX_MS 60000
#define US_TCP_MIN_MSS     88       /* Linux TCP_MIN_MSS */
#define US_TCP_KEEPIDLE_S  7200     /* Linux defaults */
#define US_TCP_KEEPINTVL_S 75
#define US_TCP_KEEPCNT     9
#define US_TCP_FIN_TIMEOUT_S 60     /* orphaned FIN_WAIT_2 (tcp_fin_timeout) */
#define US_TCP_ORPHAN_PROBES 8      /* unanswered zero-window probes an orphan gets (tcp_orphan_retries) */
#define US_TCP_INVALID_RATELIMIT_MS 500 /* Linux tcp_invalid_ratelimit */
#define US_TCP_MAX_QUICKACKS 16     /* Linux TCP_MAX_QUICKACKS */
#define US_TCP_PAWS_IDLE_NS (24ULL * 24 * 3600 * US_NS_PER_SEC)   /* RFC 7323 5.5: 24 days */
#define US_TCP_REORDERING  3        /* RFC 5681 DupThresh, Linux tcp_reordering */
#define US_TCP_SB_MAX      32       /* SACKed ranges a sender's scoreboard keeps */
#define US_TCP_BATCH_ACK_MAX 65536 /* in-order bytes a receive batch leaves unACKed (GRO's 64 KB) */
#define US_TCP_XL_MAX      32       /* RACK's transmit log entries (tcp_rack.c) */
#define US_TCP_CC_PRIV     18       /* 64-bit words of congestion-control state
				     * (struct cubic is the largest: tcp_cubic.c) */

/*
 * A byte ring (send and receive buffers), grown on demand: cap is the
 * limit (SO_SNDBUF/SO_RCVBUF: what windows and free room count from),
 * size what is allocated now (0: no memory at all, buf NULL). Writes grow
 * it by doubling up to cap (tcb_ring_write), so a connection pays a
 * malloc only O(log(cap)) times between idle periods, never per segment;
 * an empty ring is released after US_TCP_RING_IDLE_MS without traffic
 * (TT_RINGS, tcp_timer.c).
 */
struct tcp_ring {
	uint8_t *buf;
	uint32_t cap;           /* limit */
	uint32_t size;          /* allocated bytes (positions are modulo size) */
	uint32_t head;          /* offset of the first byte */
	uint32_t len;           /* bytes held */
};
#define US_TCP_RING_MIN     256      /* the first allocation of a ring, at least */
#define US_TCP_RING_IDLE_MS 200      /* an empty ring that long is released */

/* What the core tells an algorithm besides ACKs and losses. */
enum tcp_cc_event {
	TCP_CC_RTO,             /* an RTO collapsed cwnd (after ssthresh was asked) */
	TCP_CC_IDLE_RESTART,    /* cwnd restarted from IW after idle (RFC 5681 4.1) */
};

/* Congestion control: growth and the response to loss (tcp_cc.c). */
struct us_tcp_cc_ops {
	const char *name;
	/* At the handshake (and when TCP_CONGESTION picks it on a live
	 * connection): cwnd = IW, ssthresh unset; cc_priv is zeroed before. */
	void (*init)(struct us_tcb *t);
	/* New data acked outside recovery: grow cwnd. */
	void (*cong_avoid)(struct us_tcb *t, uint32_t acked);
	/* Loss detected (3 dup ACKs or RTO): the new ssthresh. */
	uint32_t (*ssthresh)(struct us_tcb *t);
	/* Optional: an RTT sample (us), before the ACK's cong_avoid. */
	void (*rtt_sample)(struct us_tcb *t, uint64_t rtt_us);
	/* Optional: see enum tcp_cc_event. */
	void (*event)(struct us_tcb *t, enum tcp_cc_event ev);
	/* Optional: the last reduction was spurious (F-RTO): put back the
	 * algorithm's own state; the core restores cwnd and ssthresh. */
	void (*undo)(struct us_tcb *t);
};
extern const struct us_tcp_cc_ops us_tcp_newreno;
extern const struct us_tcp_cc_ops us_tcp_cubic;
const struct us_tcp_cc_ops *us_tcp_cc_find(const char *name);
/* cc_priv zeroed, then t->cc->init (at the handshake). */
void tcp_cc_init(struct us_tcb *t);
/* TCP_CONGESTION: switch algorithm; a live connection keeps cwnd and ssthresh. */
void tcp_cc_set(struct us_tcb *t, const struct us_tcp_cc_ops *cc);

enum tcp_timer_kind { TT_REXMIT = 0, TT_DELACK, TT_PERSIST, TT_KEEP, TT_2MSL, TT_RINGS, TT_LOSS,
		      TT__COUNT };
/* What TT_LOSS is armed for (tcp_rack.c). */
enum { TCP_LOSS_TIMER_RACK = 1, TCP_LOSS_TIMER_PTO = 2 };

/* Sequence space [start, end). */
struct tcp_range {
	uint32_t start, end;
};

/* RACK's transmit log: unacknowledged, unSACKed bytes and when they were sent. */
struct tcp_xseg {
	uint32_t start, end;
	uint32_t ts_us;                 /* send time, microseconds (32-bit clock) */
	uint8_t rexmit, lost;
};

struct us_tcb {
	/* Everything here is protected by sock->lock, except where a field says
	 * otherwise. A field that belongs to one connection (not a socket
	 * option) is reset in tcb_reset (tcp_table.c) when the connection ends. */
	struct us_sock *sock;
	enum tcp_state state;
	/* The 4-tuple: the tables read it under us_tcp.lock alone, so while the
	 * TCB is in a table it is written holding both sock->lock and us_tcp.lock
	 * (write): tcp_port_bind, tcp_set_laddr; before that, sock->lock alone. */
	uint32_t laddr, raddr;          /* network order */
	uint16_t lport, rport;          /* network order */

	/* Table membership: protected by us_tcp.lock. */
	struct us_tcb *conn_next;       /* 4-tuple hash chain */
	struct us_tcb *port_next;       /* local-port hash chain */
	bool in_conn, in_port;
	/* What the tables need to know of the state, also under us_tcp.lock, so
	 * demux and bind checks never read the socket-locked fields. */
	bool tbl_listen, tbl_timewait, tbl_reuse;
	bool tbl_shared;                /* connect() chose the port: chained in eph[], not
					 * port[], shared with connections to other peers */
	bool bind_explicit;             /* us_bind chose the port: it stays ours until close */

	/* Send side (RFC 9293 3.3.1). */
	uint32_t iss, snd_una, snd_nxt, snd_max, snd_wl1, snd_wl2;
	uint32_t snd_wnd;               /* bytes, scaled */
	uint32_t max_sndwnd;
	struct tcp_ring sndq;           /* bytes from snd_una (after the SYN) */
	bool fin_queued;                /* FIN follows the queued data */
	uint32_t fin_seq;               /* valid once the FIN was sent */
	bool fin_sent;

	/* Receive side. */
	uint32_t irs, rcv_nxt, rcv_adv; /* rcv_adv: right edge advertised */
	struct tcp_ring rcvq;           /* in-order bytes for the application; OOO bytes after them */
	/* The out-of-order ranges held in rcvq past its in-order bytes, sorted:
	 * [US_TCP_OOO_MAX], allocated at the first out-of-order segment
	 * (tcb_array_get), NULL before (see "Arrays allocated at first use"). */
	struct tcp_range *ooo;
	int nooo;
	bool ooo_fin;                   /* a FIN arrived out of order at ooo_fin_seq */
	uint32_t ooo_fin_seq;
	bool fin_rcvd;                  /* the peer's FIN is in sequence: EOF after rcvq */
	uint64_t rings_idle_at;         /* clock ns a ring last became empty (TT_RINGS) */

	/* Options. */
	uint16_t mss;                   /* send MSS: payload bytes per segment, options excluded */
	uint16_t peer_mss;
	uint16_t user_mss;              /* TCP_MAXSEG, 0 = none */
	uint32_t gso_max;               /* largest segment (IP header included) the route's
					 * interface cuts itself (TSO), 0: MSS-sized only;
					 * set with mss (tcp_set_mss) */
	uint8_t snd_wscale, rcv_wscale;
	bool ws_ok, ts_ok;
	bool sack_ok;                   /* SACK-permitted sent by both sides (RFC 2018 2) */
	uint32_t ts_recent;
	uint64_t ts_recent_at;          /* clock ns when ts_recent was set */
	uint32_t last_ack_sent;         /* RFC 7323 Last.ACK.sent: ack field of our last ACK */
	uint32_t ts_first;              /* TSval of our first SYN: no valid echo is older */

	/* RTT and RTO (RFC 6298), microseconds. */
	int64_t srtt_us, rttvar_us;
	bool have_rtt;
	uint64_t rto_us;
	int backoff;                    /* consecutive RTO expirations */
	bool rtt_timing;                /* Karn: timing one segment */
	uint32_t rtt_seq;
	uint64_t rtt_start;
	uint32_t min_rtt_us;            /* smallest RTT sample of the connection, 0 = none */

	/* SACK blocks we report (RFC 2018 4, tcp_sack.c): one sequence number
	 * inside each out-of-order range reported, the range changed last
	 * first; each stands for the ooo[] range that holds it when an ACK is
	 * built. And a duplicate for the next ACK's first block (RFC 2883). */
	uint32_t sack_recent[TCP_SACK_MAX];
	int nsack_recent;
	bool dsack;
	uint32_t dsack_start, dsack_end;

	/* The sender's SACK scoreboard (RFC 6675 terms, tcp_recovery.c): the
	 * SACKed ranges above SND.UNA (HighACK), sorted, disjoint, not
	 * touching; HighData is snd_max. [US_TCP_SB_MAX], allocated at the
	 * first SACK block (tcb_array_get), NULL before. */
	struct tcp_range *sb;
	int nsb;
	uint32_t sb_sacked;             /* bytes in sb[] */
	/* RFC 6675 loss recovery (sack_recovery) with PRR (RFC 6937). */
	bool sack_recovery;             /* in_recovery, by RFC 6675 */
	uint32_t high_rxt;              /* HighRxt: retransmitted below this (exclusive) */
	uint32_t rescue_rxt;            /* RescueRxt (NextSeg rule 4) */
	uint32_t lost_mark;             /* bytes below it are lost: the head at entry, partial ACKs */
	uint32_t prr_delivered, prr_out, recover_fs;
	uint32_t lt_bytes;              /* sent beyond cwnd by limited transmit (RFC 3042)
					 * since the last ACK of new data */
	/* RACK-TLP (RFC 8985, tcp_rack.c). xl: [US_TCP_XL_MAX], allocated
	 * when RACK logs the first segment (tcb_array_get), NULL before. */
	struct tcp_xseg *xl;
	int nxl;
	uint8_t arr_nomem;              /* TCB_ARR_* bits: that array found no memory; no
					 * new try until the arrays are released */
	bool rack_valid, rack_reord_seen, rack_dsack_round_on, rack_fack_on;
	uint32_t rack_xmit_ts, rack_end_seq, rack_rtt_us, rack_fack;
	uint64_t rack_deadline;         /* clock ns the reordering timer is due, 0 = none */
	uint32_t loss_arm_una, loss_arm_max; /* SND.UNA and SND.MAX when the PTO was armed */
	uint32_t rack_dsack_round;
	uint8_t rack_reo_mult, rack_reo_persist;
	uint8_t loss_timer;             /* TCP_LOSS_TIMER_*: what TT_LOSS waits for */
	bool tlp_on, tlp_retrans;       /* a probe is outstanding; it was a retransmission */
	uint32_t tlp_end_seq;

	/* Congestion control. */
	const struct us_tcp_cc_ops *cc;
	uint64_t cc_priv[US_TCP_CC_PRIV];       /* the algorithm's own state (tcp_cubic.c) */
	uint32_t cwnd, ssthresh;
	uint32_t bytes_acked;           /* congestion avoidance accumulator */
	int dupacks;
	bool in_recovery;
	bool in_loss;                   /* after an RTO, until SND.UNA reaches recover
					 * (Linux TCP_CA_Loss) */
	uint8_t frto;                   /* F-RTO (tcp_frto.c): 0 off, 1 waiting for the
					 * first ACK after the RTO, 2 for the second */
	uint32_t frto_cwnd, frto_ssthresh;      /* before the RTO, for undo */
	uint32_t recover;               /* RFC 6582 */
	uint32_t reordering;            /* duplicate ACK threshold in segments (RFC 5681
					 * DupThresh, Linux tp->reordering): 3 */
	uint64_t last_send;             /* for restart after idle */

	/* ACK scheduling. */
	int segs_unacked;               /* full-sized segments received since our last ACK */
	bool ack_now;
	uint64_t last_oow_ack;          /* clock ns of the last rate-limited answer, 0 = none */
	/* Quick-ACK mode (Linux icsk_ack.quick / pingpong, tcp_input.c). */
	uint8_t quick;                  /* segments still ACKed at once */
	bool pingpong;                  /* interactive: our replies carry the ACKs */
	bool got_data;                  /* in-order data was received at least once */
	/* The segment being processed had its payload copied to rcvq at
	 * rcvq.len (= RCV.NXT) while its checksum was verified (tcp_input.c
	 * rx_place): text_input only commits it. Set and cleared within one
	 * us_tcp_input, under the lock. */
	bool rx_placed;
	uint64_t lrcvtime;              /* clock ns of the last in-order data */

	/* Route and neighbour towards raddr (ipv4.h), revalidated by the
	 * routing table's and the ARP cache's generation numbers. */
	struct us_dst_cache dst;
	/* Timers: one us_timer each; an armed one holds a socket reference.
	 * deadline is the truth; the wheel is re-armed lazily (tcp_timer.c). */
	struct us_timer timer[TT__COUNT];
	uint64_t deadline[TT__COUNT];   /* 0 = not armed */
	uint64_t wheel_at[TT__COUNT];   /* 0, or a wheel firing of this kind is pending at or
					 * before this time (armed, or its callback about to run) */
	/* Bits (1 << kind) that let a firing know, without asking the wheel,
	 * whether the wheel was armed again after it was taken off (tcp_timer.c). */
	uint8_t wheel_busy;             /* tcp_timers_clear_all could not cancel it: a
					 * firing is under way */
	uint8_t wheel_again;            /* armed anew while a firing was under way */
	int persist_backoff;
	int probes_out;                 /* zero-window probes since an ACK last came (Linux icsk_probes_out) */
	int keep_probes;
	/* TCP_USER_TIMEOUT (RFC 5482, Linux semantics; tcp_timer.c). */
	uint32_t user_timeout_ms;       /* 0 = off: the retry count decides */
	uint64_t una_stamp;             /* clock ns since which SND.UNA has not moved with data out */
	uint64_t persist_stamp;         /* clock ns of the first zero-window probe, 0 = none */

	/* Statistics for TCP_INFO (tcp_info.c), named after Linux's fields. */
	struct tcp_conn_stats {
		uint64_t bytes_acked;           /* data bytes the peer acknowledged */
		uint64_t bytes_received;        /* data bytes received in order */
		uint64_t bytes_sent;            /* data bytes sent, retransmissions included */
		uint64_t bytes_retrans;         /* data bytes retransmitted */
		uint32_t segs_out, segs_in;     /* segments sent / received, any */
		uint32_t data_segs_out, data_segs_in;
		uint32_t total_retrans;         /* segments retransmitted (a large one counts
						 * as its MSS-sized pieces) */
		uint32_t rcv_mss;               /* largest data segment received (at most
						 * the send MSS), 0 = none yet */
		uint64_t last_ack_recv;         /* clock ns of the last ACK received */
	} stats;

	/* Socket options. */
	bool nodelay, keepalive, linger_on;
	int linger_s;
	uint32_t keepidle_s, keepintvl_s, keepcnt;
	bool passive;                   /* created by a listener */

	/* Listening sockets. */
	int backlog;
	int syn_count;                  /* children in SYN_RCVD */
	uint64_t synq_overflow_at;      /* clock ns of the last SYN cookie sent, 0 = never */
	struct us_sock *acc_head, *acc_tail;  /* established children, not yet accepted
					       * (the queue is the listener's: its lock) */
	int acc_count;
	/* Children. */
	struct us_sock *listener;       /* holds a reference until accepted or gone */
	struct us_sock *acc_next;       /* accept queue link: protected by the LISTENER's
					 * lock (the child's own lock is not enough), or by
					 * nothing once a closing listener detached the queue */
	bool orphan;                    /* the application closed it; the stack finishes */
};

struct tcp_tw;

struct us_tcp {
	pthread_rwlock_t lock;          /* protects conn (the array, its size, count, chains),
					 * port[] chains, and every TCB's links */
	/* TIME_WAIT records (tcp_timewait.c). tw_lock protects tw_hash[],
	 * tw_port[], the deadline list and every record; tw_count is written
	 * under it and read without it as a hint. Below us_tcp.lock and the
	 * socket locks. */
	pthread_mutex_t tw_lock;
	struct tcp_tw **tw_hash;        /* [US_TCP_HASH], by 4-tuple */
	struct tcp_tw **tw_port;        /* [US_TCP_HASH], by local port */
	struct tcp_tw *tw_head, *tw_tail;
	_Atomic size_t tw_count;
	struct us_timer tw_timer;       /* armed for tw_head's deadline */
	struct us_tcb **conn;           /* [conn_buckets], keyed hash of the 4-tuple */
	unsigned conn_buckets;          /* a power of two; doubled when conn_count exceeds it */
	size_t conn_count;              /* TCBs in conn */
	uint64_t conn_resizes;          /* how many times conn grew (tests, stats) */
	/* SYN_RCVD entries (tcp_syncache.c). syn_lock protects syn_hash[],
	 * every entry and syn_total (written under it, read without it as a
	 * hint). Below the listeners' socket locks. */
	pthread_mutex_t syn_lock;
	struct tcp_syn **syn_hash;      /* [US_TCP_HASH], by 4-tuple */
	_Atomic size_t syn_total;
	struct us_tcb *port[US_TCP_HASH];   /* TCBs that own their port: bound, listening */
	struct us_tcb *eph[US_TCP_HASH];    /* connections on a port connect() chose
					     * (tbl_shared), by local port */
	uint64_t isn_key[2];            /* RFC 6528 secret */
	uint64_t cookie_key[2];         /* SYN cookie secret (tcp_syncookie.c) */
	_Atomic uint32_t eph_next;      /* bind(port 0): RFC 6056 algorithm 3 counter */
	/* connect(): RFC 6056 algorithm 4's table of counters, indexed by a
	 * keyed hash of the destination (Linux table_perturb); under us_tcp.lock
	 * (write). */
	uint32_t eph_perturb[US_TCP_EPH_PERTURB];
	struct us_stack *st;
	/* Tests only (deterministic stacks): make the next N inserts of a new
	 * passive child fail, as when the same 4-tuple races in on another
	 * interface, a path a single thread cannot otherwise reach. */
	_Atomic int fail_inserts;
	/* Tests only: the next N allocations of a TCB array (tcb_array_get) fail. */
	_Atomic int fail_arrays;
	/* Passive children between leaving the SYN cache (under their
	 * listener's lock) and entering the connection table (after it): a
	 * segment of theirs that another receive thread meanwhile hands to the
	 * listener finds neither (tcp_input.c, child_from_syn). */
	_Atomic int handshakes_inflight;
	/* Tests only: called in that window (child_from_syn), the child locked. */
	void (*test_before_insert)(struct us_stack *st, void *arg);
	void *test_before_insert_arg;
};

int us_tcp_init(struct us_stack *st, struct us_tcp *t);
/* The conn bucket of a 4-tuple (network order), with tcp->lock held:
 * keyed with the ISN secret, so a peer cannot aim at one chain. */
unsigned tcp_conn_bucket(const struct us_tcp *tcp, uint32_t laddr, uint16_t lport, uint32_t raddr,
			 uint16_t rport);
/* The keyed 64-bit hash behind it (also the TIME_WAIT and SYN cache hashes). */
uint64_t tcp_tuple_hash(const struct us_tcp *tcp, uint32_t laddr, uint16_t lport, uint32_t raddr,
			uint16_t rport);
void us_tcp_destroy(struct us_tcp *t);
void us_tcp_input(struct us_netif *nif, const struct wire_ip4 *ip, const uint8_t *p, size_t len);
/*
 * ICMP error about a segment we sent (src/dst network order, ports network
 * order, seq the quoted sequence number in host order). icmp_type 0 with
 * code 0: a local error (no ARP answer for the next hop).
 */
void us_tcp_error(struct us_stack *st, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport,
		  uint32_t seq, uint8_t icmp_type, uint8_t icmp_code, int err);
/*
 * "Fragmentation needed" about a segment we sent (tcp_pmtu.c): mtu the
 * next-hop MTU the router reported (0: none), quoted_len the quoted IP
 * header's total length.
 */
void us_tcp_pmtu(struct us_stack *st, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport,
		 uint32_t seq, uint32_t mtu, uint32_t quoted_len);
/* Stack stop (tcp_drain.c): how many connections the application closed
 * still have data or a FIN unacknowledged; with reset, reset them instead. */
int us_tcp_drain_pending(struct us_stack *st, bool reset);

/* ---- shared among the tcp_*.c files (all with the socket lock held) ---- */

struct us_tcb *tcb_new(struct us_sock *s);
/* Forget the connection's state (keep_readable: not the unread bytes and FIN). */
void tcb_reset(struct us_tcb *t, bool keep_readable);
void tcb_free(struct us_tcb *t);
/*
 * Arrays allocated at first use. An idle connection holds none of the
 * three arrays that only loss, reordering or RACK need (the out-of-order
 * ranges, the SACK scoreboard, RACK's transmit log: 1 KiB together);
 * each is allocated by the first segment that needs it, at most once per
 * busy period: freed with the rings when the connection has been idle
 * US_TCP_RING_IDLE_MS (tcb_rings_trim) and when it ends (tcb_reset). No
 * memory: that array's user goes without it (counted, TCP_ARRAY_NOMEM,
 * and not tried again until the arrays are released): out-of-order data
 * dropped, NewReno instead of SACK-based recovery, no RACK log.
 */
enum tcb_array { TCB_ARR_OOO = 1, TCB_ARR_SB = 2, TCB_ARR_XL = 4 };
/* True if t has array a (allocating it now if need be). */
bool tcb_array_get(struct us_tcb *t, enum tcb_array a);
/* Free t's arrays that hold nothing (every one, with all: the connection ended). */
void tcb_arrays_release(struct us_tcb *t, bool all);
/* The sender uses SACK information: the peer SACKs and the scoreboard
 * could be had (else NewReno, tcp_input.c). */
static inline bool tcp_sack_sender(const struct us_tcb *t)
{
	return t->sack_ok && !(t->arr_nomem & TCB_ARR_SB);
}
/* Write n bytes at off (off + n <= r->cap) into one of t's rings, growing
 * it as needed; false (counted) if there is no memory: nothing written. */
bool tcb_ring_write(struct us_tcb *t, struct tcp_ring *r, uint32_t off, const void *src,
		    uint32_t n);
/* tcb_ring_write that also adds the bytes to the Internet checksum *sum
 * as it copies them (wire_csum_copy_at; at: the offset of src in the
 * summed data). */
bool tcb_ring_write_csum(struct us_tcb *t, struct tcp_ring *r, uint32_t off, const void *src,
			 uint32_t n, uint64_t *sum, size_t at);
/* A ring of t just became empty: release it (and the other, if empty)
 * after US_TCP_RING_IDLE_MS more without traffic. */
void tcb_rings_idle(struct us_tcb *t);
/* TT_RINGS fired: release the empty rings, or wait longer. */
void tcb_rings_trim(struct us_tcb *t);

/* Tables. */
struct us_sock *tcp_lookup(struct us_stack *st, uint32_t laddr, uint16_t lport, uint32_t raddr,
			   uint16_t rport);
int tcp_port_bind(struct us_tcb *t, uint32_t addr, uint16_t port, bool reuse);
int tcp_conn_insert(struct us_tcb *t);  /* -EADDRINUSE if the 4-tuple exists */
/*
 * connect() on a socket with no port (t in SYN_SENT, raddr/rport set): pick
 * a local port for laddr whose 4-tuple is free (Linux __inet_hash_connect),
 * set laddr, lport and the ISS (taking over a TIME_WAIT record if allowed),
 * and enter both tables at once. -EADDRNOTAVAIL if every port is taken
 * towards this peer.
 */
int tcp_connect_hash(struct us_tcb *t, uint32_t laddr);
void tcp_unhash(struct us_tcb *t);      /* leave both tables (drops their reference) */
void tcp_unhash_conn(struct us_tcb *t); /* leave the 4-tuple table only */
/* Tell the tables the connection now listens / is in TIME_WAIT. */
/*
 * References to the TCP sockets of the tables (no table lock held on
 * return; the caller puts each and frees the array): every connection in
 * the 4-tuple table, and with listeners also the sockets only in the port
 * table. *n is set; NULL if there are none or no memory.
 */
struct us_sock **tcp_collect_socks(struct us_stack *st, bool listeners, size_t *n);
void tcp_table_mark(struct us_tcb *t, bool listen, bool timewait);
/* Set the local address of a TCB that may be in the port table. */
void tcp_set_laddr(struct us_tcb *t, uint32_t addr);
uint32_t tcp_isn(struct us_stack *st, uint32_t laddr, uint16_t lport, uint32_t raddr,
		 uint16_t rport);
uint16_t tcp_ephemeral(struct us_tcb *t, uint32_t laddr);

/* Output. */
void tcp_output(struct us_tcb *t);
void tcp_send_ack(struct us_tcb *t);
void tcp_send_syn(struct us_tcb *t);
int tcp_send_segment(struct us_tcb *t, uint32_t seq, uint32_t len, uint8_t flags);
void tcp_send_rst_to(struct us_stack *st, uint32_t laddr, uint32_t raddr, uint16_t lport,
		     uint16_t rport, uint32_t seq, uint32_t ack, uint8_t flags);
void tcp_send_rst(struct us_tcb *t);    /* abort: RST at snd_nxt */
uint32_t tcp_rcv_window(struct us_tcb *t);
uint32_t tcp_ts_now(struct us_stack *st);
void tcp_set_mss(struct us_tcb *t);

/* Timers. */
void tcp_timer_init(struct us_tcb *t);
void tcp_timer_set(struct us_tcb *t, enum tcp_timer_kind k, uint64_t when);
void tcp_timer_clear(struct us_tcb *t, enum tcp_timer_kind k);
void tcp_timers_clear_all(struct us_tcb *t);
void tcp_rexmit_restart(struct us_tcb *t);
void tcp_rtt_sample(struct us_tcb *t, uint64_t rtt_us);

/* State changes. */
void tcp_set_state(struct us_tcb *t, enum tcp_state s);
/* Connection over: record err for the application (0 = orderly), leave the tables. */
void tcp_done(struct us_tcb *t, int err);
void tcp_enter_time_wait(struct us_tcb *t);

/* A connection's 4-tuple (network order), as the socket listing shows the
 * compact records that are not sockets (sockdump.c). */
struct tcp_tuple {
	uint32_t laddr, raddr;
	uint16_t lport, rport;
};

/* TIME_WAIT records (tcp_timewait.c). */
void tcp_tw_init(struct us_tcp *tcp);
/* The records' 4-tuples: under tw_lock, the first cap (in deadline order)
 * are copied into v (NULL when cap is 0) and how many records there are is
 * returned, which may be more than cap. Allocates nothing, so the caller
 * allocates outside the lock (sockdump.c). Not a hot path. */
size_t tcp_tw_tuples(struct us_tcp *tcp, struct tcp_tuple *v, size_t cap);
void tcp_tw_destroy(struct us_tcp *tcp);
/* t (socket lock held) enters TIME_WAIT: a record takes its place; the
 * caller then ends t. -ENOMEM/-EEXIST: no record. */
int tcp_tw_enter(struct us_tcb *t);
enum tcp_tw_verdict { TW_NONE, TW_DONE, TW_SYN };
/* A segment for a 4-tuple that has no connection: TW_NONE (no record),
 * TW_DONE (the record dealt with it), TW_SYN (the record is gone: give the
 * SYN to the listener with ISS *isn). */
enum tcp_tw_verdict tcp_tw_input(struct us_stack *st, const struct wire_ip4 *ip,
				 const struct wire_tcp *g, uint32_t *isn);
/* With us_tcp.lock held: does a record hold addr:port (network order)? */
bool tcp_tw_port_busy(struct us_tcp *tcp, uint32_t addr, uint16_t port);
/* An active open of this 4-tuple: 0 no record, 1 taken over (ISS *isn),
 * -EADDRINUSE the record stays (no timestamps, or under a second old). */
int tcp_tw_takeover(struct us_stack *st, uint32_t laddr, uint16_t lport, uint32_t raddr,
		    uint16_t rport, uint32_t *isn);
/* For listings and tests. */
struct tcp_tw_info {
	uint32_t laddr, raddr;
	uint16_t lport, rport;
	uint32_t snd_nxt, rcv_nxt;
	uint64_t deadline;
};
int tcp_tw_count(struct us_stack *st);
bool tcp_tw_lookup(struct us_stack *st, uint32_t laddr, uint16_t lport, uint32_t raddr,
		   uint16_t rport, struct tcp_tw_info *out);
size_t tcp_tw_list(struct us_stack *st, struct tcp_tw_info *out, size_t max);

/* What a SYN negotiated, kept until the handshake's ACK (a syncache entry)
 * or recovered from a cookie; the child socket is made from it. */
struct tcp_synparams {
	uint32_t laddr, raddr;          /* network order */
	uint16_t lport, rport;
	uint32_t irs, iss;
	uint16_t peer_mss;
	uint16_t win;                   /* the SYN-ACK's window field (never scaled) */
	bool ws_ok, ts_ok, sack_ok;
	uint8_t snd_wscale, rcv_wscale;
	uint32_t ts_recent;             /* the SYN's TSval */
	uint64_t ts_recent_at;
	uint32_t ts_first;              /* TSval of our first SYN-ACK: no valid echo is older */
	uint32_t segs_out;              /* segments sent for it (SYN-ACKs, challenge ACKs) */
};

/* A SYN-ACK (or a bare ACK, flags TCP_ACK) built from parameters, not a TCB. */
struct tcp_synack {
	uint32_t laddr, raddr;
	uint16_t lport, rport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win, user_mss;
	uint8_t ttl;
	bool ws_ok, sack_ok, ts_ok;
	uint8_t wscale;
	uint32_t tsecr;
};
void tcp_send_synack_to(struct us_stack *st, const struct tcp_synack *a);

/* The SYN cache (tcp_syncache.c). */
void tcp_syncache_init(struct us_tcp *tcp);
/* The entries' 4-tuples, copied under syn_lock as tcp_tw_tuples does (the
 * first cap into v; returns how many entries there are). */
size_t tcp_syncache_tuples(struct us_tcp *tcp, struct tcp_tuple *v, size_t cap);
void tcp_syncache_destroy(struct us_tcp *tcp);
/* With the listener locked: a new entry (counted in its syn_count), its
 * SYN-ACK sent and timer armed. -ENOMEM, -EEXIST. */
int tcp_syncache_add(struct us_sock *ls, const struct tcp_synparams *p);
enum tcp_syn_verdict { SYN_NONE, SYN_DONE, SYN_ESTABLISH };
/* With the listener locked, a segment for it: SYN_NONE (no entry of its
 * 4-tuple), SYN_DONE (the entry dealt with it), SYN_ESTABLISH (the ACK of
 * the SYN-ACK: the entry is gone, *out says what to make the socket of). */
enum tcp_syn_verdict tcp_syncache_input(struct us_sock *ls, const struct wire_ip4 *ip,
					const struct wire_tcp *g, struct tcp_synparams *out);
/* With the listener locked: it closes, its entries go. */
void tcp_syncache_drop_listener(struct us_sock *ls);
/* With the listener locked: an ICMP error about a SYN-ACK (seq: the quoted
 * sequence number); a hard one drops the entry. True if an entry exists. */
bool tcp_syncache_error(struct us_sock *ls, uint32_t laddr, uint16_t lport, uint32_t raddr,
			uint16_t rport, uint32_t seq, bool hard);
/* For tests and listings. */
bool tcp_syncache_lookup(struct us_stack *st, uint32_t laddr, uint16_t lport, uint32_t raddr,
			 uint16_t rport, struct tcp_synparams *out);
int tcp_syncache_count(struct us_stack *st);

/* Socket layer hooks (tcp_sock.c). */
struct us_sock *tcp_child_new(struct us_sock *listener);
uint8_t tcp_wscale_for(uint32_t bufsize);

/* SYN cookies (tcp_syncookie.c; RFC 4987 3.6, Linux's encoding). Ports
 * and addresses in network order. */
struct tcp_cookie_tuple {
	uint32_t laddr, raddr;
	uint16_t lport, rport;
};
struct tcp_cookie_opts {          /* what a valid cookie ACK tells of the SYN */
	uint16_t mss;                   /* the peer's MSS, rounded down to Linux's msstab */
	bool ts_ok, ws_ok, sack_ok;
	uint8_t snd_wscale;             /* the peer's window shift (ws_ok) */
};
uint32_t tcp_cookie_time(struct us_stack *st);         /* the 60 s cookie clock */
/* Our ISN for a cookie SYN-ACK; *mss: the MSS the cookie will give back. */
uint32_t tcp_syncookie_isn(struct us_stack *st, const struct tcp_cookie_tuple *c, uint32_t peer_isn,
			   uint16_t peer_mss, uint16_t *mss);
/* The TSval of a cookie SYN-ACK: the clock now with the SYN's options in its low 6 bits. */
uint32_t tcp_syncookie_tsval(uint32_t now, bool ws_ok, uint8_t snd_wscale, bool sack_ok);
/* Is the ACK g (seq, ack, timestamps) the answer to one of our cookies? */
bool tcp_syncookie_check(struct us_stack *st, const struct tcp_cookie_tuple *c,
			 const struct wire_tcp *g, struct tcp_cookie_opts *out);
void tcp_send_cookie_synack(struct us_sock *ls, const struct wire_ip4 *ip, const struct wire_tcp *g);

/* SACK, receiver side (tcp_sack.c; RFC 2018, RFC 2883). */
/* Out-of-order data [start, end) was just stored (or was already held):
 * its range becomes the first block reported. */
void tcp_sack_note(struct us_tcb *t, uint32_t start, uint32_t end);
/* A duplicate [start, end): the next ACK's first block. */
void tcp_dsack_set(struct us_tcb *t, uint32_t start, uint32_t end);
/* The blocks of the next ACK, at most max; a D-SACK reported is consumed. */
uint8_t tcp_sack_fill(struct us_tcb *t, struct wire_tcp_opts *o, unsigned max);

/* F-RTO (tcp_frto.c, RFC 5682): an RTO fired (before its reductions;
 * was_recovering: it interrupted a fast recovery); an acceptable ACK came
 * while t->frto (prior_una: SND.UNA before it; dup: a duplicate ACK). */
void tcp_frto_rto(struct us_tcb *t, bool was_recovering);
void tcp_frto_ack(struct us_tcb *t, uint32_t prior_una, bool dup);

/* TCP_INFO (tcp_info.c): Linux's struct tcp_info for the connection,
 * at most *len bytes of it copied to val (*len set to what was copied). */
int tcp_info_get(struct us_tcb *t, void *val, socklen_t *len);
/* The listing's second line for a connection, as `ss -ti` prints it. */
void tcp_info_format(struct us_tcb *t, char *buf, size_t len);

/* FlightSize for a new ssthresh (RFC 5681 3.2 step 2, eq. 4): what is
 * outstanding, less what limited transmit (RFC 3042) sent beyond cwnd. */
static inline uint32_t tcp_flight_size(const struct us_tcb *t)
{
	uint32_t f = t->snd_max - t->snd_una;
	return t->lt_bytes < f ? f - t->lt_bytes : 0;
}

/* SACK, sender side, and loss recovery (tcp_recovery.c; RFC 6675, RFC
 * 6937 PRR, RFC 3042). */
/* Forget the scoreboard and any RFC 6675 recovery (RTO, connection end). */
void tcp_sb_clear(struct us_tcb *t);
/* An ACK carries SACK blocks: make sure the scoreboard exists (without
 * memory for it, the connection goes on with NewReno). */
void tcp_sb_need(struct us_tcb *t);
/* After the cumulative ACK of g was applied (acked: data bytes it took,
 * prior_sacked: sb_sacked before; classic_dup: an RFC 5681 duplicate):
 * scoreboard update, duplicate ACK counting, recovery entry/exit, PRR. */
void tcp_recovery_ack(struct us_tcb *t, const struct wire_tcp *g, uint32_t acked,
		      uint32_t prior_sacked, bool classic_dup);
/* tcp_output's sending while the scoreboard steers it (pipe, NextSeg):
 * true if it did the sending. */
bool tcp_recovery_output(struct us_tcb *t);
/* RFC 6675 SetPipe (tcp_recovery.c) and IsLost. */
uint32_t tcp_sb_pipe(const struct us_tcb *t);
bool tcp_sb_is_lost(const struct us_tcb *t, uint32_t seq);
/* Bytes between HighACK and HighData that IsLost (TCP_INFO's lost). */
uint32_t tcp_sb_lost_bytes(const struct us_tcb *t);
/* Send one segment of new data (at snd_nxt == snd_max), at most max
 * bytes, within the peer's window and Nagle; returns the bytes sent
 * (the FIN counts one). */
uint32_t tcp_send_new(struct us_tcb *t, uint32_t max);

/* RACK-TLP (tcp_rack.c; RFC 8985). */
void tcp_rack_clear(struct us_tcb *t);
/* A data segment [seq, seq + len) left (len counts a FIN). */
void tcp_rack_sent(struct us_tcb *t, uint32_t seq, uint32_t len, bool rexmit);
/* [s, e) was acknowledged (cumulatively or by SACK) by the ACK g. */
void tcp_rack_delivered(struct us_tcb *t, const struct wire_tcp *g, uint32_t s, uint32_t e);
void tcp_rack_dsack(struct us_tcb *t);
void tcp_rack_recovery_done(struct us_tcb *t);
/* Mark what RACK finds lost; true if anything newly was. Sets the reordering wait. */
bool tcp_rack_detect(struct us_tcb *t);
bool tcp_rack_is_lost(const struct us_tcb *t, uint32_t seq);
uint32_t tcp_rack_lost_in(const struct us_tcb *t, uint32_t a, uint32_t b);
/* The first range below limit RACK found lost (a lost retransmission). */
bool tcp_rack_lost_rexmit(const struct us_tcb *t, uint32_t limit, uint32_t *seq, uint32_t *len);
/* Arm TT_LOSS for RACK's reordering timer or TLP's PTO, or cancel it. */
void tcp_loss_timer_arm(struct us_tcb *t);
void tcp_loss_timer_fire(struct us_tcb *t);
/* An ACK (acked: data bytes it took; dsack: it carried a D-SACK) and the probe. */
void tcp_tlp_ack(struct us_tcb *t, bool dsack, uint32_t acked);
/* RACK's timer found a loss: start a recovery if one may (tcp_recovery.c). */
void tcp_recovery_rack_lost(struct us_tcb *t);

/* Rings. */
uint32_t ring_free(const struct tcp_ring *r);
void ring_write(struct tcp_ring *r, uint32_t off, const void *src, uint32_t n);
void ring_read(const struct tcp_ring *r, uint32_t off, void *dst, uint32_t n);
void ring_consume(struct tcp_ring *r, uint32_t n);
/* A new limit for r, at least the bytes it holds from its head (in-order
 * and out-of-order): they all stay. -ENOMEM: unchanged. */
int ring_resize(struct tcp_ring *r, uint32_t cap);
/* Free r's memory if it holds nothing (for rcvq: and no out-of-order byte). */
void ring_release(struct tcp_ring *r);

#endif
