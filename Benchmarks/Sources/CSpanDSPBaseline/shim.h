#ifndef CALLREC_CSPANDSP_SHIM_H
#define CALLREC_CSPANDSP_SHIM_H
/* spandsp's G.722, only as the benchmark's baseline: callrec itself does not
   link spandsp. */
#include <stdint.h>
#include <spandsp/telephony.h>
#include <spandsp/g722.h>
#endif
