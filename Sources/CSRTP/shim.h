#ifndef CALLREC_CSRTP_SHIM_H
#define CALLREC_CSRTP_SHIM_H
#include <srtp2/srtp.h>

/* srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80 is a function-like macro,
   which Swift does not import; this is the function it names. */
static inline void callrec_srtp_policy_aes_cm_128_hmac_sha1_80(srtp_crypto_policy_t *p) {
    srtp_crypto_policy_set_rtp_default(p);
}

#endif
