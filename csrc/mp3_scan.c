/*
 * Validating frame scanner for MPEG-1, MPEG-2 and MPEG-2.5 audio Layer III
 * (MP3). See wildzarr_core.h for the API (names wz_mp3_* / WZ_MP3_*).
 *
 * Format (ISO/IEC 11172-3 s. 2.4.1.3 and 2.4.2.3 for MPEG-1; ISO/IEC 13818-3
 * s. 2.4.1.3 for the lower sampling frequencies of MPEG-2; MPEG-2.5 is the
 * same syntax at half the MPEG-2 rates, signalled by the version bits 00 that
 * ISO leaves to the sync word): a stream is a plain concatenation of frames,
 * each
 *
 *   header                32 bits  syncword 0x7FF (11), version (2), layer (2),
 *                                  protection_bit (1), bitrate_index (4),
 *                                  sampling_frequency (2), padding_bit (1),
 *                                  private_bit (1), mode (2), mode_extension (2),
 *                                  copyright (1), original/home (1), emphasis (2)
 *   error_check           16 bits  crc_check, only when protection_bit == 0
 *   side information      MPEG-1 17 bytes mono, 32 otherwise;
 *                         MPEG-2/2.5 9 bytes mono, 17 otherwise (s. 2.4.1.7)
 *   main data             the rest of the frame, up to the next header
 *
 * Frame length in bytes (s. 2.4.3.1 "padding_bit"; Layer III slots are one
 * byte): 144 * bitrate / sampling_frequency + padding_bit for MPEG-1,
 * 72 * bitrate / sampling_frequency + padding_bit for MPEG-2 and MPEG-2.5
 * (half the samples per frame: 1152 for MPEG-1, 576 for MPEG-2/2.5).
 *
 * Checks, per frame: syncword; version not reserved (01); layer III (layers I
 * and II are valid MPEG audio but give WZ_MP3_LAYER; layer 00 is reserved);
 * bitrate_index not 15 (forbidden) and not 0 (free format: no frame length in
 * the header, WZ_MP3_FREE_FORMAT); sampling_frequency not 3 (reserved);
 * emphasis not 2 (reserved); the CRC-16 when protection_bit is 0; the side
 * information: big_values at most 288 (576 / 2 spectral values) and
 * block_type not 0 when window_switching_flag is set (s. 2.4.2.7); the fixed
 * fields version, sampling_frequency, mono or not (mode 3 or another) and
 * protection_bit equal to frame 0's; frames chaining exactly, each one
 * starting where the previous one ends and the last one ending at the end of
 * the buffer (tags, trailing bytes or a truncated last frame are errors).
 *
 * CRC (s. 2.4.3.1, "error_check"; polynomial x^16 + x^15 + x^2 + 1, register
 * preset to all ones, MSB first, no final XOR): for Layer III it covers the
 * last 16 bits of the header (bytes 2 and 3) and the whole side information;
 * the 16-bit crc_check stored between them is not covered. It is verified.
 *
 * Bit reservoir (s. 2.4.1.7 and 2.4.3.4.2 "main_data_begin"): a frame's main
 * data starts main_data_begin bytes (9 bits in MPEG-1, 0..511; 8 bits in
 * MPEG-2/2.5, 0..255) before the end of its side information, in the main
 * data area of earlier frames (headers and side information are not
 * counted), and holds part2_3_length bits per granule and channel. The
 * scanner follows the reservoir: the bytes of main data area after the end
 * of the previous frame's main data (0 before frame 0). A main_data_begin
 * reaching beyond them (the stream does not start at a real beginning, or
 * frames are missing) or main data running past the end of its own frame is
 * WZ_MP3_RESERVOIR. Each frame's main_data_begin is reported, so that callers
 * can tell how many frames back its main data starts (the decoding pre-roll).
 *
 * All reads are bounds-checked against len. No allocation.
 */
#include <string.h>

#include "crc.h"
#include "scan_common.h"
#include "wildzarr_core.h"

/* s. 2.4.1.3: the fixed-length header, 32 bits. */
#define HEADER_BYTES 4
/* s. 2.4.1.4: crc_check, 16 bits, after the header when protection_bit == 0. */
#define CRC_BYTES 2
/* s. 2.4.3.1: the CRC register starts at all ones. */
#define MP3_CRC_PRESET 0xFFFFu
/* The 2-bit version field (ISO/IEC 13818-3 s. 2.4.2.3 "ID" with the MPEG-2.5
 * extension): 3 = MPEG-1, 2 = MPEG-2 (lower sampling frequencies), 0 = MPEG-2.5,
 * 1 = reserved. */
#define VERSION_MPEG1 3u
#define VERSION_RESERVED 1u
/* s. 2.4.2.3 "layer": 01 = Layer III (10 = II, 11 = I, 00 reserved). */
#define LAYER_BITS_III 1u
/* s. 2.4.2.3 "bitrate_index": 0 = free format, 15 = forbidden. */
#define BITRATE_FREE 0u
#define BITRATE_FORBIDDEN 15u
/* s. 2.4.2.3 "sampling_frequency": 3 = reserved. */
#define SAMPLING_RESERVED 3u
/* s. 2.4.2.3 "mode": 3 = single channel. */
#define MODE_MONO 3u
/* s. 2.4.2.3 "emphasis": 2 = reserved. */
#define EMPHASIS_RESERVED 2u
/* s. 2.4.2.7: big_values counts pairs of the 576 spectral values of a granule. */
#define MAX_BIG_VALUES 288u

/* s. 2.4.2.3 Layer III bit rates in kbit/s by bitrate_index (0 = free format,
 * 15 = forbidden): MPEG-1 (ISO/IEC 11172-3), MPEG-2 and MPEG-2.5 (ISO/IEC 13818-3). */
static const uint32_t kbps_mpeg1[16] = {0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0};
static const uint32_t kbps_mpeg2[16] = {0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0};

/* s. 2.4.2.3 "sampling_frequency" in Hz by version field (0 = MPEG-2.5,
 * 2 = MPEG-2, 3 = MPEG-1; 1 reserved) and index 0..2. */
static const uint32_t rates[4][3] = {
    {11025, 12000, 8000}, {0, 0, 0}, {22050, 24000, 16000}, {44100, 48000, 32000}
};

/* Names of the layer field (s. 2.4.2.3). */
static const char *const layer_names[4] = {"reserved", "Layer III", "Layer II", "Layer I"};

/* Why a header was rejected; filled only when asked. */
typedef struct header_error {
    const char *what;       /* static description */
    uint32_t value;         /* offending value */
    uint32_t bound;         /* the value it was compared with */
    const char *bound_name; /* what bound is: "maximum", "minimum", "computed"; NULL: what says all */
} header_error;

/* Fill err (if not NULL) and return status. */
static int reject(header_error *err, int status, const char *what, uint32_t value, uint32_t bound,
                  const char *bound_name)
{
    if (err != NULL) {
        err->what = what;
        err->value = value;
        err->bound = bound;
        err->bound_name = bound_name;
    }
    return status;
}

/* A big-endian bit reader over p[0:len) that the caller has bounds-checked:
 * side information lengths are fixed by the header. */
typedef struct bits {
    const uint8_t *p;
    uint32_t pos; /* bit position */
} bits;

static uint32_t read_bits(bits *b, uint32_t n)
{
    uint32_t value = 0;
    while (n--) {
        value = value << 1 | ((uint32_t)b->p[b->pos >> 3] >> (7u - (b->pos & 7u)) & 1u);
        b->pos++;
    }
    return value;
}

/* Parse the side information (s. 2.4.1.7) at p, side_info_len bytes: fill
 * main_data_begin and main_data_bits, check big_values and block_type.
 * Returns WZ_MP3_OK or WZ_MP3_SIDE_INFO (err says why). */
static int parse_side_info(const uint8_t *p, int mpeg1, uint32_t channels, wz_mp3_header *h, header_error *err)
{
    bits b = {p, 0};
    uint32_t granules = mpeg1 ? 2u : 1u, gr, ch, total = 0;

    h->main_data_begin = read_bits(&b, mpeg1 ? 9u : 8u);
    /* private_bits; then scfsi[ch][0..3] in MPEG-1 only. */
    b.pos += mpeg1 ? (channels == 1 ? 5u : 3u) + 4u * channels : (channels == 1 ? 1u : 2u);
    for (gr = 0; gr < granules; gr++) {
        for (ch = 0; ch < channels; ch++) {
            uint32_t part2_3_length = read_bits(&b, 12);
            uint32_t big_values = read_bits(&b, 9);
            uint32_t window_switching;
            /* global_gain (8), scalefac_compress (4 in MPEG-1, 9 in MPEG-2). */
            b.pos += 8u + (mpeg1 ? 4u : 9u);
            window_switching = read_bits(&b, 1);
            if (big_values > MAX_BIG_VALUES)
                return reject(err, WZ_MP3_SIDE_INFO, "big_values exceeds 288 (576 spectral values)", big_values,
                              MAX_BIG_VALUES, "maximum");
            if (window_switching) {
                uint32_t block_type = read_bits(&b, 2);
                if (block_type == 0)
                    return reject(err, WZ_MP3_SIDE_INFO, "block_type 0 with window_switching_flag set (forbidden)",
                                  0, 0, NULL);
                /* mixed_block_flag (1), table_select[0..1] (10), subblock_gain[0..2] (9). */
                b.pos += 1u + 10u + 9u;
            } else {
                /* table_select[0..2] (15), region0_count (4), region1_count (3). */
                b.pos += 15u + 4u + 3u;
            }
            /* preflag (MPEG-1 only), scalefac_scale, count1table_select. */
            b.pos += mpeg1 ? 3u : 2u;
            total += part2_3_length;
        }
    }
    h->main_data_bits = total;
    return WZ_MP3_OK;
}

/* Parse the 4-byte header at buf[pos:len) into h (the fields and what they
 * imply). Returns WZ_MP3_OK, WZ_MP3_SYNC, WZ_MP3_HEADER, WZ_MP3_LAYER,
 * WZ_MP3_FREE_FORMAT or WZ_MP3_TRUNCATED; on the statuses after WZ_MP3_SYNC
 * but WZ_MP3_TRUNCATED, err (if not NULL) says why. */
static int parse_fields(const uint8_t *buf, size_t len, size_t pos, wz_mp3_header *h, header_error *err)
{
    const uint8_t *p;
    size_t avail;
    uint32_t version, layer, protection_bit, bitrate_index, sampling, padding, mode, emphasis;
    int mpeg1;

    if (pos >= len)
        return WZ_MP3_TRUNCATED;
    p = buf + pos;
    avail = len - pos;
    /* s. 2.4.2.3: the syncword, 11 bits of ones with the MPEG-2.5 extension. */
    if (avail < 2)
        return p[0] == 0xFF ? WZ_MP3_TRUNCATED : WZ_MP3_SYNC;
    if (p[0] != 0xFF || (p[1] & 0xE0u) != 0xE0u)
        return WZ_MP3_SYNC;
    if (avail < HEADER_BYTES)
        return WZ_MP3_TRUNCATED;

    version = (p[1] >> 3) & 3u;
    layer = (p[1] >> 1) & 3u;
    protection_bit = p[1] & 1u;
    bitrate_index = p[2] >> 4;
    sampling = (p[2] >> 2) & 3u;
    padding = (p[2] >> 1) & 1u;
    mode = p[3] >> 6;
    emphasis = p[3] & 3u;

    if (version == VERSION_RESERVED)
        return reject(err, WZ_MP3_HEADER, "version 01 is reserved", version, 0, NULL);
    if (layer == 0)
        return reject(err, WZ_MP3_HEADER, "layer 00 is reserved", layer, 0, NULL);
    if (bitrate_index == BITRATE_FORBIDDEN)
        return reject(err, WZ_MP3_HEADER, "bitrate_index 15 is forbidden", bitrate_index, 0, NULL);
    if (sampling == SAMPLING_RESERVED)
        return reject(err, WZ_MP3_HEADER, "sampling_frequency 3 is reserved", sampling, 0, NULL);
    if (emphasis == EMPHASIS_RESERVED)
        return reject(err, WZ_MP3_HEADER, "emphasis 2 is reserved", emphasis, 0, NULL);
    /* A valid MPEG audio header of another layer: a stream this scanner does not take. */
    if (layer != LAYER_BITS_III)
        return reject(err, WZ_MP3_LAYER, layer_names[layer], layer, 0, NULL);
    if (bitrate_index == BITRATE_FREE)
        return reject(err, WZ_MP3_FREE_FORMAT, "free format (bitrate_index 0): the header gives no frame length",
                      bitrate_index, 0, NULL);

    mpeg1 = version == VERSION_MPEG1;
    h->version_id = version;
    h->protection_bit = protection_bit;
    h->bitrate_index = bitrate_index;
    h->bitrate = 1000u * (mpeg1 ? kbps_mpeg1 : kbps_mpeg2)[bitrate_index];
    h->sampling_index = sampling;
    h->samplerate = rates[version][sampling];
    h->padding = padding;
    h->mode = mode;
    h->mode_extension = (p[3] >> 4) & 3u;
    h->channels = mode == MODE_MONO ? 1u : 2u;
    h->emphasis = emphasis;
    h->samples = mpeg1 ? 1152u : 576u;
    h->frame_length = (mpeg1 ? 144u : 72u) * h->bitrate / h->samplerate + padding;
    h->header_len = HEADER_BYTES + (protection_bit ? 0u : CRC_BYTES);
    h->side_info_len = mpeg1 ? (h->channels == 1 ? 17u : 32u) : (h->channels == 1 ? 9u : 17u);
    /* The smallest frame (MPEG-2, 8 kbit/s, 24 kHz: 24 bytes) holds the largest
     * header, CRC and side information of its version (4 + 2 + 17 bytes), and
     * the smallest MPEG-1 frame (32 kbit/s, 48 kHz: 96 bytes) 4 + 2 + 32: every
     * frame_length leaves room for them. */
    h->main_data_len = h->frame_length - h->header_len - h->side_info_len;
    h->crc = 0;
    h->main_data_begin = 0;
    h->main_data_bits = 0;
    return WZ_MP3_OK;
}

/* Check the CRC and parse the side information of the frame at buf[pos:len)
 * whose header parse_fields() put in h. Returns WZ_MP3_OK, WZ_MP3_TRUNCATED
 * (the buffer ends before the end of the side information), WZ_MP3_CRC or
 * WZ_MP3_SIDE_INFO (err, if not NULL, says why). */
static int parse_body(const uint8_t *buf, size_t len, size_t pos, wz_mp3_header *h, header_error *err)
{
    const uint8_t *p = buf + pos;

    if (len - pos < h->header_len + h->side_info_len)
        return WZ_MP3_TRUNCATED;
    if (!h->protection_bit) {
        uint16_t computed = wz_crc16(MP3_CRC_PRESET, p + 2, 2);
        computed = wz_crc16(computed, p + h->header_len, h->side_info_len);
        h->crc = (uint32_t)p[HEADER_BYTES] << 8 | p[HEADER_BYTES + 1];
        if (computed != h->crc)
            return reject(err, WZ_MP3_CRC, "CRC-16 mismatch over the header and side information", h->crc,
                          computed, "computed");
    }
    return parse_side_info(p + h->header_len, h->version_id == VERSION_MPEG1, h->channels, h, err);
}

int wz_mp3_parse_header(const uint8_t *buf, size_t len, size_t pos, wz_mp3_header *out)
{
    int status;

    if (buf == NULL || out == NULL)
        return WZ_MP3_ARGUMENT;
    status = parse_fields(buf, len, pos, out, NULL);
    return status == WZ_MP3_OK ? parse_body(buf, len, pos, out, NULL) : status;
}

/* Report why the frame that must start at pos has no valid header. */
static int bad_start(wz_mp3_scan *st, int status, size_t pos, const header_error *err)
{
    int64_t frame = (int64_t)st->n_frames;
    switch (status) {
    case WZ_MP3_SYNC:
        if (frame == 0)
            return fail(st, status, pos, frame,
                        "frame 0 at byte 0: no MPEG audio syncword (11 bits set): not an MP3 stream "
                        "(a tag before the frames?)");
        return fail(st, status, pos, frame,
                    "frame %lld at byte %llu: no MPEG audio syncword where frame %lld ends "
                    "(trailing bytes or a tag, or a damaged header in frame %lld)",
                    (long long)frame, (ull)pos, (long long)(frame - 1), (long long)(frame - 1));
    case WZ_MP3_TRUNCATED:
        return fail(st, status, pos, frame,
                    "frame %lld at byte %llu: stream ends inside the header or side information",
                    (long long)frame, (ull)pos);
    case WZ_MP3_CRC:
        return fail(st, status, pos, frame, "frame %lld at byte %llu: %s (stored 0x%04x, computed 0x%04x)",
                    (long long)frame, (ull)pos, err->what, err->value, err->bound);
    case WZ_MP3_LAYER:
        return fail(st, status, pos, frame,
                    "frame %lld at byte %llu: MPEG audio %s, only Layer III (MP3) is supported",
                    (long long)frame, (ull)pos, err->what);
    case WZ_MP3_FREE_FORMAT:
        return fail(st, status, pos, frame, "frame %lld at byte %llu: %s; free-format streams are not supported",
                    (long long)frame, (ull)pos, err->what);
    default:
        if (err->bound_name == NULL)
            return fail(st, status, pos, frame, "frame %lld at byte %llu: %s", (long long)frame, (ull)pos,
                        err->what);
        return fail(st, status, pos, frame, "frame %lld at byte %llu: %s (got %u, %s %u)", (long long)frame,
                    (ull)pos, err->what, err->value, err->bound_name, err->bound);
    }
}

/* Compare one fixed field of frame `frame` with frame 0's. */
#define SAME_AS_FIRST(field, name)                                                                       \
    do {                                                                                                 \
        if (h.field != st->first.field)                                                                  \
            return fail(st, WZ_MP3_MISMATCH, pos, frame, "frame %lld at byte %llu: " name " %u differs "  \
                        "from frame 0's %u (frames of another stream?)", (long long)frame, (ull)pos,     \
                        h.field, st->first.field);                                                       \
    } while (0)

int wz_mp3_scan_init(wz_mp3_scan *st, const uint8_t *buf, size_t len, int32_t expected_samplerate,
                     int32_t expected_channels)
{
    header_error err;
    int status;

    if (st == NULL)
        return WZ_MP3_ARGUMENT;
    memset(st, 0, sizeof *st);
    st->err_frame = -1;
    st->expected_samplerate = expected_samplerate;
    st->expected_channels = expected_channels;
    if (buf == NULL && len != 0)
        return fail(st, WZ_MP3_ARGUMENT, 0, -1, "NULL buffer");
    if (expected_samplerate == 0 || expected_samplerate < -1)
        return fail(st, WZ_MP3_ARGUMENT, 0, -1, "expected sample rate %ld: give Hz > 0, or -1 for any",
                    (long)expected_samplerate);
    if (expected_channels != -1 && expected_channels != 1 && expected_channels != 2)
        return fail(st, WZ_MP3_ARGUMENT, 0, -1, "expected channels %ld: give 1 or 2, or -1 for any",
                    (long)expected_channels);
    if (len == 0)
        return fail(st, WZ_MP3_NO_FRAMES, 0, -1, "empty stream: no MP3 frames");

    status = parse_fields(buf, len, 0, &st->first, &err);
    if (status == WZ_MP3_OK)
        status = parse_body(buf, len, 0, &st->first, &err);
    if (status != WZ_MP3_OK)
        return bad_start(st, status, 0, &err);
    if (expected_samplerate != -1 && st->first.samplerate != (uint32_t)expected_samplerate)
        return fail(st, WZ_MP3_MISMATCH, 0, 0, "frame 0 at byte 0: sample rate %u Hz, expected %ld Hz",
                    st->first.samplerate, (long)expected_samplerate);
    if (expected_channels != -1 && st->first.channels != (uint32_t)expected_channels)
        return fail(st, WZ_MP3_MISMATCH, 0, 0, "frame 0 at byte 0: %u channels, expected %ld",
                    st->first.channels, (long)expected_channels);
    st->stream_len = len;
    st->initialised = 1;
    st->status = WZ_MP3_OK;
    return WZ_MP3_OK;
}

int wz_mp3_scan_frames(wz_mp3_scan *st, const uint8_t *buf, size_t len, int64_t *offsets,
                       int64_t *first_samples, int64_t *main_data_begin, size_t capacity)
{
    if (st == NULL)
        return WZ_MP3_ARGUMENT;
    if (!st->initialised || buf == NULL || len != st->stream_len)
        return fail(st, WZ_MP3_ARGUMENT, 0, -1, "wz_mp3_scan_frames: state not initialised for this buffer");
    if (capacity > 0 && (offsets == NULL || first_samples == NULL))
        return fail(st, WZ_MP3_ARGUMENT, 0, -1, "wz_mp3_scan_frames: NULL output array");
    if (st->finished)
        return st->status = WZ_MP3_OK;

    for (;;) {
        size_t pos = (size_t)st->pos;
        int64_t frame = (int64_t)st->n_frames;
        wz_mp3_header h;
        header_error err;
        uint32_t area;
        int status;

        /* The previous frame ended exactly at the end of the buffer. A
         * non-empty buffer always holds frame 0, so n_frames >= 1 here. */
        if (pos == len) {
            st->finished = 1;
            return st->status = WZ_MP3_OK;
        }
        if (st->n_frames >= capacity)
            return st->status = WZ_MP3_CAPACITY;

        status = parse_fields(buf, len, pos, &h, &err);
        if (status != WZ_MP3_OK)
            return bad_start(st, status, pos, &err);
        /* The fields every frame of one encoding repeats; before the CRC and the
         * side information, whose layout they set. */
        SAME_AS_FIRST(version_id, "version");
        SAME_AS_FIRST(sampling_index, "sampling_frequency");
        SAME_AS_FIRST(channels, "channels (mode: single channel or not)");
        SAME_AS_FIRST(protection_bit, "protection_bit");
        status = parse_body(buf, len, pos, &h, &err);
        if (status != WZ_MP3_OK)
            return bad_start(st, status, pos, &err);
        if (h.frame_length > len - pos)
            return fail(st, WZ_MP3_TRUNCATED, pos, frame,
                        "frame %lld at byte %llu: the frame of %u bytes runs past the end of the stream "
                        "(%llu bytes left)", (long long)frame, (ull)pos, h.frame_length, (ull)(len - pos));
        /* The bit reservoir (see the top of this file). */
        if (h.main_data_begin > st->reservoir)
            return fail(st, WZ_MP3_RESERVOIR, pos, frame,
                        "frame %lld at byte %llu: main_data_begin %u reaches back beyond the %u unused bytes "
                        "of main data before the frame (the stream does not start at a real beginning, "
                        "or frames are missing)", (long long)frame, (ull)pos, h.main_data_begin, st->reservoir);
        area = h.main_data_begin + h.main_data_len;
        if (h.main_data_bits > 8u * area)
            return fail(st, WZ_MP3_RESERVOIR, pos, frame,
                        "frame %lld at byte %llu: main data of %u bits runs past the end of the frame "
                        "(%u bytes from main_data_begin on)", (long long)frame, (ull)pos, h.main_data_bits,
                        area);

        offsets[st->n_frames] = (int64_t)pos;
        first_samples[st->n_frames] = (int64_t)st->next_sample;
        if (main_data_begin != NULL)
            main_data_begin[st->n_frames] = (int64_t)h.main_data_begin;
        st->n_frames++;
        st->crc_verified += (uint64_t)!h.protection_bit;
        st->reservoir = (8u * area - h.main_data_bits) / 8u;
        st->pos = pos + h.frame_length;
        st->next_sample += h.samples;
    }
}
