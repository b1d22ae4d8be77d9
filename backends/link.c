/*
 * link.c — the table of link backends: maps a configured backend kind
 * (ustack/config.h) to its operations (link.h). Each backend lives in its
 * own file: tap.c, pcap.c (live and file), pair.c (pair and loopback).
 */
#include <stddef.h>

#include "link.h"

const struct us_link_ops *us_link_ops_for(enum us_backend_kind kind)
{
	switch (kind) {
	case US_BACKEND_TAP:
		return &us_link_tap;
	case US_BACKEND_PCAP:
		return &us_link_pcap;
	case US_BACKEND_PCAP_FILE:
		return &us_link_pcap_file;
	case US_BACKEND_LOOPBACK:
		return &us_link_loopback;
	case US_BACKEND_PAIR:
		return &us_link_pair;
	case US_BACKEND_TUN:
		return &us_link_tun;
	}
	return NULL;
}
