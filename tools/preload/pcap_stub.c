/*
 * pcap_stub.c — the pcap backends as libustack-preload.so has them: none.
 *
 * The shim is linked with every object of the library except
 * backends/pcap.c, and with these two stand-ins, so that it does not need
 * libpcap. libpcap pulls in libdbus, libsystemd, libgcrypt and
 * libgpg-error, and every one of them would be loaded into each program
 * run under the shim; libgpg-error's constructor calls bindtextdomain,
 * which under a preloaded ASan runtime (sanitizer builds) called malloc
 * before ASan was initialised, and ASan's initialisation then released
 * the gettext lock bindtextdomain held: the program's next textdomain()
 * (wget, coreutils) hung for ever. The pcap backend was not usable under
 * the shim anyway (it opens kernel sockets from the stack's threads,
 * doc/PRELOAD.md): a config naming it gets this error at start-up.
 */
#include <stdio.h>

#include "link.h"

static int pcap_unavailable(struct us_link *l, const struct us_iface_config *cfg, char *err,
			    size_t errlen)
{
	snprintf(err, errlen, "the pcap backends are not in libustack-preload.so "
		 "(use backend: tap; doc/PRELOAD.md)");
	return -1;
}

const struct us_link_ops us_link_pcap = { .name = "pcap", .open = pcap_unavailable };
const struct us_link_ops us_link_pcap_file = { .name = "pcap-file", .open = pcap_unavailable };
