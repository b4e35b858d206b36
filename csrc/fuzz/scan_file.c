/*
 * Standalone driver for the frame scanners (FLAC, ADTS and MP3): benchmark and
 * mutation fuzzer.
 *
 *   scan_file bench FILE [REPEATS]
 *       Scan FILE REPEATS times (default 20) with the scanner of its format
 *       (FLAC if it starts with "fLaC", MP3 if with an MPEG audio header of
 *       layer I-III, else ADTS); print frames and MB/s.
 *   scan_file fuzz ITERATIONS SEED FILE...
 *       Mutate the FILEs (bit flips, byte overwrites, truncation, span
 *       duplication/deletion, random tails after a valid prefix, random
 *       buffers, splices of whole frames of two seeds of the same format) and
 *       scan each mutant with the scanner of its seed's format; check the
 *       output invariants of every successful scan. Seeds may mix the
 *       formats; the status counts are printed per scanner. Meant to run
 *       under -fsanitize=address,undefined (see docs/fuzzing.md).
 *
 * Build with -DWZ_LIBFUZZER and clang -fsanitize=fuzzer to get a libFuzzer
 * target (LLVMFuzzerTestOneInput, which runs the three scanners on every
 * input) instead of main().
 *
 * Unlike the library, this driver allocates: it grows the output arrays on
 * the CAPACITY status, as the Python wrappers do, starting small on purpose
 * so that the resume path is exercised.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wildzarr_core.h"

/* The frames of a successful scan (offsets and first samples, n entries). */
typedef struct frames {
    int64_t *off;
    int64_t *first;
    uint64_t n;
} frames;

/* Grow both output arrays to cap entries, keeping their contents. */
static void grow(frames *f, size_t cap)
{
    int64_t *o = realloc(f->off, cap * sizeof *o), *s;
    if (o == NULL)
        abort();
    f->off = o;
    s = realloc(f->first, cap * sizeof *s);
    if (s == NULL)
        abort();
    f->first = s;
}

/* Every error must come with a NUL-terminated, non-empty message. */
static void check_message(const char *message, size_t size)
{
    if (message[0] == '\0' || memchr(message, '\0', size) == NULL)
        abort();
}

/* Scan a FLAC buf fully; returns the final status and fills *out (caller frees).
 * On success, checks the invariants and aborts if one fails. */
static int scan_flac_all(const uint8_t *buf, size_t len, frames *out)
{
    wz_flac_scan st;
    size_t cap = 4, i;
    int status = wz_flac_scan_init(&st, buf, len);
    memset(out, 0, sizeof *out);
    if (status != WZ_FLAC_OK) {
        check_message(st.message, sizeof st.message);
        return status;
    }
    for (;;) {
        grow(out, cap);
        status = wz_flac_scan_frames(&st, buf, len, out->off, out->first, cap);
        if (status != WZ_FLAC_CAPACITY)
            break;
        cap *= 2;
    }
    if (status == WZ_FLAC_OK) {
        int64_t *off = out->off, *first = out->first;
        if (st.n_frames == 0 || (uint64_t)off[0] != st.first_frame || first[0] != 0)
            abort();
        for (i = 1; i < st.n_frames; i++) {
            if (off[i] <= off[i - 1] || first[i] <= first[i - 1] || (uint64_t)off[i] >= len)
                abort();
            if ((uint64_t)(first[i] - first[i - 1]) > st.info.max_blocksize)
                abort();
        }
        if ((uint64_t)first[st.n_frames - 1] >= st.info.total_samples || st.next_sample != st.info.total_samples)
            abort();
        out->n = st.n_frames;
    } else {
        check_message(st.message, sizeof st.message);
    }
    return status;
}

/* Scan an ADTS buf fully; as scan_flac_all. The invariants are checked
 * against each frame's header, parsed again with wz_adts_parse_header. */
static int scan_adts_all(const uint8_t *buf, size_t len, frames *out)
{
    wz_adts_scan st;
    size_t cap = 4, i;
    int status = wz_adts_scan_init(&st, buf, len, -1, -1);
    memset(out, 0, sizeof *out);
    if (status != WZ_ADTS_OK) {
        check_message(st.message, sizeof st.message);
        return status;
    }
    for (;;) {
        grow(out, cap);
        status = wz_adts_scan_frames(&st, buf, len, out->off, out->first, cap);
        if (status != WZ_ADTS_CAPACITY)
            break;
        cap *= 2;
    }
    if (status == WZ_ADTS_OK) {
        int64_t *off = out->off, *first = out->first;
        if (st.n_frames == 0 || off[0] != 0 || first[0] != 0)
            abort();
        for (i = 0; i < st.n_frames; i++) {
            wz_adts_header h;
            uint64_t end = i + 1 < st.n_frames ? (uint64_t)off[i + 1] : len;
            uint64_t next = i + 1 < st.n_frames ? (uint64_t)first[i + 1] : st.next_sample;
            if (wz_adts_parse_header(buf, len, (size_t)off[i], &h) != WZ_ADTS_OK)
                abort();
            if ((uint64_t)off[i] + h.frame_length != end || (uint64_t)first[i] + h.samples != next)
                abort();
            if (h.sampling_frequency_index != st.first.sampling_frequency_index
                || h.channel_configuration != st.first.channel_configuration
                || h.protection_absent != st.first.protection_absent || h.id != st.first.id || h.profile != 1)
                abort();
        }
        out->n = st.n_frames;
    } else {
        check_message(st.message, sizeof st.message);
    }
    return status;
}

/* Scan an MP3 buf fully; as scan_flac_all. The invariants are checked
 * against each frame's header, parsed again with wz_mp3_parse_header. */
static int scan_mp3_all(const uint8_t *buf, size_t len, frames *out)
{
    wz_mp3_scan st;
    size_t cap = 4, i;
    int64_t *mdb = NULL;
    uint64_t before = 0; /* bytes of main data area before frame i */
    int status = wz_mp3_scan_init(&st, buf, len, -1, -1);
    memset(out, 0, sizeof *out);
    if (status != WZ_MP3_OK) {
        check_message(st.message, sizeof st.message);
        return status;
    }
    for (;;) {
        int64_t *m;
        grow(out, cap);
        m = realloc(mdb, cap * sizeof *m);
        if (m == NULL)
            abort();
        mdb = m;
        status = wz_mp3_scan_frames(&st, buf, len, out->off, out->first, mdb, cap);
        if (status != WZ_MP3_CAPACITY)
            break;
        cap *= 2;
    }
    if (status == WZ_MP3_OK) {
        int64_t *off = out->off, *first = out->first;
        if (st.n_frames == 0 || off[0] != 0 || first[0] != 0 || mdb[0] != 0)
            abort();
        for (i = 0; i < st.n_frames; i++) {
            wz_mp3_header h;
            uint64_t end = i + 1 < st.n_frames ? (uint64_t)off[i + 1] : len;
            uint64_t next = i + 1 < st.n_frames ? (uint64_t)first[i + 1] : st.next_sample;
            if (wz_mp3_parse_header(buf, len, (size_t)off[i], &h) != WZ_MP3_OK)
                abort();
            if ((uint64_t)off[i] + h.frame_length != end || (uint64_t)first[i] + h.samples != next)
                abort();
            if (h.version_id != st.first.version_id || h.sampling_index != st.first.sampling_index
                || h.channels != st.first.channels || h.protection_bit != st.first.protection_bit)
                abort();
            /* The reservoir: main data starts after the stream's start and ends inside its frame. */
            if ((uint64_t)mdb[i] != h.main_data_begin || h.main_data_begin > before
                || h.main_data_bits > 8u * (h.main_data_begin + h.main_data_len))
                abort();
            before += h.main_data_len;
        }
        out->n = st.n_frames;
    } else {
        check_message(st.message, sizeof st.message);
    }
    free(mdb);
    return status;
}

static void free_frames(frames *f)
{
    free(f->off);
    free(f->first);
    memset(f, 0, sizeof *f);
}

#ifdef WZ_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    frames fr;
    scan_flac_all(data, size, &fr);
    free_frames(&fr);
    scan_adts_all(data, size, &fr);
    free_frames(&fr);
    scan_mp3_all(data, size, &fr);
    free_frames(&fr);
    return 0;
}
#else
enum format { FORMAT_FLAC, FORMAT_ADTS, FORMAT_MP3, FORMATS };

static const char *const format_names[FORMATS] = {"FLAC", "ADTS", "MP3"};

/* Largest status of each scanner's enum. */
static const int last_status[FORMATS] = {WZ_FLAC_ARGUMENT, WZ_ADTS_PROFILE, WZ_MP3_RESERVOIR};

static enum format format_of(const uint8_t *buf, size_t len)
{
    if (len >= 4 && memcmp(buf, "fLaC", 4) == 0)
        return FORMAT_FLAC;
    /* An MPEG audio syncword (11 bits) with a layer field other than 00, which ADTS has. */
    if (len >= 2 && buf[0] == 0xFF && (buf[1] & 0xE0) == 0xE0 && (buf[1] & 0x06) != 0)
        return FORMAT_MP3;
    return FORMAT_ADTS;
}

static int scan_all(enum format format, const uint8_t *buf, size_t len, frames *out)
{
    switch (format) {
    case FORMAT_FLAC:
        return scan_flac_all(buf, len, out);
    case FORMAT_MP3:
        return scan_mp3_all(buf, len, out);
    default:
        return scan_adts_all(buf, len, out);
    }
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long n;
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        perror(path);
        exit(2);
    }
    buf = malloc((size_t)n + 1);
    if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        perror(path);
        exit(2);
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* xorshift64*: a small deterministic PRNG. */
static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}
static size_t below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

/* A seed file: its bytes, format and (valid seeds) frames. */
typedef struct seed {
    uint8_t *buf;
    size_t len;
    enum format format;
    frames fr;
} seed;

/* Byte offset of frame i of a valid seed; i == n gives the seed's length. */
static size_t frame_start(const seed *s, uint64_t i)
{
    return i < s->fr.n ? (size_t)s->fr.off[i] : s->len;
}

/* Number of mutation kinds of mutate(). */
#define KINDS 8

/* One mutant of seeds[si] into dst (room for 2 * maxlen + 4096 bytes, maxlen
 * the longest seed's length); returns its length. */
static size_t mutate(const seed *seeds, int nseeds, int si, uint8_t *dst, int kind)
{
    const seed *s = &seeds[si];
    const uint8_t *src = s->buf;
    size_t len = s->len, n = len, i, a, b, k;
    memcpy(dst, src, len);
    switch (kind) {
    case 0: /* one bit flip */
        if (n) dst[below(n)] ^= (uint8_t)(1u << below(8));
        break;
    case 1: /* a few random byte overwrites */
        for (k = 1 + below(4); k-- && n;)
            dst[below(n)] = (uint8_t)rnd();
        break;
    case 2: /* truncation */
        n = below(n + 1);
        break;
    case 3: /* duplicate a span; the result is at most 2 * len bytes */
        a = below(n);
        b = a + below(n - a);
        memmove(dst + b + (b - a), dst + b, n - b);
        memcpy(dst + b, src + a, b - a);
        n += b - a;
        break;
    case 4: /* delete a span */
        a = below(n);
        b = a + below(n - a);
        memmove(dst + a, dst + b, n - b);
        n -= b - a;
        break;
    case 5: /* keep a prefix, random tail of up to 4095 bytes */
        a = below(n + 1);
        b = below(4096);
        for (i = 0; i < b; i++)
            dst[a + i] = (uint8_t)rnd();
        n = a + b;
        break;
    case 6: { /* whole frames of this seed, then whole frames of another seed of the same format */
        const seed *o = &seeds[below((size_t)nseeds)];
        uint64_t first;
        size_t cut, from, to;
        if (o->format != s->format || s->fr.n == 0 || o->fr.n == 0)
            break; /* unchanged: the seed itself */
        cut = frame_start(s, below(s->fr.n + 1));
        first = below(o->fr.n);
        from = frame_start(o, first);
        to = frame_start(o, first + 1 + below(o->fr.n - first));
        /* cut <= maxlen and to - from <= maxlen: fits in dst. */
        memcpy(dst + cut, o->buf + from, to - from);
        n = cut + (to - from);
        break;
    }
    default: /* pure random bytes, sometimes with the format's marker or a plausible ADTS/MP3 header */
        n = below(256);
        for (i = 0; i < n; i++)
            dst[i] = (uint8_t)rnd();
        if (n >= 4 && (rnd() & 1)) {
            if (s->format == FORMAT_FLAC)
                memcpy(dst, "fLaC", 4);
            else if (s->format == FORMAT_MP3)
                memcpy(dst, "\xff\xfb\x90\xc4", 4);
            else
                memcpy(dst, "\xff\xf1\x50\x80", 4);
        }
        break;
    }
    return n;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "bench") == 0) {
        size_t len;
        uint8_t *buf = read_file(argv[2], &len);
        enum format format = format_of(buf, len);
        int reps = argc > 3 ? atoi(argv[3]) : 20, r, status = 0;
        uint64_t n = 0;
        double best = 1e9;
        for (r = 0; r < reps; r++) {
            frames fr;
            double t0 = now(), dt;
            status = scan_all(format, buf, len, &fr);
            dt = now() - t0;
            n = fr.n;
            free_frames(&fr);
            if (dt < best)
                best = dt;
        }
        printf("%s (%s): %zu bytes, status %d, %llu frames, best of %d: %.2f ms = %.0f MB/s\n", argv[2],
               format_names[format], len, status, (unsigned long long)n, reps, best * 1e3,
               (double)len / best / 1e6);
        free(buf);
        return status != 0;
    }
    if (argc >= 5 && strcmp(argv[1], "fuzz") == 0) {
        long iterations = atol(argv[2]), it;
        int nseeds = argc - 4, f, k;
        long counts[FORMATS][16] = {{0}}, mutants[FORMATS] = {0};
        seed *seeds = calloc((size_t)nseeds, sizeof *seeds);
        size_t maxlen = 0;
        uint8_t *dst;
        if (seeds == NULL)
            abort();
        rng_state ^= (uint64_t)strtoull(argv[3], NULL, 10) * 0x9E3779B97F4A7C15ull;
        for (f = 0; f < nseeds; f++) {
            seed *s = &seeds[f];
            s->buf = read_file(argv[4 + f], &s->len);
            s->format = format_of(s->buf, s->len);
            if (scan_all(s->format, s->buf, s->len, &s->fr) != 0)
                fprintf(stderr, "note: seed %s is not a valid %s stream\n", argv[4 + f], format_names[s->format]);
            if (s->len > maxlen)
                maxlen = s->len;
        }
        dst = malloc(2 * maxlen + 4096 + 64);
        if (dst == NULL)
            abort();
        for (it = 0; it < iterations; it++) {
            frames fr;
            int si = (int)below((size_t)nseeds), kind = (int)below(KINDS), status;
            enum format format = seeds[si].format;
            size_t n = mutate(seeds, nseeds, si, dst, kind);
            /* Copy into an exact-size heap block so ASan sees any overread. */
            uint8_t *exact = malloc(n ? n : 1);
            if (exact == NULL)
                abort();
            memcpy(exact, dst, n);
            status = scan_all(format, exact, n, &fr);
            free_frames(&fr);
            free(exact);
            if (status < 0 || status > last_status[format])
                abort();
            counts[format][status]++;
            mutants[format]++;
        }
        printf("fuzz: %ld mutants of %d files\n", iterations, nseeds);
        for (k = 0; k < FORMATS; k++) {
            printf("  %s: %ld mutants; status counts:", format_names[k], mutants[k]);
            for (f = 0; f < 16; f++)
                if (counts[k][f])
                    printf(" %d:%ld", f, counts[k][f]);
            printf("\n");
        }
        fflush(stdout);
        for (f = 0; f < nseeds; f++) {
            free(seeds[f].buf);
            free_frames(&seeds[f].fr);
        }
        free(seeds);
        free(dst);
        return 0;
    }
    fprintf(stderr, "usage: %s bench FILE [REPEATS] | fuzz ITERATIONS SEED FILE...\n", argv[0]);
    return 2;
}
#endif
