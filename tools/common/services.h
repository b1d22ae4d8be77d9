/*
 * services.h — the simple services ustackd runs from its config: echo
 * (RFC 862), discard (RFC 863) and chargen (RFC 864), over TCP and UDP.
 *
 * Design: one application thread per configured service, each running a
 * us_poll loop over its listening socket and all of its connections
 * (non-blocking), so a service serves any number of clients without a
 * thread each; the stack's receive and timer threads do the protocol work.
 */
#ifndef US_TOOLS_SERVICES_H
#define US_TOOLS_SERVICES_H

#include "ustack/ustack.h"

struct us_services;

/* Start every service in cfg; NULL (message printed) on failure. */
struct us_services *us_services_start(us_stack *st, const struct us_config *cfg);
/* Stop the threads, close every socket. */
void us_services_stop(struct us_services *sv);

#endif
