/*
 * Standalone driver for the FLAC scanner: benchmark and mutation fuzzer.
 *
 *   scan_file bench FILE [REPEATS]
 *       Scan FILE REPEATS times (default 20); print frames and MB/s.
 *   scan_file fuzz ITERATIONS SEED FILE...
 *       Mutate the FILEs (bit flips, byte overwrites, truncation, frame-region
 *       splices, random tails after a valid prefix, pure random buffers) and
 *       scan each mutant; check the output invariants of every successful scan.
 *       Meant to run under -fsanitize=address,undefined (see docs/fuzzing.md).
 *
 * Build with -DWZ_LIBFUZZER and clang -fsanitize=fuzzer to get a libFuzzer
 * target (LLVMFuzzerTestOneInput) instead of main().
 *
 * Unlike the library, this driver allocates: it sizes the output arrays from
 * STREAMINFO and grows them on WZ_CAPACITY, as the Python wrapper does.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wildzarr_core.h"

/* Scan buf fully. Returns the final status; *frames gets the frame count.
 * On success, checks the invariants and aborts if one fails. */
static int scan_all(const uint8_t *buf, size_t len, uint64_t *frames)
{
    wz_scan st;
    int64_t *off = NULL, *first = NULL;
    size_t cap, i;
    int status = wz_scan_init(&st, buf, len);
    *frames = 0;
    if (status != WZ_OK)
        return status;
    /* Start small on purpose so that the resume path is exercised. */
    cap = 4;
    for (;;) {
        int64_t *o2 = realloc(off, cap * sizeof *off), *f2;
        if (o2 == NULL)
            abort();
        off = o2;
        f2 = realloc(first, cap * sizeof *first);
        if (f2 == NULL)
            abort();
        first = f2;
        status = wz_scan_frames(&st, buf, len, off, first, cap);
        if (status != WZ_CAPACITY)
            break;
        cap *= 2;
    }
    if (status == WZ_OK) {
        if (st.n_frames == 0 || (uint64_t)off[0] != st.first_frame || first[0] != 0)
            abort();
        for (i = 1; i < st.n_frames; i++) {
            if (off[i] <= off[i - 1] || first[i] <= first[i - 1] || (uint64_t)off[i] >= len)
                abort();
            if ((uint64_t)(first[i] - first[i - 1]) > st.info.max_blocksize)
                abort();
        }
        if ((uint64_t)first[st.n_frames - 1] >= st.info.total_samples)
            abort();
    } else if (st.message[0] == '\0' || memchr(st.message, '\0', sizeof st.message) == NULL) {
        abort(); /* every error must come with a message */
    }
    *frames = st.n_frames;
    free(off);
    free(first);
    return status;
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

/* One mutant of src into dst (dst has room for 2 * len + 4096 bytes). */
static size_t mutate(const uint8_t *src, size_t len, uint8_t *dst, int kind)
{
    size_t n = len, i, a, b, k;
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
    case 3: /* duplicate a span (splice); the result is at most 2 * len bytes */
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
    default: /* pure random bytes, sometimes with the marker */
        n = below(256);
        for (i = 0; i < n; i++)
            dst[i] = (uint8_t)rnd();
        if (n >= 4 && (rnd() & 1))
            memcpy(dst, "fLaC", 4);
        break;
    }
    return n;
}

#ifdef WZ_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t frames;
    scan_all(data, size, &frames);
    return 0;
}
#else
int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "bench") == 0) {
        size_t len;
        uint8_t *buf = read_file(argv[2], &len);
        int reps = argc > 3 ? atoi(argv[3]) : 20, r, status = WZ_OK;
        uint64_t frames = 0;
        double best = 1e9;
        for (r = 0; r < reps; r++) {
            double t0 = now(), dt;
            status = scan_all(buf, len, &frames);
            dt = now() - t0;
            if (dt < best)
                best = dt;
        }
        printf("%s: %zu bytes, status %d, %llu frames, best of %d: %.2f ms = %.0f MB/s\n", argv[2], len,
               status, (unsigned long long)frames, reps, best * 1e3, (double)len / best / 1e6);
        free(buf);
        return status != WZ_OK;
    }
    if (argc >= 5 && strcmp(argv[1], "fuzz") == 0) {
        long iterations = atol(argv[2]), it;
        int nfiles = argc - 4, f;
        long counts[14] = {0};
        uint8_t **src = malloc(sizeof *src * (size_t)nfiles);
        size_t *lens = malloc(sizeof *lens * (size_t)nfiles), maxlen = 0;
        uint8_t *dst;
        rng_state ^= (uint64_t)strtoull(argv[3], NULL, 10) * 0x9E3779B97F4A7C15ull;
        for (f = 0; f < nfiles; f++) {
            src[f] = read_file(argv[4 + f], &lens[f]);
            if (lens[f] > maxlen)
                maxlen = lens[f];
        }
        dst = malloc(2 * maxlen + 4096 + 64);
        for (it = 0; it < iterations; it++) {
            uint64_t frames;
            int fi = (int)below((size_t)nfiles), kind = (int)below(7), status;
            size_t n = mutate(src[fi], lens[fi], dst, kind);
            /* Copy into an exact-size heap block so ASan sees any overread. */
            uint8_t *exact = malloc(n ? n : 1);
            memcpy(exact, dst, n);
            status = scan_all(exact, n, &frames);
            free(exact);
            if (status < 0 || status > 13)
                abort();
            counts[status]++;
        }
        printf("fuzz: %ld mutants of %d files; status counts:", iterations, nfiles);
        for (f = 0; f < 14; f++)
            printf(" %d:%ld", f, counts[f]);
        printf("\n");
        fflush(stdout);
        for (f = 0; f < nfiles; f++)
            free(src[f]);
        free(src);
        free(lens);
        free(dst);
        return 0;
    }
    fprintf(stderr, "usage: %s bench FILE [REPEATS] | fuzz ITERATIONS SEED FILE...\n", argv[0]);
    return 2;
}
#endif
