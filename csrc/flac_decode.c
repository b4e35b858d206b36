/*
 * FLAC decoding with libFLAC, the reference decoder, straight into a
 * caller-owned array. See wildzarr_core.h for the API (names wz_flacdec_* /
 * WZ_FLACDEC_*); section numbers are RFC 9639's.
 *
 * Why libFLAC and how it is reached
 *   FLAC frames are decoded by libFLAC's stream decoder, not by code of ours.
 *   The extension does not link it: pyflac has already loaded its bundled
 *   copy, and Python hands the addresses of the ten functions used to
 *   wz_flacdec_bind() (wildzarr.codecs.libflac). The few libFLAC types this
 *   file needs are declared below, so the build needs no FLAC headers.
 *   Checked against libFLAC 1.4.3 ("reference libFLAC 1.4.3 20230623", soname
 *   libFLAC-12.1.0.so, FLAC_API_VERSION 13:0:1 in FLAC/export.h) as bundled by
 *   pyflac 3.0.0, whose headers are in pyflac/include/FLAC/. wz_flacdec_bind()
 *   decodes a built-in frame through the functions it is given, so a libFLAC
 *   whose frame header layout differed would be refused, not misread.
 *
 * Random access (verified by experiment on 1.4.3; tests/test_libflac.py)
 *   One libFLAC decoder per state is initialised once with our callbacks and
 *   fed "fLaC" plus a metadata block holding only STREAMINFO (last-block flag
 *   set), so frames whose headers defer the sample rate or bit depth to
 *   STREAMINFO (s. 9.1.2, 9.1.4) decode. Each span then starts with
 *   FLAC__stream_decoder_flush(), which empties libFLAC's input buffer and
 *   returns it to FLAC__STREAM_DECODER_SEARCH_FOR_FRAME_SYNC; the read
 *   callback then serves the span's bytes, and FLAC__stream_decoder_process_single()
 *   decodes one frame per call. This is the use FLAC/stream_decoder.h
 *   documents for clients that seek by other means ("it can flush the decoder
 *   using FLAC__stream_decoder_flush() and start feeding data from the new
 *   position"). libFLAC 1.4.3 does not check frame or sample numbers between
 *   frames, so any frame may follow any other after a flush: earlier, later,
 *   the same again, in one call or across calls (no reset needed). The flush
 *   costs nothing measurable: 54 us per 4096-sample stereo frame whether each
 *   span holds one frame or the whole stream (csrc/fuzz/decode_file.c bench).
 *
 * What libFLAC does with bad bytes, and what this file does about it
 *   On corrupt input libFLAC does not stop: it reports the problem to the
 *   error callback (lost sync, bad header, CRC-16 mismatch, unparseable
 *   frame), skips forward to the next sync code and may decode the *next*
 *   frame in the same process_single() call, which then returns true (seen
 *   with a flipped byte: the CRC-16 error, then the following frame's write
 *   callback). So every frame is checked here:
 *   - before decoding, its header is parsed at the exact byte where it must
 *     start, with the scanner's own parser (wz_flac_parse_frame_header):
 *     sync code, reserved codes, CRC-8; then compared with STREAMINFO
 *     (channels, bits per sample, sample rate, maximum block size), with
 *     frame_samples (block size), with the span's previous frame (the
 *     blocking strategy bit and frame/sample number must continue, s. 9.1.5)
 *     and, when the caller passes the index's first samples, with its row
 *     (frame number = row, or sample number = the row's first sample);
 *   - any error callback during its process_single() fails the frame (the
 *     write callback then aborts, so nothing of a later frame is written);
 *   - the write callback must come exactly once, with libFLAC's view of the
 *     frame header agreeing (block size, channels, bits, rate);
 *   - the frame must end inside the span (FLAC__stream_decoder_get_decode_position,
 *     from our tell callback), and the span's last frame must end exactly at
 *     data_stop, so bytes left over after a span's frames are an error;
 *   - kept samples must lie within the signed bits-per-sample range (an int16
 *     result never holds a wrapped value). libFLAC 1.4.3 checks this itself
 *     and reports such a frame as a CRC-16 mismatch; a frame whose CRC-16 we
 *     find correct is then reported as out of range instead.
 *   A frame truncated by the span's end makes libFLAC run out of bytes: it
 *   then returns without a write callback (sometimes after a lost-sync
 *   report); with our read callback having hit the end, that is TRUNCATED.
 *
 * Memory: every read of data is within [0, len) (the span table is checked
 * first and the read callback never serves past data_stop); every write of
 * out is within the rows [out_row, out_row + count) of a span, which the
 * table check keeps inside [0, out_rows). libFLAC's sample buffers are read
 * only for channels < STREAMINFO's (equal to the frame's, checked) and
 * indexes < the frame's block size.
 */
#include <stdint.h>
#include <string.h>

#include "crc.h"
#include "scan_common.h"
#include "wildzarr_core.h"

/* ------------------------------------------------------------------------ */
/* The libFLAC ABI used (FLAC/stream_decoder.h, FLAC/format.h, libFLAC 1.4.3) */
/* ------------------------------------------------------------------------ */

/* FLAC__StreamDecoder, only ever used through pointers. */
typedef struct flac_decoder flac_decoder;

/* FLAC__bool (FLAC/ordinals.h): int. */
typedef int flac_bool;

/* Enumerations, by value. C enums have int's size and calling convention on
 * every ABI libFLAC is built for, so callbacks return int. */
enum {
    /* FLAC__StreamDecoderState */
    STATE_SEARCH_FOR_FRAME_SYNC = 2,
    /* FLAC__StreamDecoderInitStatus */
    INIT_STATUS_OK = 0,
    /* FLAC__StreamDecoderReadStatus */
    READ_STATUS_CONTINUE = 0,
    READ_STATUS_END_OF_STREAM = 1,
    READ_STATUS_ABORT = 2,
    /* FLAC__StreamDecoderTellStatus */
    TELL_STATUS_OK = 0,
    /* FLAC__StreamDecoderWriteStatus */
    WRITE_STATUS_CONTINUE = 0,
    WRITE_STATUS_ABORT = 1,
    /* FLAC__StreamDecoderErrorStatus (1.4.3 has these five; later versions
     * may add more, e.g. a missing-frame status: any value is an error here) */
    ERROR_LOST_SYNC = 0,
    ERROR_BAD_HEADER = 1,
    ERROR_FRAME_CRC_MISMATCH = 2,
    ERROR_UNPARSEABLE_STREAM = 3,
    ERROR_BAD_METADATA = 4
};

/* The leading fields of FLAC__Frame (FLAC/format.h): a FLAC__Frame starts
 * with its FLAC__FrameHeader, which starts with
 *     uint32_t blocksize;                            samples per channel
 *     uint32_t sample_rate;                          Hz
 *     uint32_t channels;
 *     FLAC__ChannelAssignment channel_assignment;    an enum: int-sized
 *     uint32_t bits_per_sample;
 * These 20 bytes are copied out of the frame libFLAC passes to the write
 * callback; nothing after them is read. */
typedef struct frame_head {
    uint32_t blocksize;
    uint32_t sample_rate;
    uint32_t channels;
    int32_t channel_assignment;
    uint32_t bits_per_sample;
} frame_head;

/* The callbacks (FLAC__StreamDecoder{Read,Tell,Write,Error}Callback). The
 * seek, length, eof and metadata callbacks are optional and passed as NULL. */
typedef int (*read_callback)(const flac_decoder *, uint8_t *, size_t *, void *);
typedef int (*tell_callback)(const flac_decoder *, uint64_t *, void *);
typedef int (*write_callback)(const flac_decoder *, const void *, const int32_t *const *, void *);
typedef void (*error_callback)(const flac_decoder *, int, void *);
typedef void (*unused_callback)(void);

/* The bound functions (FLAC__stream_decoder_*). */
static struct {
    flac_decoder *(*new_)(void);
    void (*delete_)(flac_decoder *);
    flac_bool (*set_md5_checking)(flac_decoder *, flac_bool);
    int (*init_stream)(flac_decoder *, read_callback, unused_callback, tell_callback, unused_callback,
                       unused_callback, write_callback, unused_callback, error_callback, void *);
    flac_bool (*finish)(flac_decoder *);
    flac_bool (*flush)(flac_decoder *);
    flac_bool (*process_single)(flac_decoder *);
    flac_bool (*process_until_end_of_metadata)(flac_decoder *);
    int (*get_state)(const flac_decoder *);
    flac_bool (*get_decode_position)(const flac_decoder *, uint64_t *);
} flac;

/* The addresses bound, and whether binding succeeded. The only global state. */
static wz_libflac_api bound_api;
static int bound;

/* s. 8.1, 8.2: "fLaC", a metadata block header (last-block flag, type 0 =
 * STREAMINFO, 24-bit length 34) and the block body. */
#define STREAM_HEAD_LEN 42
/* s. 9.1.6: a frame holds at most 65536 samples; STREAMINFO's maximum block size is at most 65535. */
#define MAX_BLOCKSIZE 65535

#define report(st, status_, offset_, frame_, ...)                                                        \
    wz_scan_report(&(st)->status, &(st)->err_offset, &(st)->err_frame, (st)->message, sizeof (st)->message, \
                   (status_), (offset_), (frame_), __VA_ARGS__)

/* ------------------------------------------------------------------------ */
/* Callbacks                                                                */
/* ------------------------------------------------------------------------ */

/* Serve src[src_pos:src_end); END_OF_STREAM once it is exhausted. */
static int on_read(const flac_decoder *decoder, uint8_t *buffer, size_t *bytes, void *client)
{
    wz_flacdec *st = client;
    size_t n = 0;
    (void)decoder;
    if (bytes == NULL)
        return READ_STATUS_ABORT;
    if (st->src != NULL && st->src_pos < st->src_end) {
        uint64_t left = st->src_end - st->src_pos;
        n = left < *bytes ? (size_t)left : *bytes;
        memcpy(buffer, st->src + st->src_pos, n);
        st->src_pos += n;
    }
    *bytes = n;
    if (n == 0) {
        st->eof = 1;
        return READ_STATUS_END_OF_STREAM;
    }
    return READ_STATUS_CONTINUE;
}

/* The byte offset in data of the next byte the read callback serves; libFLAC
 * subtracts what it holds unread to answer get_decode_position. */
static int on_tell(const flac_decoder *decoder, uint64_t *offset, void *client)
{
    (void)decoder;
    *offset = ((wz_flacdec *)client)->src_pos;
    return TELL_STATUS_OK;
}

/* Keep the first error and where libFLAC was (after a frame's CRC-16 footer,
 * for a CRC mismatch). */
static void on_error(const flac_decoder *decoder, int status, void *client)
{
    wz_flacdec *st = client;
    if (st->lib_error < 0) {
        st->lib_error = status < 0 ? 0 : status;
        if (!flac.get_decode_position(decoder, &st->lib_error_end))
            st->lib_error_end = 0;
    }
}

/* Copy the kept samples of one decoded frame into out: span samples
 * [max(keep_from, frame_first), min(keep_to, frame_first + n)). Returns 1 if
 * a copied sample lies outside the signed `bits`-bit range. */
static int copy_samples(wz_flacdec *st, const int32_t *const *buffer, uint32_t n, uint32_t channels,
                        uint32_t bits)
{
    int64_t lo = st->keep_from > st->frame_first ? st->keep_from : st->frame_first;
    int64_t end = st->frame_first + (int64_t)n;
    int64_t hi = st->keep_to < end ? st->keep_to : end;
    /* v is in range iff (uint32)(v - low) <= span, computed modulo 2^32. */
    uint32_t low = (uint32_t)(-(int64_t)((uint64_t)1 << (bits - 1)));
    uint32_t span = (uint32_t)(((uint64_t)1 << bits) - 1);
    uint32_t bad = 0;
    size_t src0, i, count;
    int64_t row0;
    uint32_t c;

    if (hi <= lo)
        return 0;
    src0 = (size_t)(lo - st->frame_first);
    count = (size_t)(hi - lo);
    row0 = st->out_row + (lo - st->keep_from);
    if (bits <= 16) {
        for (i = 0; i < count; i++) {
            uint8_t *row = st->out + (row0 + (int64_t)i) * st->out_stride;
            for (c = 0; c < channels; c++) {
                int32_t v = buffer[c][src0 + i];
                int16_t w = (int16_t)v;
                bad |= ((uint32_t)v - low) > span;
                memcpy(row + 2 * c, &w, sizeof w);
            }
        }
    } else {
        for (i = 0; i < count; i++) {
            uint8_t *row = st->out + (row0 + (int64_t)i) * st->out_stride;
            for (c = 0; c < channels; c++) {
                int32_t v = buffer[c][src0 + i];
                bad |= ((uint32_t)v - low) > span;
                memcpy(row + 4 * c, &v, sizeof v);
            }
        }
    }
    return bad != 0;
}

/* Check libFLAC's view of the frame, then copy what the span keeps of it. */
static int on_write(const flac_decoder *decoder, const void *frame, const int32_t *const *buffer,
                    void *client)
{
    wz_flacdec *st = client;
    const wz_flac_streaminfo *si = &st->info;
    frame_head h;
    (void)decoder;

    /* An error reported earlier in this process_single (the frame was
     * skipped and this is a later one), a second write, or no frame expected
     * (frame_row < 0 outside wz_flacdec_decode): never copy. */
    if (st->lib_error >= 0 || st->writes++ > 0 || st->frame_row < 0 || frame == NULL || buffer == NULL)
        return WRITE_STATUS_ABORT;
    memcpy(&h, frame, sizeof h);
    if (h.blocksize != st->expected_blocksize) {
        report(st, WZ_FLACDEC_BLOCKSIZE, st->frame_pos, st->frame_row,
               "decodes to %u samples but the frame index says %u", h.blocksize, st->expected_blocksize);
    } else if (h.channels != si->channels) {
        report(st, WZ_FLACDEC_HEADER, st->frame_pos, st->frame_row,
               "decodes to %u channels but STREAMINFO says %u", h.channels, si->channels);
    } else if (h.bits_per_sample != si->bits_per_sample) {
        report(st, WZ_FLACDEC_HEADER, st->frame_pos, st->frame_row,
               "decodes to %u-bit samples but STREAMINFO says %u", h.bits_per_sample, si->bits_per_sample);
    } else if (h.sample_rate != si->samplerate) {
        report(st, WZ_FLACDEC_HEADER, st->frame_pos, st->frame_row,
               "decodes at %u Hz but STREAMINFO says %u Hz", h.sample_rate, si->samplerate);
    } else if (copy_samples(st, buffer, h.blocksize, h.channels, h.bits_per_sample)) {
        report(st, WZ_FLACDEC_RANGE, st->frame_pos, st->frame_row,
               "decodes to a sample outside the signed %u-bit range", h.bits_per_sample);
    } else {
        return WRITE_STATUS_CONTINUE;
    }
    st->failed = 1;
    return WRITE_STATUS_ABORT;
}

/* ------------------------------------------------------------------------ */
/* Decoder set-up                                                           */
/* ------------------------------------------------------------------------ */

/* Clear the per-frame bookkeeping before a libFLAC call. */
static void begin_call(wz_flacdec *st)
{
    st->writes = 0;
    st->lib_error = -1;
    st->lib_error_end = 0;
    st->eof = 0;
    st->failed = 0;
}

/* Initialise st->decoder's stream and feed it "fLaC" + STREAMINFO. On
 * failure the decoder is left finished (uninitialised), not deleted. */
static int start_stream(wz_flacdec *st)
{
    flac_decoder *decoder = st->decoder;
    uint8_t head[STREAM_HEAD_LEN];
    int init, ok, state;

    memcpy(head, "fLaC", 4);
    head[4] = 0x80; /* last-metadata-block flag, block type 0 (STREAMINFO) */
    head[5] = 0;
    head[6] = 0;
    head[7] = 34;
    memcpy(head + 8, st->info.raw, 34);

    init = flac.init_stream(decoder, on_read, NULL, on_tell, NULL, NULL, on_write, NULL, on_error, st);
    if (init != INIT_STATUS_OK)
        return report(st, WZ_FLACDEC_LIBFLAC, 0, -1,
                      "libFLAC's FLAC__stream_decoder_init_stream failed (init status %d)", init);
    st->src = head;
    st->src_pos = 0;
    st->src_end = STREAM_HEAD_LEN;
    st->out = NULL;
    st->frame_row = -1;
    begin_call(st);
    ok = flac.process_until_end_of_metadata(decoder);
    state = flac.get_state(decoder);
    st->src = NULL;
    if (!ok || st->lib_error >= 0 || state != STATE_SEARCH_FOR_FRAME_SYNC || st->src_pos != STREAM_HEAD_LEN) {
        int error = st->lib_error;
        flac.finish(decoder);
        return report(st, WZ_FLACDEC_STREAMINFO, 0, -1,
                      "libFLAC refuses this STREAMINFO (decoder state %d, error status %d)", state, error);
    }
    st->broken = 0;
    return WZ_FLACDEC_OK;
}

int wz_flacdec_init(wz_flacdec *st, const uint8_t *streaminfo, size_t len)
{
    int status;

    if (st == NULL)
        return WZ_FLACDEC_ARGUMENT;
    st->err_span = -1;
    if (!bound)
        return report(st, WZ_FLACDEC_UNBOUND, 0, -1, "libFLAC's functions are not bound (wz_flacdec_bind)");
    if (st->decoder != NULL)
        return report(st, WZ_FLACDEC_ARGUMENT, 0, -1, "wz_flacdec_init: the state already holds a decoder");
    if (streaminfo == NULL)
        return report(st, WZ_FLACDEC_ARGUMENT, 0, -1, "wz_flacdec_init: NULL STREAMINFO");
    if (len != 34)
        return report(st, WZ_FLACDEC_STREAMINFO, 0, -1,
                      "a STREAMINFO body is 34 bytes long (RFC 9639 section 8.2), got %llu", (ull)len);
    if (wz_flac_parse_streaminfo(streaminfo, len, &st->info) != WZ_FLAC_OK) {
        char why[160];
        wz_flac_check_streaminfo(&st->info, why, sizeof why);
        return report(st, WZ_FLACDEC_STREAMINFO, 0, -1, "invalid STREAMINFO: %s", why);
    }
    st->decoder = flac.new_();
    if (st->decoder == NULL)
        return report(st, WZ_FLACDEC_LIBFLAC, 0, -1, "libFLAC could not allocate a decoder");
    if (!flac.set_md5_checking(st->decoder, 0)) {
        status = report(st, WZ_FLACDEC_LIBFLAC, 0, -1, "libFLAC refused to turn MD5 checking off");
    } else {
        status = start_stream(st);
        if (status == WZ_FLACDEC_OK) {
            st->frames = 0;
            st->restarts = 0;
            return st->status = WZ_FLACDEC_OK;
        }
    }
    flac.delete_(st->decoder);
    st->decoder = NULL;
    return status;
}

void wz_flacdec_close(wz_flacdec *st)
{
    if (st == NULL || st->decoder == NULL)
        return;
    if (bound)
        flac.delete_(st->decoder); /* FLAC__stream_decoder_delete finishes the stream first */
    st->decoder = NULL;
}

/* Bring libFLAC back to rest after an error: a flush, or if that fails a new
 * stream (finish, init, STREAMINFO). Keeps the error report of the call. */
static void recover(wz_flacdec *st)
{
    wz_flacdec saved;
    st->src = NULL;
    st->out = NULL;
    st->frame_row = -1;
    if (!st->broken && flac.flush(st->decoder) && flac.get_state(st->decoder) == STATE_SEARCH_FOR_FRAME_SYNC)
        return;
    memcpy(&saved, st, sizeof saved);
    flac.finish(st->decoder);
    st->restarts++;
    st->broken = start_stream(st) != WZ_FLACDEC_OK;
    st->status = saved.status;
    st->err_offset = saved.err_offset;
    st->err_frame = saved.err_frame;
    st->err_span = saved.err_span;
    memcpy(st->message, saved.message, sizeof st->message);
}

/* ------------------------------------------------------------------------ */
/* Decoding                                                                 */
/* ------------------------------------------------------------------------ */

/* Check every span before anything is decoded (see wz_flacdec_decode). */
static int check_spans(wz_flacdec *st, size_t len, const int64_t *spans, size_t n_spans,
                       const int64_t *frame_samples, size_t n_frame_samples, size_t out_rows)
{
    size_t k;
    for (k = 0; k < n_spans; k++) {
        const int64_t *s = spans + k * WZ_FLACDEC_SPAN_COLUMNS;
        int64_t start = s[WZ_FLACDEC_DATA_START], stop = s[WZ_FLACDEC_DATA_STOP];
        int64_t first = s[WZ_FLACDEC_FIRST_FRAME], n_frames = s[WZ_FLACDEC_N_FRAMES];
        int64_t skip = s[WZ_FLACDEC_SKIP], count = s[WZ_FLACDEC_COUNT], out_row = s[WZ_FLACDEC_OUT_ROW];
        uint64_t total = 0;
        int64_t r;

        st->err_span = (int64_t)k;
        if (start < 0 || stop < start || (uint64_t)stop > len)
            return report(st, WZ_FLACDEC_ARGUMENT, 0, -1,
                          "span %llu: bytes [%lld, %lld) are not within the %llu bytes of data", (ull)k,
                          (long long)start, (long long)stop, (ull)len);
        if (n_frames < 1)
            return report(st, WZ_FLACDEC_ARGUMENT, 0, -1, "span %llu: n_frames is %lld, must be >= 1",
                          (ull)k, (long long)n_frames);
        if (first < 0 || (uint64_t)first > n_frame_samples ||
            (uint64_t)n_frames > n_frame_samples - (uint64_t)first)
            return report(st, WZ_FLACDEC_ARGUMENT, 0, -1,
                          "span %llu: frames [%lld, %lld + %lld) are not within the %llu rows of "
                          "frame_samples", (ull)k, (long long)first, (long long)first, (long long)n_frames,
                          (ull)n_frame_samples);
        for (r = first; r < first + n_frames; r++) {
            int64_t n = frame_samples[r];
            if (n < 1 || n > MAX_BLOCKSIZE)
                return report(st, WZ_FLACDEC_ARGUMENT, 0, -1,
                              "span %llu: frame_samples[%lld] is %lld, not a block size (1..%d)", (ull)k,
                              (long long)r, (long long)n, MAX_BLOCKSIZE);
            total += (uint64_t)n;
        }
        if (skip < 0 || count < 0 || (uint64_t)skip > total || (uint64_t)count > total - (uint64_t)skip)
            return report(st, WZ_FLACDEC_ARGUMENT, 0, -1,
                          "span %llu: skip %lld and count %lld do not fit the span's %llu samples", (ull)k,
                          (long long)skip, (long long)count, (ull)total);
        if (out_row < 0 || (uint64_t)out_row > out_rows || (uint64_t)count > out_rows - (uint64_t)out_row)
            return report(st, WZ_FLACDEC_ARGUMENT, 0, -1,
                          "span %llu: rows [%lld, %lld + %lld) are not within the %llu rows of out", (ull)k,
                          (long long)out_row, (long long)out_row, (long long)count, (ull)out_rows);
    }
    st->err_span = -1;
    return WZ_FLACDEC_OK;
}

/* Check the header of the frame that must start at data[pos] (the span ends
 * at stop) before libFLAC decodes it: structure and CRC-8, STREAMINFO, the
 * frame index's block size, its number against the index (first_samples, if
 * not NULL) and against the previous frame of the span (prev, NULL for the
 * span's first frame). */
static int check_header(wz_flacdec *st, const uint8_t *data, size_t stop, size_t pos, int64_t row,
                        uint32_t expected, const int64_t *first_samples, const wz_flac_frame_header *prev,
                        wz_flac_frame_header *h)
{
    const wz_flac_streaminfo *si = &st->info;
    switch (wz_flac_parse_frame_header(data, stop, pos, NULL, h)) {
    case WZ_FLAC_OK:
        break;
    case WZ_FLAC_SYNC:
        return report(st, WZ_FLACDEC_SYNC, pos, row, "lost sync: no frame header at its start");
    case WZ_FLAC_TRUNCATED:
        return report(st, WZ_FLACDEC_TRUNCATED, pos, row, "the span ends inside its frame header");
    case WZ_FLAC_CRC8:
        return report(st, WZ_FLACDEC_CRC8, pos, row, "does not decode (frame header CRC-8 mismatch)");
    default:
        return report(st, WZ_FLACDEC_HEADER, pos, row,
                      "does not decode (its frame header uses a reserved or invalid code)");
    }
    if (h->channels != si->channels)
        return report(st, WZ_FLACDEC_HEADER, pos, row, "has %u channels but STREAMINFO says %u", h->channels,
                      si->channels);
    if (h->bits_per_sample != 0 && h->bits_per_sample != si->bits_per_sample)
        return report(st, WZ_FLACDEC_HEADER, pos, row, "has %u-bit samples but STREAMINFO says %u",
                      h->bits_per_sample, si->bits_per_sample);
    if (h->samplerate != 0 && h->samplerate != si->samplerate)
        return report(st, WZ_FLACDEC_HEADER, pos, row, "is at %u Hz but STREAMINFO says %u Hz", h->samplerate,
                      si->samplerate);
    if (h->blocksize != expected)
        return report(st, WZ_FLACDEC_BLOCKSIZE, pos, row, "holds %u samples but the frame index says %u",
                      h->blocksize, expected);
    if (h->blocksize > si->max_blocksize)
        return report(st, WZ_FLACDEC_HEADER, pos, row,
                      "holds %u samples, more than STREAMINFO's maximum block size %u", h->blocksize,
                      si->max_blocksize);
    if (first_samples != NULL) {
        /* The rows are the stream's frames from its first: frame numbers are
         * rows, sample numbers the index's first samples (s. 9.1.5). */
        uint64_t want = h->variable ? (uint64_t)first_samples[row] : (uint64_t)row;
        if (h->number != want)
            return report(st, WZ_FLACDEC_SEQUENCE, pos, row,
                          "is numbered %s %llu but the frame index puts %s %llu here",
                          h->variable ? "sample" : "frame", (ull)h->number, h->variable ? "sample" : "frame",
                          (ull)want);
    }
    if (prev != NULL) {
        uint64_t next = prev->variable ? prev->number + prev->blocksize : prev->number + 1;
        if (h->variable != prev->variable)
            return report(st, WZ_FLACDEC_SEQUENCE, pos, row,
                          "uses another blocking strategy than the frame before it in the span");
        if (h->number != next)
            return report(st, WZ_FLACDEC_SEQUENCE, pos, row,
                          "is numbered %s %llu but follows %s %llu in the span (expected %llu)",
                          h->variable ? "sample" : "frame", (ull)h->number,
                          prev->variable ? "sample" : "frame", (ull)prev->number, (ull)next);
    }
    return WZ_FLACDEC_OK;
}

/* Why process_single() did not deliver the frame at pos (row). */
static int diagnose(wz_flacdec *st, size_t pos, int64_t row)
{
    if (st->failed) /* the write callback wrote the report */
        return st->status;
    switch (st->lib_error) {
    case ERROR_FRAME_CRC_MISMATCH: {
        /* libFLAC 1.4 also reports a frame whose samples overflow its bit
         * depth as a CRC mismatch: tell them apart by the CRC-16 of the frame's
         * bytes (0 over a whole frame, footer included, s. 9.3). */
        uint64_t end = st->lib_error_end;
        if (st->src != NULL && end > pos && end <= st->src_end &&
            wz_crc16(0, st->src + pos, (size_t)(end - pos)) == 0)
            return report(st, WZ_FLACDEC_RANGE, pos, row,
                          "decodes to a sample outside the signed %u-bit range", st->info.bits_per_sample);
        return report(st, WZ_FLACDEC_CRC16, pos, row, "does not decode (CRC-16 mismatch)");
    }
    case ERROR_BAD_HEADER:
        return report(st, WZ_FLACDEC_DECODE, pos, row, "does not decode (libFLAC: bad frame header)");
    case ERROR_UNPARSEABLE_STREAM:
        return report(st, WZ_FLACDEC_DECODE, pos, row,
                      "does not decode (libFLAC: reserved fields in use, unparseable)");
    case -1:
    case ERROR_LOST_SYNC:
        if (st->eof)
            return report(st, WZ_FLACDEC_TRUNCATED, pos, row,
                          "does not decode: it runs past the end of the span (the span ends inside the "
                          "frame, or the frame is corrupt)");
        if (st->lib_error == ERROR_LOST_SYNC)
            return report(st, WZ_FLACDEC_DECODE, pos, row, "does not decode (libFLAC lost sync inside it)");
        return report(st, WZ_FLACDEC_LIBFLAC, pos, row,
                      "libFLAC returned without decoding it (decoder state %d)", flac.get_state(st->decoder));
    default:
        return report(st, WZ_FLACDEC_DECODE, pos, row, "does not decode (libFLAC error status %d)",
                      st->lib_error);
    }
}

/* Decode one span (already checked by check_spans). */
static int decode_span(wz_flacdec *st, const uint8_t *data, const int64_t *s, const int64_t *frame_samples,
                       const int64_t *first_samples)
{
    size_t pos = (size_t)s[WZ_FLACDEC_DATA_START], stop = (size_t)s[WZ_FLACDEC_DATA_STOP];
    int64_t first = s[WZ_FLACDEC_FIRST_FRAME], n_frames = s[WZ_FLACDEC_N_FRAMES];
    wz_flac_frame_header h, prev;
    int64_t j, sample = 0;

    if (!flac.flush(st->decoder) || flac.get_state(st->decoder) != STATE_SEARCH_FOR_FRAME_SYNC) {
        st->broken = 1;
        return report(st, WZ_FLACDEC_LIBFLAC, pos, first, "libFLAC failed to flush its decoder");
    }
    st->src = data;
    st->src_pos = pos;
    st->src_end = stop;
    st->keep_from = s[WZ_FLACDEC_SKIP];
    st->keep_to = s[WZ_FLACDEC_SKIP] + s[WZ_FLACDEC_COUNT];
    st->out_row = s[WZ_FLACDEC_OUT_ROW];

    for (j = 0; j < n_frames; j++) {
        int64_t row = first + j;
        uint32_t expected = (uint32_t)frame_samples[row];
        uint64_t end = 0;
        int ok, status;

        status = check_header(st, data, stop, pos, row, expected, first_samples, j > 0 ? &prev : NULL, &h);
        if (status != WZ_FLACDEC_OK)
            return status;
        st->frame_first = sample;
        st->frame_pos = pos;
        st->frame_row = row;
        st->expected_blocksize = expected;
        begin_call(st);
        ok = flac.process_single(st->decoder);
        if (!ok || st->writes != 1 || st->lib_error >= 0 || st->failed)
            return diagnose(st, pos, row);
        /* The frame ends where libFLAC stopped reading (frames are byte-aligned, s. 9.3). */
        if (!flac.get_decode_position(st->decoder, &end) || end <= pos || end > stop)
            return report(st, WZ_FLACDEC_LIBFLAC, pos, row,
                          "libFLAC cannot say where the frame ends (decode position %llu)", (ull)end);
        pos = (size_t)end;
        sample += expected;
        prev = h;
        st->frames++;
    }
    if (pos != stop)
        return report(st, WZ_FLACDEC_TRAILING, pos, first + n_frames - 1,
                      "is followed by %llu bytes the span should not hold (its last frame ends at byte %llu, "
                      "the span at %llu)", (ull)(stop - pos), (ull)pos, (ull)stop);
    return WZ_FLACDEC_OK;
}

int wz_flacdec_decode(wz_flacdec *st, const uint8_t *data, size_t len, const int64_t *spans, size_t n_spans,
                      const int64_t *frame_samples, const int64_t *first_samples, size_t n_frame_samples,
                      void *out, size_t out_rows, int64_t out_row_stride, size_t out_itemsize)
{
    size_t k, itemsize;
    int status;

    if (st == NULL)
        return WZ_FLACDEC_ARGUMENT;
    st->err_span = -1;
    if (!bound)
        return report(st, WZ_FLACDEC_UNBOUND, 0, -1, "libFLAC's functions are not bound (wz_flacdec_bind)");
    if (st->decoder == NULL)
        return report(st, WZ_FLACDEC_ARGUMENT, 0, -1, "the decoder is not initialised, or closed");
    if ((data == NULL && len > 0) || (spans == NULL && n_spans > 0) ||
        (frame_samples == NULL && n_frame_samples > 0) || (out == NULL && out_rows > 0))
        return report(st, WZ_FLACDEC_ARGUMENT, 0, -1, "wz_flacdec_decode: NULL array");
    itemsize = st->info.bits_per_sample <= 16 ? 2 : 4;
    if (out_itemsize != itemsize)
        return report(st, WZ_FLACDEC_ARGUMENT, 0, -1, "out holds %llu-byte samples; %u-bit samples need %llu",
                      (ull)out_itemsize, st->info.bits_per_sample, (ull)itemsize);
    status = check_spans(st, len, spans, n_spans, frame_samples, n_frame_samples, out_rows);
    if (status != WZ_FLACDEC_OK)
        return status;
    if (st->broken) {
        recover(st);
        if (st->broken)
            return report(st, WZ_FLACDEC_LIBFLAC, 0, -1, "libFLAC could not be re-initialised");
    }
    st->out = out;
    st->out_stride = out_row_stride;
    for (k = 0; k < n_spans; k++) {
        status = decode_span(st, data, spans + k * WZ_FLACDEC_SPAN_COLUMNS, frame_samples, first_samples);
        if (status != WZ_FLACDEC_OK) {
            st->err_span = (int64_t)k;
            recover(st);
            return status;
        }
    }
    st->src = NULL;
    st->out = NULL;
    st->frame_row = -1;
    return st->status = WZ_FLACDEC_OK;
}

/* ------------------------------------------------------------------------ */
/* Binding, with a test frame                                               */
/* ------------------------------------------------------------------------ */

/* Decode a hand-made stereo 16-bit frame of 192 samples through the bound
 * functions: STREAMINFO (s. 8.2) 192..192 samples, 44100 Hz, 2 channels, 16
 * bits, 192 samples in all; a frame (s. 9) whose header defers rate and bits to
 * STREAMINFO and two CONSTANT subframes (s. 9.2.2): 1234 and -5. */
static int self_test(void)
{
    static const uint8_t streaminfo[34] = {
        0x00, 0xC0, 0x00, 0xC0,            /* min, max block size 192 */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* frame sizes unknown */
        /* 20 bits rate 44100, 3 bits channels - 1 = 1, 5 bits bits - 1 = 15, 36 bits total 192 */
        0x0A, 0xC4, 0x42, 0xF0, 0x00, 0x00, 0x00, 0xC0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 /* MD5 unknown */
    };
    uint8_t frame[16] = {
        0xFF, 0xF8,       /* sync code, fixed block size */
        0x10,             /* block size code 1 (192), sample rate from STREAMINFO */
        0x10,             /* 2 independent channels, bits from STREAMINFO */
        0x00,             /* frame number 0 */
        0x00,             /* CRC-8, below */
        0x00, 0x04, 0xD2, /* CONSTANT subframe, no wasted bits: 1234 */
        0x00, 0xFF, 0xFB, /* CONSTANT subframe: -5 */
        0x00, 0x00        /* CRC-16, below */
    };
    int64_t spans[WZ_FLACDEC_SPAN_COLUMNS] = {0, 14, 0, 1, 2, 190, 1};
    int64_t frame_samples[1] = {192}, first_samples[1] = {0};
    int16_t out[192][2];
    wz_flacdec st;
    uint16_t crc;
    int i, status;

    frame[5] = wz_crc8(0, frame, 5);
    crc = wz_crc16(0, frame, 12);
    frame[12] = (uint8_t)(crc >> 8);
    frame[13] = (uint8_t)(crc & 0xFF);
    memset(&st, 0, sizeof st);
    memset(out, 0x55, sizeof out);
    status = wz_flacdec_init(&st, streaminfo, sizeof streaminfo);
    if (status != WZ_FLACDEC_OK)
        return status;
    status = wz_flacdec_decode(&st, frame, 14, spans, 1, frame_samples, first_samples, 1, out, 192,
                               (int64_t)sizeof out[0], 2);
    wz_flacdec_close(&st);
    if (status != WZ_FLACDEC_OK)
        return status;
    /* Rows 1..190 hold samples 2..191; rows 0 and 191 are untouched. */
    if (out[0][0] != 0x5555 || out[191][1] != 0x5555)
        return WZ_FLACDEC_LIBFLAC;
    for (i = 1; i <= 190; i++)
        if (out[i][0] != 1234 || out[i][1] != -5)
            return WZ_FLACDEC_LIBFLAC;
    return WZ_FLACDEC_OK;
}

int wz_flacdec_bind(const wz_libflac_api *api)
{
    int status;

    if (api == NULL)
        return WZ_FLACDEC_ARGUMENT;
    if (bound)
        return memcmp(api, &bound_api, sizeof *api) == 0 ? WZ_FLACDEC_OK : WZ_FLACDEC_ARGUMENT;
    if (!api->new || !api->delete || !api->set_md5_checking || !api->init_stream || !api->finish ||
        !api->flush || !api->process_single || !api->process_until_end_of_metadata || !api->get_state ||
        !api->get_decode_position)
        return WZ_FLACDEC_ARGUMENT;
    /* Integer to function pointer: how dlsym's results are used on POSIX. */
    flac.new_ = (flac_decoder * (*)(void)) api->new;
    flac.delete_ = (void (*)(flac_decoder *))api->delete;
    flac.set_md5_checking = (flac_bool(*)(flac_decoder *, flac_bool))api->set_md5_checking;
    flac.init_stream = (int (*)(flac_decoder *, read_callback, unused_callback, tell_callback,
                                unused_callback, unused_callback, write_callback, unused_callback,
                                error_callback, void *))api->init_stream;
    flac.finish = (flac_bool(*)(flac_decoder *))api->finish;
    flac.flush = (flac_bool(*)(flac_decoder *))api->flush;
    flac.process_single = (flac_bool(*)(flac_decoder *))api->process_single;
    flac.process_until_end_of_metadata = (flac_bool(*)(flac_decoder *))api->process_until_end_of_metadata;
    flac.get_state = (int (*)(const flac_decoder *))api->get_state;
    flac.get_decode_position = (flac_bool(*)(const flac_decoder *, uint64_t *))api->get_decode_position;
    bound = 1;
    status = self_test();
    if (status != WZ_FLACDEC_OK) {
        bound = 0;
        memset(&flac, 0, sizeof flac);
        return WZ_FLACDEC_LIBFLAC;
    }
    bound_api = *api;
    return WZ_FLACDEC_OK;
}
