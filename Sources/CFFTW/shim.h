#ifndef CALLREC_CFFTW_SHIM_H
#define CALLREC_CFFTW_SHIM_H
/* Single precision FFTW (fftwf_*). */
#include <fftw3.h>

/* Planner flags as constants Swift can import. */
static const unsigned callrec_fftw_estimate = FFTW_ESTIMATE;
static const unsigned callrec_fftw_measure = FFTW_MEASURE;
#endif
