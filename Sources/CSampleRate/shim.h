#ifndef CALLREC_CSAMPLERATE_SHIM_H
#define CALLREC_CSAMPLERATE_SHIM_H
#include <samplerate.h>
/* libsamplerate has no variadic calls; nothing to wrap yet. */
#endif
