#ifndef CALLREC_CSPANDSP_SHIM_H
#define CALLREC_CSPANDSP_SHIM_H
/* spandsp's G.711 Appendix I packet loss concealment. Only the headers that
   part needs: <spandsp.h> would pull in libtiff for the fax modules. */
#include <stdint.h>
#include <stdlib.h>
#include <spandsp/telephony.h>
#include <spandsp/plc.h>
#endif
