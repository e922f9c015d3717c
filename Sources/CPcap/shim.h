#ifndef CALLREC_CPCAP_SHIM_H
#define CALLREC_CPCAP_SHIM_H
#include <pcap/pcap.h>
#include <stdio.h>

/* libpcap has no variadic calls we use; this shim keeps the layout of the
   other system-library targets and gives Swift a typed view of the stats
   that `pcap_stats` fills for live captures. */
static inline int callrec_pcap_stats(pcap_t *p, unsigned int *received, unsigned int *dropped, unsigned int *ifdropped) {
    struct pcap_stat st;
    int rc = pcap_stats(p, &st);
    if (rc == 0) { *received = st.ps_recv; *dropped = st.ps_drop; *ifdropped = st.ps_ifdrop; }
    return rc;
}
#endif
