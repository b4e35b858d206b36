/*
 * Standalone driver for the libFLAC span decoder (csrc/flac_decode.c):
 * mutation fuzzer and benchmark, without Python.
 *
 *   decode_file fuzz ITERATIONS SEED FILE...
 *       FILEs are complete FLAC streams (e.g. the *.flac seeds of
 *       csrc/fuzz/make_seeds.py). Each is indexed with the scanner and decoded
 *       whole once (the reference). Each iteration damages a copy of one
 *       (odd numbers of bit flips, 1-2 byte overwrites, truncation, deletion,
 *       insertion, a duplicated frame, a frame replaced by another of the
 *       stream or of another seed, a random buffer; one in ten intact), held
 *       in an exact-size heap block, and decodes 1-5 random spans of the
 *       original index from it (cut at the damaged buffer's end, sometimes a
 *       random value in the table) into an exact-size output block whose rows
 *       are strided column blocks, with or without first_samples. A success
 *       must have decoded, for each span, bytes that are exactly original
 *       frames (the span's own ones when first_samples is given) into exactly
 *       the rows the span names, with the reference's samples; an argument
 *       error must have written nothing; a stream error must name a frame row
 *       and carry a message. Any failed check abort()s. Status counts are
 *       printed. Meant to run under -fsanitize=address,undefined.
 *   decode_file bench FILE SPANS PER_CALL FRAMES
 *       Decode SPANS random spans of FRAMES whole frames of FILE, PER_CALL
 *       spans per wz_flacdec_decode call, every sample kept; print the time
 *       per span and per frame (the C cost alone).
 *
 * Unlike the extension, this driver links libFLAC (pyflac's copy, or any
 * libFLAC 1.4) and includes its headers, to hand the addresses of the
 * functions to wz_flacdec_bind() as wildzarr.codecs.libflac does. See
 * docs/fuzzing.md for the build commands.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <FLAC/stream_decoder.h>

#include "wildzarr_core.h"

#define MAX_SEEDS 64
#define MAX_SPANS 5
#define N_COLS WZ_FLACDEC_SPAN_COLUMNS

typedef struct seed {
    uint8_t *buf;
    size_t len;
    wz_flac_streaminfo info;
    int64_t *off;       /* n + 1 entries: frame offsets, then len */
    int64_t *first;     /* n + 1 entries: first samples, then the total */
    int64_t *fs;        /* n entries: samples per frame */
    uint64_t n;
    size_t itemsize;    /* 2 or 4 */
    uint8_t *ref;       /* the whole stream decoded: total * channels samples */
    wz_flacdec dec;
} seed;

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static size_t below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        abort();
    return p;
}

static void fail_check(const char *what, const seed *s, int status, const char *message)
{
    fprintf(stderr, "decode_file: check failed: %s (status %d, %s), seed of %llu bytes\n", what, status,
            message, (unsigned long long)s->len);
    abort();
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long size;
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(2);
    }
    buf = xmalloc((size_t)size);
    if (fread(buf, 1, (size_t)size, f) != (size_t)size)
        exit(2);
    fclose(f);
    *len = (size_t)size;
    return buf;
}

static void bind_libflac(void)
{
    wz_libflac_api api;
    api.new = (uintptr_t)FLAC__stream_decoder_new;
    api.delete = (uintptr_t)FLAC__stream_decoder_delete;
    api.set_md5_checking = (uintptr_t)FLAC__stream_decoder_set_md5_checking;
    api.init_stream = (uintptr_t)FLAC__stream_decoder_init_stream;
    api.finish = (uintptr_t)FLAC__stream_decoder_finish;
    api.flush = (uintptr_t)FLAC__stream_decoder_flush;
    api.process_single = (uintptr_t)FLAC__stream_decoder_process_single;
    api.process_until_end_of_metadata = (uintptr_t)FLAC__stream_decoder_process_until_end_of_metadata;
    api.get_state = (uintptr_t)FLAC__stream_decoder_get_state;
    api.get_decode_position = (uintptr_t)FLAC__stream_decoder_get_decode_position;
    if (wz_flacdec_bind(&api) != WZ_FLACDEC_OK) {
        fprintf(stderr, "wz_flacdec_bind failed\n");
        exit(2);
    }
}

/* Index a complete stream with the scanner and decode it whole (the reference). */
static void load_seed(seed *s, const char *path)
{
    wz_flac_scan st;
    size_t cap = 64, total, channels;
    int64_t span[N_COLS];
    int status;
    uint64_t i;

    memset(s, 0, sizeof *s);
    s->buf = read_file(path, &s->len);
    if (wz_flac_scan_init(&st, s->buf, s->len) != WZ_FLAC_OK) {
        fprintf(stderr, "%s: %s\n", path, st.message);
        exit(2);
    }
    for (;;) {
        s->off = realloc(s->off, (cap + 1) * sizeof *s->off);
        s->first = realloc(s->first, (cap + 1) * sizeof *s->first);
        if (s->off == NULL || s->first == NULL)
            abort();
        status = wz_flac_scan_frames(&st, s->buf, s->len, s->off, s->first, cap);
        if (status != WZ_FLAC_CAPACITY)
            break;
        cap *= 2;
    }
    if (status != WZ_FLAC_OK) {
        fprintf(stderr, "%s: %s\n", path, st.message);
        exit(2);
    }
    s->info = st.info;
    s->n = st.n_frames;
    s->off[s->n] = (int64_t)s->len;
    s->first[s->n] = (int64_t)st.info.total_samples;
    s->fs = xmalloc(s->n * sizeof *s->fs);
    for (i = 0; i < s->n; i++)
        s->fs[i] = s->first[i + 1] - s->first[i];
    s->itemsize = st.info.bits_per_sample <= 16 ? 2 : 4;
    total = (size_t)st.info.total_samples;
    channels = st.info.channels;
    s->ref = xmalloc(total * channels * s->itemsize);
    if (wz_flacdec_init(&s->dec, s->info.raw, 34) != WZ_FLACDEC_OK) {
        fprintf(stderr, "%s: %s\n", path, s->dec.message);
        exit(2);
    }
    span[WZ_FLACDEC_DATA_START] = s->off[0];
    span[WZ_FLACDEC_DATA_STOP] = (int64_t)s->len;
    span[WZ_FLACDEC_FIRST_FRAME] = 0;
    span[WZ_FLACDEC_N_FRAMES] = (int64_t)s->n;
    span[WZ_FLACDEC_SKIP] = 0;
    span[WZ_FLACDEC_COUNT] = (int64_t)total;
    span[WZ_FLACDEC_OUT_ROW] = 0;
    status = wz_flacdec_decode(&s->dec, s->buf, s->len, span, 1, s->fs, s->first, s->n, s->ref, total,
                               (int64_t)(channels * s->itemsize), s->itemsize);
    if (status != WZ_FLACDEC_OK) {
        fprintf(stderr, "%s: %s\n", path, s->dec.message);
        exit(2);
    }
    printf("%s: %llu frames, %u channels, %u bits, %llu samples\n", path, (unsigned long long)s->n,
           st.info.channels, st.info.bits_per_sample, (unsigned long long)total);
}

/* A damaged copy of seed si in an exact-size block; *kind_out names the damage. */
static uint8_t *mutate(const seed *seeds, int nseeds, int si, size_t *len_out, int *kind_out)
{
    const seed *s = &seeds[si];
    size_t len = s->len, low = (size_t)s->off[0], pos, k, a, b, n;
    int kind = (int)below(10);
    uint8_t *dst, *tmp = xmalloc(len * 2 + 4096);

    memcpy(tmp, s->buf, len);
    pos = low + below(len - low);
    switch (kind) {
    case 0: /* an odd number of bit flips */
        for (k = (rnd() & 1) ? 3 : 1; k > 0; k--)
            tmp[low + below(len - low)] ^= (uint8_t)(1u << below(8));
        break;
    case 1: /* 1-2 bytes overwritten */
        for (k = 0; k < 1 + below(2) && pos + k < len; k++)
            tmp[pos + k] = (uint8_t)rnd();
        break;
    case 2: /* truncation */
        len = pos;
        break;
    case 3: /* deletion */
        n = 1 + below(50);
        if (pos + n > len)
            n = len - pos;
        memmove(tmp + pos, tmp + pos + n, len - pos - n);
        len -= n;
        break;
    case 4: /* insertion of random bytes */
        n = 1 + below(20);
        memmove(tmp + pos + n, tmp + pos, len - pos);
        for (k = 0; k < n; k++)
            tmp[pos + k] = (uint8_t)rnd();
        len += n;
        break;
    case 5: /* a frame duplicated after itself */
        k = below(s->n);
        a = (size_t)s->off[k];
        b = (size_t)s->off[k + 1];
        memmove(tmp + b + (b - a), tmp + b, len - b);
        memcpy(tmp + b, s->buf + a, b - a);
        len += b - a;
        break;
    case 6: /* a frame replaced by another frame, of this seed or another */
    case 7: {
        const seed *d = kind == 6 || nseeds == 1 ? s : &seeds[below((size_t)nseeds)];
        size_t j = below(d->n), da = (size_t)d->off[j], db = (size_t)d->off[j + 1];
        k = below(s->n);
        a = (size_t)s->off[k];
        b = (size_t)s->off[k + 1];
        if (db - da > len + 4096 - b)
            break;
        memmove(tmp + a + (db - da), tmp + b, len - b);
        memcpy(tmp + a, d->buf + da, db - da);
        len = len - (b - a) + (db - da);
        break;
    }
    case 8: /* a random buffer */
        len = below(3000);
        for (k = 0; k < len; k++)
            tmp[k] = (uint8_t)rnd();
        break;
    default: /* intact */
        break;
    }
    dst = xmalloc(len);
    memcpy(dst, tmp, len);
    free(tmp);
    *len_out = len;
    *kind_out = kind;
    return dst;
}

/* Random spans of the original index (see the file comment). Returns the count. */
static size_t make_spans(const seed *s, size_t len, size_t rows, int64_t *spans)
{
    size_t count = 1 + below(MAX_SPANS), k;
    for (k = 0; k < count; k++) {
        int64_t *sp = spans + k * N_COLS;
        size_t a = below(s->n), b = a + 1 + below(4);
        int64_t total, skip, keep;
        if (b > s->n)
            b = s->n;
        total = s->first[b] - s->first[a];
        skip = (int64_t)below((size_t)total + 1);
        keep = (int64_t)below((size_t)(total - skip) + 1);
        if ((size_t)keep > rows)
            keep = (int64_t)rows;
        sp[WZ_FLACDEC_DATA_START] = s->off[a];
        sp[WZ_FLACDEC_DATA_STOP] = s->off[b];
        sp[WZ_FLACDEC_FIRST_FRAME] = (int64_t)a;
        sp[WZ_FLACDEC_N_FRAMES] = (int64_t)(b - a);
        sp[WZ_FLACDEC_SKIP] = skip;
        sp[WZ_FLACDEC_COUNT] = keep;
        sp[WZ_FLACDEC_OUT_ROW] = (int64_t)below(rows - (size_t)keep + 1);
        if (below(10) < 8) { /* cut at a shortened buffer's end */
            if ((size_t)sp[WZ_FLACDEC_DATA_STOP] > len)
                sp[WZ_FLACDEC_DATA_STOP] = (int64_t)len;
            if (sp[WZ_FLACDEC_DATA_START] > sp[WZ_FLACDEC_DATA_STOP])
                sp[WZ_FLACDEC_DATA_START] = sp[WZ_FLACDEC_DATA_STOP];
        }
    }
    if (below(5) == 0) /* a random value somewhere */
        spans[below(count) * N_COLS + below(N_COLS)] = (int64_t)below(len + 10) - 5;
    return count;
}

/* After a success: every span's bytes must be original frames, decoded into its rows exactly. */
static void check_success(const seed *s, const uint8_t *buf, size_t len, const int64_t *spans, size_t count,
                          int numbered, const uint8_t *before, const uint8_t *out, size_t out_bytes,
                          size_t stride)
{
    uint8_t *want = xmalloc(out_bytes);
    size_t k, row_bytes = s->info.channels * s->itemsize;
    memcpy(want, before, out_bytes);
    for (k = 0; k < count; k++) {
        const int64_t *sp = spans + k * N_COLS;
        size_t start = (size_t)sp[0], stop = (size_t)sp[1], n = (size_t)sp[3], f, j;
        int found = 0;
        if (stop > len)
            fail_check("a span past the buffer decoded", s, 0, "");
        for (f = 0; f + n <= s->n && !found; f++)
            found = (size_t)(s->off[f + n] - s->off[f]) == stop - start &&
                    memcmp(buf + start, s->buf + s->off[f], stop - start) == 0;
        if (!found)
            fail_check("a span decoded whose bytes are not original frames", s, 0, "");
        f--;
        if (numbered && (int64_t)f != sp[2])
            fail_check("a frame in the wrong place decoded despite first_samples", s, 0, "");
        for (j = 0; j < (size_t)sp[5]; j++)
            memcpy(want + ((size_t)sp[6] + j) * stride + s->itemsize,
                   s->ref + ((size_t)s->first[f] + (size_t)sp[4] + j) * row_bytes, row_bytes);
    }
    if (memcmp(want, out, out_bytes) != 0)
        fail_check("decoded samples differ from the reference", s, 0, "");
    free(want);
}

static int fuzz(long iterations, int nseeds, seed *seeds)
{
    unsigned long counts[32] = {0};
    long it;
    for (it = 0; it < iterations; it++) {
        int si = (int)below((size_t)nseeds), kind, status, numbered;
        seed *s = &seeds[si];
        size_t len, count, rows = 3 * s->info.max_blocksize, stride = (s->info.channels + 2) * s->itemsize;
        size_t out_bytes = rows * stride, k;
        int64_t spans[MAX_SPANS * N_COLS];
        uint8_t *buf = mutate(seeds, nseeds, si, &len, &kind);
        uint8_t *out = xmalloc(out_bytes), *before = xmalloc(out_bytes);

        for (k = 0; k < out_bytes; k++)
            out[k] = (uint8_t)rnd();
        memcpy(before, out, out_bytes);
        count = make_spans(s, len, rows, spans);
        numbered = kind == 6 || (rnd() & 1);
        status = wz_flacdec_decode(&s->dec, buf, len, spans, count, s->fs, numbered ? s->first : NULL, s->n,
                                   out + s->itemsize, rows, (int64_t)stride, s->itemsize);
        if (status == WZ_FLACDEC_OK) {
            check_success(s, buf, len, spans, count, numbered, before, out, out_bytes, stride);
        } else {
            if (s->dec.message[0] == '\0' || memchr(s->dec.message, '\0', sizeof s->dec.message) == NULL)
                fail_check("an error without a message", s, status, "");
            if (status == WZ_FLACDEC_ARGUMENT) {
                if (memcmp(before, out, out_bytes) != 0)
                    fail_check("an argument error wrote into out", s, status, s->dec.message);
            } else if (status == WZ_FLACDEC_LIBFLAC || status == WZ_FLACDEC_UNBOUND || status >= 32 ||
                       s->dec.err_frame < 0 || (uint64_t)s->dec.err_frame >= s->n ||
                       s->dec.err_offset > len) {
                fail_check("an unexpected error report", s, status, s->dec.message);
            }
        }
        counts[status & 31]++;
        free(buf);
        free(out);
        free(before);
    }
    printf("%ld iterations; statuses:", iterations);
    for (it = 0; it < 32; it++)
        if (counts[it])
            printf(" %ld: %lu", it, counts[it]);
    printf("\n");
    return 0;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int bench(seed *s, long n_spans, long per_call, long frames)
{
    size_t channels = s->info.channels, row_bytes = channels * s->itemsize;
    size_t max_rows = (size_t)(frames * (long)s->info.max_blocksize), k;
    int64_t *spans = xmalloc((size_t)n_spans * N_COLS * sizeof *spans);
    uint8_t *out = xmalloc((size_t)per_call * max_rows * row_bytes);
    double t0, dt;
    long i;
    if ((uint64_t)frames > s->n)
        frames = (long)s->n;
    for (i = 0; i < n_spans; i++) {
        int64_t *sp = spans + i * N_COLS;
        size_t a = below(s->n - (size_t)frames + 1);
        sp[0] = s->off[a];
        sp[1] = s->off[a + (size_t)frames];
        sp[2] = (int64_t)a;
        sp[3] = frames;
        sp[4] = 0;
        sp[5] = s->first[a + (size_t)frames] - s->first[a];
        sp[6] = (int64_t)((size_t)(i % per_call) * max_rows);
    }
    t0 = now();
    for (k = 0; k < (size_t)n_spans; k += (size_t)per_call) {
        size_t m = (size_t)n_spans - k < (size_t)per_call ? (size_t)n_spans - k : (size_t)per_call;
        int status = wz_flacdec_decode(&s->dec, s->buf, s->len, spans + k * N_COLS, m, s->fs, s->first, s->n,
                                       out, (size_t)per_call * max_rows, (int64_t)row_bytes, s->itemsize);
        if (status != WZ_FLACDEC_OK) {
            fprintf(stderr, "%s\n", s->dec.message);
            return 1;
        }
    }
    dt = now() - t0;
    printf("%ld spans of %ld frames, %ld per call: %.1f us per span, %.1f us per frame\n", n_spans, frames,
           per_call, 1e6 * dt / (double)n_spans, 1e6 * dt / (double)(n_spans * frames));
    free(spans);
    free(out);
    return 0;
}

int main(int argc, char **argv)
{
    static seed seeds[MAX_SEEDS];
    int i, nseeds;
    if (argc >= 6 && strcmp(argv[1], "bench") == 0) {
        bind_libflac();
        load_seed(&seeds[0], argv[2]);
        return bench(&seeds[0], atol(argv[3]), atol(argv[4]) > 0 ? atol(argv[4]) : 1, atol(argv[5]));
    }
    if (argc < 5 || strcmp(argv[1], "fuzz") != 0) {
        fprintf(stderr, "usage: %s fuzz ITERATIONS SEED FILE...\n"
                        "       %s bench FILE SPANS PER_CALL FRAMES\n", argv[0], argv[0]);
        return 2;
    }
    rng_state ^= (uint64_t)strtoull(argv[3], NULL, 10) * 0x9E3779B97F4A7C15ull;
    bind_libflac();
    nseeds = argc - 4 > MAX_SEEDS ? MAX_SEEDS : argc - 4;
    for (i = 0; i < nseeds; i++)
        load_seed(&seeds[i], argv[4 + i]);
    fuzz(atol(argv[2]), nseeds, seeds);
    for (i = 0; i < nseeds; i++) {
        wz_flacdec_close(&seeds[i].dec);
        free(seeds[i].buf);
        free(seeds[i].off);
        free(seeds[i].first);
        free(seeds[i].fs);
        free(seeds[i].ref);
    }
    return 0;
}
