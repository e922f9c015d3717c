#ifndef CALLREC_COPUSFILE_SHIM_H
#define CALLREC_COPUSFILE_SHIM_H
/* libopusfile decodes what callrec wrote the way a player would: in the tests,
   and for `catalog export --format wav`. */
#include <opus/opusfile.h>
#endif
