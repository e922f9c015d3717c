#ifndef CALLREC_CCRYPTO_SHIM_H
#define CALLREC_CCRYPTO_SHIM_H
/* OpenSSL's libcrypto, for the SHA-256 of recorded files (the EVP digest
   interface; nothing else of OpenSSL is used). */
#include <openssl/evp.h>
#endif
