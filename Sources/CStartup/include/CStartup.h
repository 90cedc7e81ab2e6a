#ifndef CHATHOOKS_CSTARTUP_H
#define CHATHOOKS_CSTARTUP_H

/* Nothing to call from Swift: startup.c only replaces two start-up routines of
 * the Swift runtime (see there). A C target needs a public header. */

#endif
