/*
 * Validating ADTS frame scanner for AAC LC. See wildzarr_core.h for the API
 * (names wz_adts_* / WZ_ADTS_*).
 *
 * Format (ISO/IEC 13818-7 s. 6.2 "adts_frame"; the same syntax is ISO/IEC
 * 14496-3 s. 1.A.3.2): a stream is a plain concatenation of frames, each
 *
 *   adts_fixed_header     28 bits  syncword 0xFFF (12), ID (1), layer (2),
 *                                  protection_absent (1), profile (2),
 *                                  sampling_frequency_index (4), private_bit (1),
 *                                  channel_configuration (3), original_copy (1),
 *                                  home (1)
 *   adts_variable_header  28 bits  copyright_identification_bit (1),
 *                                  copyright_identification_start (1),
 *                                  aac_frame_length (13, whole frame in bytes),
 *                                  adts_buffer_fullness (11),
 *                                  number_of_raw_data_blocks_in_frame (2)
 *   if protection_absent == 0:
 *     one raw data block:   adts_error_check        crc_check (16)
 *     2-4 raw data blocks:  adts_header_error_check raw_data_block_position[i]
 *                                                   (16 each, i = 1..blocks-1),
 *                                                   crc_check (16)
 *   raw_data_block() x blocks (each followed by a 16-bit CRC when protected)
 *
 * The "fixed" header fields are the same in every frame of a stream.
 *
 * Checks, per frame: syncword; layer 0; sampling_frequency_index 0..12 (13,
 * 14 reserved, 15 is an escape ADTS cannot carry); aac_frame_length beyond
 * the header (a raw_data_block holds at least its 3-bit END element, so one
 * byte); raw_data_block_position values strictly increasing inside the frame;
 * profile AAC LC (profile field 1: audio object type 2); the fixed fields ID,
 * protection_absent, profile, sampling_frequency_index and
 * channel_configuration equal to frame 0's; frames chaining exactly, each one
 * starting where the previous one ends and the last one ending at the end of
 * the buffer (trailing bytes or a truncated last frame are errors).
 * channel_configuration 0 (channels defined by a program_config_element
 * inside the raw data) is accepted and reported; the decoder handles it.
 *
 * CRC (ISO/IEC 13818-7 s. 6.2 crc_check; the CRC-16 of ISO/IEC 11172-3
 * s. 2.4.3.1: polynomial x^16 + x^15 + x^2 + 1, register preset to all ones,
 * MSB first, no final XOR -- as Fraunhofer's FDK AAC transport decoder,
 * libMpegTPDec/tpdec_adts.cpp, computes it):
 *   - with 2-4 raw data blocks, the header's crc_check covers exactly the 56
 *     header bits and the raw_data_block_position fields. It is verified
 *     (WZ_ADTS_CRC on mismatch).
 *   - with one raw data block, crc_check also covers the first 192 bits of
 *     each SCE/CPE/CCE/LFE element of the raw data block, the first 128 bits
 *     of a CPE's second channel stream and all bits of PCE/DSE elements.
 *     Finding those boundaries needs a full parse of the AAC syntax (Huffman
 *     coded section, scale factor and spectral data), which a frame scanner
 *     does not do: this CRC is read and recorded but NOT verified. Nor are the
 *     per-block CRCs that follow each raw_data_block in protected 2-4 block
 *     frames, for the same reason.
 *
 * All reads are bounds-checked against len. No allocation.
 */
#include <string.h>

#include "crc.h"
#include "scan_common.h"
#include "wildzarr_core.h"

/* s. 6.2: adts_fixed_header + adts_variable_header, 56 bits. */
#define BASE_HEADER_BYTES 7
/* s. 6.2: crc_check and each raw_data_block_position are 16 bits. */
#define FIELD16_BYTES 2
/* ISO/IEC 11172-3 s. 2.4.3.1: the CRC register starts at all ones. */
#define ADTS_CRC_PRESET 0xFFFFu
/* ISO/IEC 13818-7 s. 6.2, ISO/IEC 14496-3 s. 1.A.3.2: profile field 1 = AAC LC
 * (MPEG-4 audio object type profile + 1 = 2). */
#define PROFILE_LC 1u
/* ISO/IEC 13818-7: one raw_data_block decodes to 1024 samples per channel
 * (ADTS cannot signal the 960-sample frame length of ISO/IEC 14496-3). */
#define SAMPLES_PER_BLOCK 1024u
/* Largest valid sampling_frequency_index in ADTS (13, 14 reserved, 15 escape). */
#define MAX_SAMPLING_INDEX 12u

/* ISO/IEC 14496-3 s. 1.6.3.4, Table 1.18: sampling_frequency_index -> Hz. */
static const uint32_t samplerate_table[MAX_SAMPLING_INDEX + 1] = {
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350
};

/* ISO/IEC 14496-3 s. 1.6.3.5, Table 1.19: channel_configuration -> channels
 * (0: defined by a program_config_element). */
static const uint32_t channels_table[8] = {0, 1, 2, 3, 4, 5, 6, 8};

/* Names of the 2-bit profile field (ISO/IEC 13818-7 s. 6.2). */
static const char *const profile_names[4] = {"AAC Main", "AAC LC", "AAC SSR", "AAC LTP"};

/* Why a header was rejected; the message is written only when asked. */
typedef struct header_error {
    const char *what;       /* static description */
    uint32_t value;         /* offending value */
    uint32_t bound;         /* the value it was compared with */
    const char *bound_name; /* what bound is: "expected", "minimum", "maximum", "computed" */
} header_error;

/* Parse the header at buf[pos:len). Returns WZ_ADTS_OK, WZ_ADTS_SYNC,
 * WZ_ADTS_HEADER, WZ_ADTS_CRC, WZ_ADTS_PROFILE or WZ_ADTS_TRUNCATED; on
 * WZ_ADTS_HEADER, WZ_ADTS_CRC and WZ_ADTS_PROFILE, err (if not NULL) says why. */
static int parse_header(const uint8_t *buf, size_t len, size_t pos, wz_adts_header *h, header_error *err)
{
    const uint8_t *p;
    size_t avail;
    uint32_t layer, protection_absent, profile, sfi, frame_length, blocks, header_len, payload;
    uint32_t crc = 0, i, previous = 0;
    int32_t crc_verified = 0;

#define REJECT(status, msg, v, b, name)   \
    do {                                  \
        if (err != NULL) {                \
            err->what = (msg);            \
            err->value = (uint32_t)(v);   \
            err->bound = (uint32_t)(b);   \
            err->bound_name = (name);     \
        }                                 \
        return (status);                  \
    } while (0)

    if (pos >= len)
        return WZ_ADTS_TRUNCATED;
    p = buf + pos;
    avail = len - pos;
    /* s. 6.2: 12-bit syncword 0xFFF. */
    if (avail < 2)
        return p[0] == 0xFF ? WZ_ADTS_TRUNCATED : WZ_ADTS_SYNC;
    if (p[0] != 0xFF || (p[1] & 0xF0u) != 0xF0u)
        return WZ_ADTS_SYNC;
    if (avail < BASE_HEADER_BYTES)
        return WZ_ADTS_TRUNCATED;

    layer = (p[1] >> 1) & 3u;
    protection_absent = p[1] & 1u;
    profile = p[2] >> 6;
    sfi = (p[2] >> 2) & 0x0Fu;
    frame_length = (uint32_t)(p[3] & 3u) << 11 | (uint32_t)p[4] << 3 | (uint32_t)p[5] >> 5;
    blocks = (p[6] & 3u) + 1;

    /* s. 6.2: layer is 0 in ADTS; other values are MPEG audio layer I-III headers. */
    if (layer != 0)
        REJECT(WZ_ADTS_HEADER, "layer is not 0 (an MPEG audio layer I-III header, not ADTS)", layer, 0,
               "expected");
    header_len = BASE_HEADER_BYTES;
    if (!protection_absent)
        header_len += FIELD16_BYTES * blocks; /* (blocks - 1) positions + crc_check */
    if (avail < header_len)
        return WZ_ADTS_TRUNCATED;
    if (!protection_absent) {
        crc = (uint32_t)p[header_len - 2] << 8 | p[header_len - 1];
        /* adts_header_error_check: the CRC covers the header and the positions only. */
        if (blocks > 1) {
            uint32_t computed = wz_crc16(ADTS_CRC_PRESET, p, header_len - FIELD16_BYTES);
            if (computed != crc)
                REJECT(WZ_ADTS_CRC, "header CRC mismatch", crc, computed, "computed");
            crc_verified = 1;
        }
    }
    if (sfi > MAX_SAMPLING_INDEX)
        REJECT(WZ_ADTS_HEADER, "sampling_frequency_index is reserved or an escape (invalid in ADTS)", sfi,
               MAX_SAMPLING_INDEX, "maximum");
    /* A raw_data_block holds at least its END element (3 bits): one byte. */
    if (frame_length < header_len + 1)
        REJECT(WZ_ADTS_HEADER, "aac_frame_length leaves no room for raw data after the header", frame_length,
               header_len + 1, "minimum");
    /* raw_data_block_position[i]: byte offset of block i from the first
     * block's start (block 0 at offset 0), so strictly increasing inside the
     * frame's raw data. */
    payload = frame_length - header_len;
    for (i = 1; !protection_absent && i < blocks; i++) {
        uint32_t position = (uint32_t)p[BASE_HEADER_BYTES + FIELD16_BYTES * (i - 1)] << 8
                          | p[BASE_HEADER_BYTES + FIELD16_BYTES * (i - 1) + 1];
        if (position <= previous)
            REJECT(WZ_ADTS_HEADER, "raw_data_block_position does not increase", position, previous + 1,
                   "minimum");
        if (position >= payload)
            REJECT(WZ_ADTS_HEADER, "raw_data_block_position points past the frame's raw data", position,
                   payload - 1, "maximum");
        previous = position;
    }
    /* s. 6.2: profile 1 is AAC LC; Main, SSR and LTP are valid but unsupported here. */
    if (profile != PROFILE_LC)
        REJECT(WZ_ADTS_PROFILE, profile_names[profile], profile, PROFILE_LC, "expected");

    h->header_len = header_len;
    h->frame_length = frame_length;
    h->id = (p[1] >> 3) & 1u;
    h->protection_absent = protection_absent;
    h->profile = profile;
    h->sampling_frequency_index = sfi;
    h->samplerate = samplerate_table[sfi];
    h->channel_configuration = (uint32_t)(p[2] & 1u) << 2 | (uint32_t)p[3] >> 6;
    h->channels = channels_table[h->channel_configuration];
    h->buffer_fullness = (uint32_t)(p[5] & 0x1Fu) << 6 | (uint32_t)p[6] >> 2;
    h->raw_data_blocks = blocks;
    h->samples = SAMPLES_PER_BLOCK * blocks;
    h->crc = crc;
    h->crc_verified = crc_verified;
    return WZ_ADTS_OK;
#undef REJECT
}

int wz_adts_parse_header(const uint8_t *buf, size_t len, size_t pos, wz_adts_header *out)
{
    if (buf == NULL || out == NULL)
        return WZ_ADTS_ARGUMENT;
    return parse_header(buf, len, pos, out, NULL);
}

/* Report why the frame that must start at pos has no valid header. */
static int bad_start(wz_adts_scan *st, int status, size_t pos, const header_error *err)
{
    int64_t frame = (int64_t)st->n_frames;
    switch (status) {
    case WZ_ADTS_SYNC:
        if (frame == 0)
            return fail(st, status, pos, frame,
                        "frame 0 at byte 0: no ADTS syncword (0xFFF): not an ADTS stream");
        return fail(st, status, pos, frame,
                    "frame %lld at byte %llu: no ADTS syncword (0xFFF) where frame %lld ends "
                    "(trailing bytes, or a wrong aac_frame_length in frame %lld)",
                    (long long)frame, (ull)pos, (long long)(frame - 1), (long long)(frame - 1));
    case WZ_ADTS_TRUNCATED:
        return fail(st, status, pos, frame, "frame %lld at byte %llu: stream ends inside the frame header",
                    (long long)frame, (ull)pos);
    case WZ_ADTS_CRC:
        return fail(st, status, pos, frame, "frame %lld at byte %llu: %s (stored 0x%04x, computed 0x%04x)",
                    (long long)frame, (ull)pos, err->what, err->value, err->bound);
    case WZ_ADTS_PROFILE:
        return fail(st, status, pos, frame,
                    "frame %lld at byte %llu: profile %u is %s, only AAC LC (1) is supported",
                    (long long)frame, (ull)pos, err->value, err->what);
    default:
        return fail(st, status, pos, frame, "frame %lld at byte %llu: %s (got %u, %s %u)", (long long)frame,
                    (ull)pos, err->what, err->value, err->bound_name, err->bound);
    }
}

/* Compare one fixed-header field of frame `frame` with frame 0's. */
#define SAME_AS_FIRST(field, name)                                                                       \
    do {                                                                                                 \
        if (h.field != st->first.field)                                                                  \
            return fail(st, WZ_ADTS_MISMATCH, pos, frame, "frame %lld at byte %llu: " name " %u differs " \
                        "from frame 0's %u (frames of another stream?)", (long long)frame, (ull)pos,     \
                        h.field, st->first.field);                                                       \
    } while (0)

int wz_adts_scan_init(wz_adts_scan *st, const uint8_t *buf, size_t len, int32_t expected_samplerate,
                      int32_t expected_channel_configuration)
{
    header_error err;
    int status;

    if (st == NULL)
        return WZ_ADTS_ARGUMENT;
    memset(st, 0, sizeof *st);
    st->err_frame = -1;
    st->expected_samplerate = expected_samplerate;
    st->expected_channel_configuration = expected_channel_configuration;
    if (buf == NULL && len != 0)
        return fail(st, WZ_ADTS_ARGUMENT, 0, -1, "NULL buffer");
    if (expected_samplerate == 0 || expected_samplerate < -1)
        return fail(st, WZ_ADTS_ARGUMENT, 0, -1, "expected sample rate %ld: give Hz > 0, or -1 for any",
                    (long)expected_samplerate);
    if (expected_channel_configuration < -1 || expected_channel_configuration > 7)
        return fail(st, WZ_ADTS_ARGUMENT, 0, -1,
                    "expected channel configuration %ld: give 0..7, or -1 for any",
                    (long)expected_channel_configuration);
    if (len == 0)
        return fail(st, WZ_ADTS_NO_FRAMES, 0, -1, "empty stream: no ADTS frames");

    status = parse_header(buf, len, 0, &st->first, &err);
    if (status != WZ_ADTS_OK)
        return bad_start(st, status, 0, &err);
    if (expected_samplerate != -1 && st->first.samplerate != (uint32_t)expected_samplerate)
        return fail(st, WZ_ADTS_MISMATCH, 0, 0, "frame 0 at byte 0: sample rate %u Hz, expected %ld Hz",
                    st->first.samplerate, (long)expected_samplerate);
    if (expected_channel_configuration != -1
        && st->first.channel_configuration != (uint32_t)expected_channel_configuration)
        return fail(st, WZ_ADTS_MISMATCH, 0, 0, "frame 0 at byte 0: channel_configuration %u, expected %ld",
                    st->first.channel_configuration, (long)expected_channel_configuration);
    st->stream_len = len;
    st->initialised = 1;
    st->status = WZ_ADTS_OK;
    return WZ_ADTS_OK;
}

int wz_adts_scan_frames(wz_adts_scan *st, const uint8_t *buf, size_t len, int64_t *offsets,
                        int64_t *first_samples, size_t capacity)
{
    if (st == NULL)
        return WZ_ADTS_ARGUMENT;
    if (!st->initialised || buf == NULL || len != st->stream_len)
        return fail(st, WZ_ADTS_ARGUMENT, 0, -1,
                    "wz_adts_scan_frames: state not initialised for this buffer");
    if (capacity > 0 && (offsets == NULL || first_samples == NULL))
        return fail(st, WZ_ADTS_ARGUMENT, 0, -1, "wz_adts_scan_frames: NULL output array");
    if (st->finished)
        return st->status = WZ_ADTS_OK;

    for (;;) {
        size_t pos = (size_t)st->pos;
        int64_t frame = (int64_t)st->n_frames;
        wz_adts_header h;
        header_error err;
        int status;

        /* The previous frame ended exactly at the end of the buffer. A
         * non-empty buffer always holds frame 0, so n_frames >= 1 here. */
        if (pos == len) {
            st->finished = 1;
            return st->status = WZ_ADTS_OK;
        }
        if (st->n_frames >= capacity)
            return st->status = WZ_ADTS_CAPACITY;

        status = parse_header(buf, len, pos, &h, &err);
        if (status != WZ_ADTS_OK)
            return bad_start(st, status, pos, &err);
        /* s. 6.2: the fixed header is the same in every frame. */
        SAME_AS_FIRST(id, "ID (MPEG version)");
        SAME_AS_FIRST(protection_absent, "protection_absent");
        SAME_AS_FIRST(sampling_frequency_index, "sampling_frequency_index");
        SAME_AS_FIRST(channel_configuration, "channel_configuration");
        /* (profile is AAC LC in every frame parse_header accepts.) */
        if (h.frame_length > len - pos)
            return fail(st, WZ_ADTS_TRUNCATED, pos, frame,
                        "frame %lld at byte %llu: aac_frame_length %u runs past the end of the stream "
                        "(%llu bytes left)", (long long)frame, (ull)pos, h.frame_length, (ull)(len - pos));

        offsets[st->n_frames] = (int64_t)pos;
        first_samples[st->n_frames] = (int64_t)st->next_sample;
        st->n_frames++;
        st->crc_verified += (uint64_t)h.crc_verified;
        st->pos = pos + h.frame_length;
        st->next_sample += h.samples;
    }
}
