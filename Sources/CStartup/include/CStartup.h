#ifndef CHATHOOKS_CSTARTUP_H
#define CHATHOOKS_CSTARTUP_H

/* Nothing to call: this target only replaces how the Swift runtime finds argv (startup.c). */
int chathooks_startup_argc(void);

#endif
