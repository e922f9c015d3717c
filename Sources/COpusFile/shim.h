#ifndef CALLREC_COPUSFILE_SHIM_H
#define CALLREC_COPUSFILE_SHIM_H
/* libopusfile is used by the tests only, to decode what callrec wrote the way
   a player would. */
#include <opus/opusfile.h>
#endif
