#ifndef CALLREC_COPUS_SHIM_H
#define CALLREC_COPUS_SHIM_H
#include <opus/opus.h>
#include <opus/opus_multistream.h>
#include <ogg/ogg.h>

/* opus_*_ctl are variadic and cannot be called from Swift. Each setting
   callrec uses gets a typed wrapper here. */

static inline int callrec_opus_ms_set_bitrate(OpusMSEncoder *e, opus_int32 bps) {
    return opus_multistream_encoder_ctl(e, OPUS_SET_BITRATE(bps));
}
static inline int callrec_opus_ms_set_complexity(OpusMSEncoder *e, opus_int32 c) {
    return opus_multistream_encoder_ctl(e, OPUS_SET_COMPLEXITY(c));
}
static inline int callrec_opus_ms_set_signal(OpusMSEncoder *e, opus_int32 s) {
    return opus_multistream_encoder_ctl(e, OPUS_SET_SIGNAL(s));
}
static inline int callrec_opus_ms_set_max_bandwidth(OpusMSEncoder *e, opus_int32 bw) {
    return opus_multistream_encoder_ctl(e, OPUS_SET_MAX_BANDWIDTH(bw));
}
/* One stream's own encoder (OPUS_MULTISTREAM_GET_ENCODER_STATE), for the
   settings that differ per stream: a G.711 speaker's stream stays
   narrowband in a call recorded at 16 kHz. */
static inline int callrec_opus_ms_set_stream_max_bandwidth(OpusMSEncoder *e, int stream, opus_int32 bw) {
    OpusEncoder *s = NULL;
    int r = opus_multistream_encoder_ctl(e, OPUS_MULTISTREAM_GET_ENCODER_STATE(stream, &s));
    if (r != OPUS_OK) return r;
    return opus_encoder_ctl(s, OPUS_SET_MAX_BANDWIDTH(bw));
}
static inline int callrec_opus_ms_get_stream_max_bandwidth(OpusMSEncoder *e, int stream, opus_int32 *bw) {
    OpusEncoder *s = NULL;
    int r = opus_multistream_encoder_ctl(e, OPUS_MULTISTREAM_GET_ENCODER_STATE(stream, &s));
    if (r != OPUS_OK) return r;
    return opus_encoder_ctl(s, OPUS_GET_MAX_BANDWIDTH(bw));
}
static inline int callrec_opus_ms_set_vbr(OpusMSEncoder *e, opus_int32 vbr) {
    return opus_multistream_encoder_ctl(e, OPUS_SET_VBR(vbr));
}
static inline int callrec_opus_ms_get_lookahead(OpusMSEncoder *e, opus_int32 *samples) {
    return opus_multistream_encoder_ctl(e, OPUS_GET_LOOKAHEAD(samples));
}
static inline int callrec_opus_ms_get_final_range(OpusMSEncoder *e, opus_uint32 *range) {
    return opus_multistream_encoder_ctl(e, OPUS_GET_FINAL_RANGE(range));
}

/* Named constants that Swift cannot import from function-like macros. */
static const int callrec_opus_application_voip = OPUS_APPLICATION_VOIP;
static const int callrec_opus_application_audio = OPUS_APPLICATION_AUDIO;
static const int callrec_opus_signal_voice = OPUS_SIGNAL_VOICE;
static const int callrec_opus_bandwidth_narrowband = OPUS_BANDWIDTH_NARROWBAND;
static const int callrec_opus_bandwidth_mediumband = OPUS_BANDWIDTH_MEDIUMBAND;
static const int callrec_opus_bandwidth_wideband = OPUS_BANDWIDTH_WIDEBAND;
static const int callrec_opus_bandwidth_superwideband = OPUS_BANDWIDTH_SUPERWIDEBAND;
static const int callrec_opus_bandwidth_fullband = OPUS_BANDWIDTH_FULLBAND;
#endif
