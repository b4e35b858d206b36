/*
 * Validating FLAC frame scanner (RFC 9639). See wildzarr_core.h for the API
 * (names wz_flac_* / WZ_FLAC_*).
 *
 * How a frame boundary is decided (section numbers are RFC 9639):
 *   A frame starts at byte `pos` with a valid header (s. 9.1). Its end is the
 *   first offset q > pos such that a valid frame header (sync code, fields,
 *   CRC-8) starts at q and the CRC-16 (s. 9.3) of buf[pos:q) is 0 (the footer
 *   is the CRC of the bytes before it, stored big-endian, so a whole frame
 *   CRCs to 0). The header at q must then continue the sequence: its first
 *   sample must equal this frame's first sample plus its block size
 *   (s. 9.1.5), else the stream has frames missing, repeated or reordered.
 *   The last frame ends at the end of the buffer with a valid CRC-16.
 *   CRC-16 state is kept incrementally from pos, so each byte is CRC'd once;
 *   it is only advanced when a candidate header at q passes its CRC-8.
 *
 * Known limit: the CRC-16 of a frame followed by zero bytes is still 0, so
 *   zero bytes inserted right after a frame are taken as part of it (FLAC
 *   frames carry no length; only decoding the subframes could tell).
 *
 * All reads are bounds-checked against len. No allocation.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "crc.h"
#include "scan_common.h"
#include "wildzarr_core.h"

/* ------------------------------------------------------------------------ */
/* Metadata (RFC 9639 section 8)                                            */
/* ------------------------------------------------------------------------ */

/* s. 8.2: length of the STREAMINFO block body in bytes. */
#define STREAMINFO_LENGTH 34

/* Write a NUL-terminated message into message[0:size), if there is room. */
static void describe(char *message, size_t size, const char *fmt, ...)
{
    va_list ap;
    if (message == NULL || size == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(message, size, fmt, ap);
    va_end(ap);
}

int wz_flac_check_streaminfo(const wz_flac_streaminfo *si, char *message, size_t size)
{
    if (si == NULL)
        return WZ_FLAC_ARGUMENT;
    /* s. 8.2: block sizes 16..65535, minimum <= maximum. */
    if (si->min_blocksize < 16) {
        describe(message, size, "minimum block size %u < 16", si->min_blocksize);
        return WZ_FLAC_STREAMINFO;
    }
    if (si->max_blocksize < si->min_blocksize) {
        describe(message, size, "maximum block size %u < minimum block size %u", si->max_blocksize,
                 si->min_blocksize);
        return WZ_FLAC_STREAMINFO;
    }
    if (si->min_framesize != 0 && si->max_framesize != 0 && si->min_framesize > si->max_framesize) {
        describe(message, size, "minimum frame size %u > maximum frame size %u", si->min_framesize,
                 si->max_framesize);
        return WZ_FLAC_STREAMINFO;
    }
    /* s. 8.2: a sample rate of 0 is invalid for audio. */
    if (si->samplerate == 0) {
        describe(message, size, "sample rate is 0");
        return WZ_FLAC_STREAMINFO;
    }
    /* s. 8.2: 4 to 32 bits per sample. */
    if (si->bits_per_sample < 4) {
        describe(message, size, "%u bits per sample (< 4)", si->bits_per_sample);
        return WZ_FLAC_STREAMINFO;
    }
    /* s. 8.2 allows 0 (= unknown); wildzarr needs the exact length. */
    if (si->total_samples == 0) {
        describe(message, size, "total samples is 0 (unknown); a complete stream is required");
        return WZ_FLAC_STREAMINFO;
    }
    return WZ_FLAC_OK;
}

int wz_flac_parse_streaminfo(const uint8_t *b, size_t len, wz_flac_streaminfo *si)
{
    if (b == NULL || si == NULL)
        return WZ_FLAC_ARGUMENT;
    if (len != STREAMINFO_LENGTH)
        return WZ_FLAC_STREAMINFO;
    /* s. 8.2: big-endian fields of 16, 16, 24, 24, 20, 3, 5, 36 and 128 bits. */
    si->min_blocksize = (uint32_t)b[0] << 8 | b[1];
    si->max_blocksize = (uint32_t)b[2] << 8 | b[3];
    si->min_framesize = (uint32_t)b[4] << 16 | (uint32_t)b[5] << 8 | b[6];
    si->max_framesize = (uint32_t)b[7] << 16 | (uint32_t)b[8] << 8 | b[9];
    si->samplerate = (uint32_t)b[10] << 12 | (uint32_t)b[11] << 4 | b[12] >> 4;
    si->channels = ((b[12] >> 1) & 7u) + 1;
    si->bits_per_sample = (((uint32_t)(b[12] & 1u) << 4) | (b[13] >> 4)) + 1;
    si->total_samples = (uint64_t)(b[13] & 0x0Fu) << 32 | (uint64_t)b[14] << 24
                      | (uint64_t)b[15] << 16 | (uint64_t)b[16] << 8 | b[17];
    memcpy(si->md5, b + 18, 16);
    memcpy(si->raw, b, STREAMINFO_LENGTH);
    return wz_flac_check_streaminfo(si, NULL, 0);
}

int wz_flac_scan_init(wz_flac_scan *st, const uint8_t *buf, size_t len)
{
    size_t pos;
    unsigned index = 0;
    int last = 0;

    if (st == NULL)
        return WZ_FLAC_ARGUMENT;
    memset(st, 0, sizeof *st);
    st->blocking = -1;
    st->err_frame = -1;
    if (buf == NULL && len != 0)
        return fail(st, WZ_FLAC_ARGUMENT, 0, -1, "NULL buffer");

    /* s. 6: the stream starts with the marker "fLaC". */
    if (len < 4 || memcmp(buf, "fLaC", 4) != 0)
        return fail(st, WZ_FLAC_NOT_FLAC, 0, -1,
                    len < 4 ? "not a FLAC stream: %llu bytes, shorter than the 'fLaC' marker"
                            : "not a FLAC stream: no 'fLaC' marker at byte 0 (%llu bytes)",
                    (ull)len);
    pos = 4;

    /* s. 8.1: metadata blocks, each a 4-byte header (last-block flag, 7-bit
     * type, 24-bit length) and a body; the flag ends the list. */
    while (!last) {
        unsigned type;
        size_t blen;
        if (len - pos < 4)
            return fail(st, WZ_FLAC_TRUNCATED, pos, -1,
                        "stream ends inside the header of metadata block %u at byte %llu",
                        index, (ull)pos);
        last = buf[pos] >> 7;
        type = buf[pos] & 0x7Fu;
        blen = (size_t)buf[pos + 1] << 16 | (size_t)buf[pos + 2] << 8 | buf[pos + 3];
        if (type == 127)
            return fail(st, WZ_FLAC_METADATA, pos, -1,
                        "metadata block %u at byte %llu has the invalid type 127", index, (ull)pos);
        if (index == 0) {
            /* s. 8.2: STREAMINFO comes first and is 34 bytes long. */
            if (type != 0)
                return fail(st, WZ_FLAC_STREAMINFO, pos, -1,
                            "first metadata block at byte %llu has type %u, not STREAMINFO (0)",
                            (ull)pos, type);
            if (blen != STREAMINFO_LENGTH)
                return fail(st, WZ_FLAC_STREAMINFO, pos, -1,
                            "STREAMINFO block at byte %llu has length %llu, not 34", (ull)pos, (ull)blen);
        } else if (type == 0) {
            return fail(st, WZ_FLAC_METADATA, pos, -1,
                        "metadata block %u at byte %llu is a second STREAMINFO", index, (ull)pos);
        }
        if (blen > len - pos - 4)
            return fail(st, WZ_FLAC_TRUNCATED, pos, -1,
                        "metadata block %u at byte %llu: length %llu runs past the end of the stream "
                        "(%llu bytes)", index, (ull)pos, (ull)blen, (ull)len);
        if (index == 0 && wz_flac_parse_streaminfo(buf + pos + 4, blen, &st->info) != WZ_FLAC_OK) {
            char why[160];
            wz_flac_check_streaminfo(&st->info, why, sizeof why);
            return fail(st, WZ_FLAC_STREAMINFO, pos + 4, -1, "STREAMINFO at byte %llu: %s", (ull)(pos + 4),
                        why);
        }
        pos += 4 + blen;
        index++;
    }
    if (pos == len)
        return fail(st, WZ_FLAC_NO_FRAMES, pos, -1, "no audio frames after the metadata (byte %llu)",
                    (ull)pos);
    st->first_frame = pos;
    st->stream_len = len;
    st->pos = pos;
    st->initialised = 1;
    st->status = WZ_FLAC_OK;
    return WZ_FLAC_OK;
}

/* ------------------------------------------------------------------------ */
/* Frame headers (RFC 9639 section 9.1)                                     */
/* ------------------------------------------------------------------------ */

/* s. 9.1.2: sample rate codes 0b0001..0b1011 (0 = STREAMINFO, 12-14 = extra field). */
static const uint32_t rate_table[12] = {
    0, 88200, 176400, 192000, 8000, 16000, 22050, 24000, 32000, 44100, 48000, 96000
};

/* s. 9.1.4: sample size codes (0 = STREAMINFO, 3 reserved, 7 = 32 bits). */
static const uint32_t bits_table[8] = {0, 8, 12, 0, 16, 20, 24, 32};

/* Why a header was rejected; the message is written only when asked. */
typedef struct header_error {
    const char *what;  /* static description */
    uint32_t value;    /* offending value, if any */
    uint32_t expected; /* expected value, if any */
} header_error;

/* Parse the header at buf[pos:len). Returns WZ_FLAC_OK, WZ_FLAC_SYNC, WZ_FLAC_HEADER,
 * WZ_FLAC_CRC8 or WZ_FLAC_TRUNCATED; on WZ_FLAC_HEADER, err (if not NULL) says why. */
static int parse_header(const uint8_t *buf, size_t len, size_t pos, const wz_flac_streaminfo *si,
                        wz_flac_frame_header *h, header_error *err)
{
    const uint8_t *p;
    size_t avail, i;
    unsigned bs_code, sr_code, ch_code, ss_code, c, extra;
    uint64_t number;
    uint32_t blocksize, rate, bits;

#define REJECT(msg, v, e)                 \
    do {                                  \
        if (err != NULL) {                \
            err->what = (msg);            \
            err->value = (uint32_t)(v);   \
            err->expected = (uint32_t)(e); \
        }                                 \
        return WZ_FLAC_HEADER;                 \
    } while (0)

    if (pos >= len)
        return WZ_FLAC_TRUNCATED;
    p = buf + pos;
    avail = len - pos;
    if (avail < 2)
        return p[0] == 0xFF ? WZ_FLAC_TRUNCATED : WZ_FLAC_SYNC;
    /* s. 9.1: 15-bit sync code 0b111111111111100, then the blocking strategy bit. */
    if (p[0] != 0xFF || (p[1] & 0xFEu) != 0xF8u)
        return WZ_FLAC_SYNC;
    if (avail < 5)
        return WZ_FLAC_TRUNCATED;
    bs_code = p[2] >> 4;
    sr_code = p[2] & 0x0Fu;
    ch_code = p[3] >> 4;
    ss_code = (p[3] >> 1) & 7u;
    if (bs_code == 0) /* s. 9.1.1 */
        REJECT("reserved block size code 0", 0, 0);
    if (sr_code == 15) /* s. 9.1.2 */
        REJECT("invalid sample rate code 0b1111", 15, 0);
    if (ch_code > 10) /* s. 9.1.3 */
        REJECT("reserved channel assignment code", ch_code, 0);
    if (ss_code == 3) /* s. 9.1.4 */
        REJECT("reserved sample size code 0b011", 3, 0);
    if (p[3] & 1u) /* s. 9.1.4: reserved bit after the sample size */
        REJECT("reserved bit after the sample size is set", 1, 0);

    /* s. 9.1.5: coded number, UTF-8-like; up to 6 bytes (31 bits) for a
     * frame number, up to 7 bytes (36 bits) for a sample number. */
    i = 4;
    c = p[i++];
    if (c < 0x80) {
        number = c;
        extra = 0;
    } else if (c < 0xC0) {
        REJECT("coded number starts with a continuation byte", c, 0);
    } else if (c < 0xE0) {
        number = c & 0x1Fu;
        extra = 1;
    } else if (c < 0xF0) {
        number = c & 0x0Fu;
        extra = 2;
    } else if (c < 0xF8) {
        number = c & 0x07u;
        extra = 3;
    } else if (c < 0xFC) {
        number = c & 0x03u;
        extra = 4;
    } else if (c < 0xFE) {
        number = c & 0x01u;
        extra = 5;
    } else if (c == 0xFE && (p[1] & 1u)) {
        number = 0;
        extra = 6;
    } else {
        REJECT("invalid first byte of the coded frame/sample number", c, 0);
    }
    if (avail - i < extra)
        return WZ_FLAC_TRUNCATED;
    while (extra--) {
        c = p[i++];
        if ((c & 0xC0u) != 0x80u)
            REJECT("invalid continuation byte in the coded frame/sample number", c, 0);
        number = number << 6 | (c & 0x3Fu);
    }

    /* s. 9.1.6: uncommon block size, stored minus 1. */
    if (bs_code == 1) {
        blocksize = 192;
    } else if (bs_code <= 5) {
        blocksize = 576u << (bs_code - 2);
    } else if (bs_code == 6) {
        if (avail - i < 1)
            return WZ_FLAC_TRUNCATED;
        blocksize = (uint32_t)p[i] + 1;
        i += 1;
    } else if (bs_code == 7) {
        if (avail - i < 2)
            return WZ_FLAC_TRUNCATED;
        blocksize = ((uint32_t)p[i] << 8 | p[i + 1]) + 1;
        i += 2;
    } else {
        blocksize = 256u << (bs_code - 8);
    }

    /* s. 9.1.7: uncommon sample rate (kHz, Hz, or tens of Hz). */
    if (sr_code < 12) {
        rate = rate_table[sr_code];
    } else if (sr_code == 12) {
        if (avail - i < 1)
            return WZ_FLAC_TRUNCATED;
        rate = (uint32_t)p[i] * 1000u;
        i += 1;
    } else {
        if (avail - i < 2)
            return WZ_FLAC_TRUNCATED;
        rate = (uint32_t)p[i] << 8 | p[i + 1];
        if (sr_code == 14)
            rate *= 10u;
        i += 2;
    }
    if (sr_code != 0 && rate == 0)
        REJECT("sample rate 0 in an uncommon sample rate field", 0, 0);

    /* s. 9.1.8: CRC-8 of everything before it. */
    if (avail - i < 1)
        return WZ_FLAC_TRUNCATED;
    if (wz_crc8(0, p, i) != p[i])
        return WZ_FLAC_CRC8;
    i += 1;

    bits = bits_table[ss_code];
    if (si != NULL) {
        uint32_t channels = ch_code < 8 ? ch_code + 1 : 2;
        if (rate != 0 && rate != si->samplerate)
            REJECT("sample rate differs from STREAMINFO", rate, si->samplerate);
        if (channels != si->channels)
            REJECT("channel count differs from STREAMINFO", channels, si->channels);
        if (bits != 0 && bits != si->bits_per_sample)
            REJECT("bits per sample differ from STREAMINFO", bits, si->bits_per_sample);
        if (blocksize > si->max_blocksize)
            REJECT("block size exceeds STREAMINFO's maximum block size", blocksize, si->max_blocksize);
    }
    /* s. 9.1.5: a fixed-blocksize stream numbers frames in at most 31 bits. */
    /* (6 coded bytes hold exactly 31 bits, so nothing more to check here.) */

    h->header_len = (uint32_t)i;
    h->blocksize = blocksize;
    h->samplerate = rate;
    h->channels = ch_code < 8 ? ch_code + 1 : 2;
    h->channel_assignment = ch_code;
    h->bits_per_sample = bits;
    h->variable = p[1] & 1u;
    h->number = number;
    return WZ_FLAC_OK;
#undef REJECT
}

int wz_flac_parse_frame_header(const uint8_t *buf, size_t len, size_t pos, const wz_flac_streaminfo *info,
                               wz_flac_frame_header *out)
{
    if (buf == NULL || out == NULL)
        return WZ_FLAC_ARGUMENT;
    return parse_header(buf, len, pos, info, out, NULL);
}

/* ------------------------------------------------------------------------ */
/* Frame scanning                                                           */
/* ------------------------------------------------------------------------ */

/* First sample (per channel) of a frame, from its header (s. 9.1.5). */
static uint64_t first_sample_of(const wz_flac_scan *st, const wz_flac_frame_header *h)
{
    return h->variable ? h->number : h->number * st->fixed_blocksize;
}

/* Report why the frame that must start at pos has no valid header. */
static int bad_start(wz_flac_scan *st, int status, size_t pos, const header_error *err)
{
    int64_t frame = (int64_t)st->n_frames;
    switch (status) {
    case WZ_FLAC_SYNC:
        return fail(st, WZ_FLAC_SYNC, pos, frame,
                    "frame %lld at byte %llu: no frame sync code (0xFFF8/0xFFF9)",
                    (long long)frame, (ull)pos);
    case WZ_FLAC_TRUNCATED:
        return fail(st, WZ_FLAC_TRUNCATED, pos, frame,
                    "frame %lld at byte %llu: stream ends inside the frame header",
                    (long long)frame, (ull)pos);
    case WZ_FLAC_CRC8:
        return fail(st, WZ_FLAC_CRC8, pos, frame, "frame %lld at byte %llu: frame header CRC-8 mismatch",
                    (long long)frame, (ull)pos);
    default:
        return fail(st, WZ_FLAC_HEADER, pos, frame, "frame %lld at byte %llu: %s (got %u, expected %u)",
                    (long long)frame, (ull)pos, err->what, err->value, err->expected);
    }
}

int wz_flac_scan_frames(wz_flac_scan *st, const uint8_t *buf, size_t len, int64_t *offsets,
                        int64_t *first_samples, size_t capacity)
{
    const wz_flac_streaminfo *si;

    if (st == NULL)
        return WZ_FLAC_ARGUMENT;
    if (!st->initialised || buf == NULL || len != st->stream_len)
        return fail(st, WZ_FLAC_ARGUMENT, 0, -1,
                    "wz_flac_scan_frames: state not initialised for this buffer");
    if (capacity > 0 && (offsets == NULL || first_samples == NULL))
        return fail(st, WZ_FLAC_ARGUMENT, 0, -1, "wz_flac_scan_frames: NULL output array");
    if (st->finished)
        return st->status = WZ_FLAC_OK;
    si = &st->info;

    for (;;) {
        size_t pos = (size_t)st->pos;
        int64_t frame = (int64_t)st->n_frames;
        wz_flac_frame_header h, cand;
        header_error err;
        uint64_t first, expected_next;
        size_t q, crc_pos, boundary = 0;
        size_t crc_at = 0, later_at = 0;
        uint64_t later_sample = 0;
        unsigned crc = 0;
        int status, found = 0;

        if (st->n_frames >= capacity)
            return st->status = WZ_FLAC_CAPACITY;

        status = parse_header(buf, len, pos, si, &h, &err);
        if (status != WZ_FLAC_OK)
            return bad_start(st, status, pos, &err);

        /* s. 9.1: the blocking strategy bit is fixed for the whole stream. */
        if (st->blocking < 0) {
            st->blocking = h.variable;
            /* s. 8.2: min == max block size in STREAMINFO means a fixed block
             * size; otherwise take the first frame's (all but the last frame
             * share it, s. 9.1.5). */
            if (!h.variable)
                st->fixed_blocksize = si->min_blocksize == si->max_blocksize ? si->max_blocksize : h.blocksize;
        } else if (h.variable != st->blocking) {
            return fail(st, WZ_FLAC_HEADER, pos, frame,
                        "frame %lld at byte %llu: blocking strategy changed from %s to %s",
                        (long long)frame, (ull)pos, st->blocking ? "variable" : "fixed",
                        h.variable ? "variable" : "fixed");
        }
        if (!h.variable && h.blocksize > st->fixed_blocksize)
            return fail(st, WZ_FLAC_HEADER, pos, frame,
                        "frame %lld at byte %llu: block size %u exceeds the stream's fixed block size %u",
                        (long long)frame, (ull)pos, h.blocksize, st->fixed_blocksize);
        first = first_sample_of(st, &h);
        if (first != st->next_sample)
            return fail(st, WZ_FLAC_SEQUENCE, pos, frame,
                        "frame %lld at byte %llu starts at sample %llu, expected %llu",
                        (long long)frame, (ull)pos, (ull)first, (ull)st->next_sample);
        expected_next = first + h.blocksize;
        if (expected_next > si->total_samples)
            return fail(st, WZ_FLAC_TOTAL, pos, frame,
                        "frame %lld at byte %llu ends at sample %llu, past STREAMINFO's total of %llu samples",
                        (long long)frame, (ull)pos, (ull)expected_next, (ull)si->total_samples);

        /* Search the end of this frame. The smallest frame is its header, one
         * subframe byte and the 2-byte CRC-16 footer (s. 9.2, 9.3). */
        crc_pos = pos;
        q = pos + h.header_len + 3;
        while (q + 1 < len) {
            const uint8_t *hit = memchr(buf + q, 0xFF, len - 1 - q);
            if (hit == NULL)
                break;
            q = (size_t)(hit - buf);
            /* Candidates are checked for structure and CRC-8 only: a header that
             * contradicts STREAMINFO still marks the boundary, and is then
             * reported as such when the next frame is parsed. */
            if ((buf[q + 1] & 0xFEu) == 0xF8u && parse_header(buf, len, q, NULL, &cand, NULL) == WZ_FLAC_OK) {
                uint64_t cand_first = first_sample_of(st, &cand);
                crc = wz_crc16((uint16_t)crc, buf + crc_pos, q - crc_pos);
                crc_pos = q;
                if (crc == 0) {
                    /* A CRC-valid frame followed by a valid header: this is the
                     * boundary, and the next frame must continue the sequence. */
                    if (cand.variable != st->blocking)
                        return fail(st, WZ_FLAC_HEADER, q, frame + 1,
                                    "frame %lld at byte %llu: blocking strategy changed from %s to %s",
                                    (long long)(frame + 1), (ull)q, st->blocking ? "variable" : "fixed",
                                    cand.variable ? "variable" : "fixed");
                    if (cand_first != expected_next)
                        return fail(st, WZ_FLAC_SEQUENCE, q, frame + 1,
                                    "frame %lld at byte %llu starts at sample %llu, expected %llu "
                                    "(frames missing, repeated or out of order)",
                                    (long long)(frame + 1), (ull)q, (ull)cand_first, (ull)expected_next);
                    found = 1;
                    boundary = q;
                    break;
                }
                /* Not a boundary (a sync-like pattern inside the frame, or a
                 * corrupted frame): remember it to explain a failure later. */
                if (cand_first == expected_next && crc_at == 0)
                    crc_at = q;
                else if (cand_first > expected_next && later_at == 0) {
                    later_at = q;
                    later_sample = cand_first;
                }
            }
            q++;
        }

        if (!found) {
            /* No boundary: this must be the last frame, up to the end of the buffer. */
            crc = wz_crc16((uint16_t)crc, buf + crc_pos, len - crc_pos);
            if (crc != 0) {
                if (crc_at != 0)
                    return fail(st, WZ_FLAC_CRC16, pos, frame,
                                "frame %lld at byte %llu: CRC-16 mismatch (the next frame starts at byte %llu)",
                                (long long)frame, (ull)pos, (ull)crc_at);
                if (later_at != 0)
                    return fail(st, WZ_FLAC_CRC16, pos, frame,
                                "frame %lld at byte %llu: no valid frame end before the frame header at "
                                "byte %llu (sample %llu, expected %llu): corrupt frame or header",
                                (long long)frame, (ull)pos, (ull)later_at, (ull)later_sample,
                                (ull)expected_next);
                if (expected_next < si->total_samples)
                    return fail(st, WZ_FLAC_TRUNCATED, pos, frame,
                                "stream ends inside frame %lld (byte %llu of %llu): STREAMINFO expects "
                                "%llu samples, the stream breaks off at sample %llu",
                                (long long)frame, (ull)pos, (ull)len, (ull)si->total_samples, (ull)first);
                return fail(st, WZ_FLAC_CRC16, pos, frame,
                            "last frame %lld at byte %llu: CRC-16 mismatch (corrupt or truncated)",
                            (long long)frame, (ull)pos);
            }
            if (expected_next != si->total_samples)
                return fail(st, WZ_FLAC_TOTAL, pos, frame,
                            "frames hold %llu samples, STREAMINFO says %llu (last frame %lld at byte %llu)",
                            (ull)expected_next, (ull)si->total_samples, (long long)frame, (ull)pos);
            boundary = len;
        }

        offsets[st->n_frames] = (int64_t)pos;
        first_samples[st->n_frames] = (int64_t)first;
        st->n_frames++;
        st->pos = boundary;
        st->next_sample = expected_next;
        if (!found) {
            st->finished = 1;
            return st->status = WZ_FLAC_OK;
        }
    }
}
