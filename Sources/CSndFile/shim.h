#ifndef CALLREC_CSNDFILE_SHIM_H
#define CALLREC_CSNDFILE_SHIM_H
#include <sndfile.h>

/* sf_command takes a void* and an int; these give the commands callrec uses a
   typed signature. */
static inline int callrec_sf_set_compression_level(SNDFILE *f, double level) {
    return sf_command(f, SFC_SET_COMPRESSION_LEVEL, &level, sizeof(level));
}
static inline int callrec_sf_set_clipping(SNDFILE *f, int on) {
    return sf_command(f, SFC_SET_CLIPPING, NULL, on);
}
#endif
