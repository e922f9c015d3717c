#ifndef CALLREC_CFFTW_SHIM_H
#define CALLREC_CFFTW_SHIM_H
/* Single precision FFTW (fftwf_*). */
#include <fftw3.h>
#endif
