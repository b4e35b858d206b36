/*
 * wildzarr C core: a validating FLAC frame scanner (RFC 9639).
 *
 * The scanner finds the byte offset and first sample of every frame of a
 * complete FLAC stream held in memory. It trusts nothing in the input: every
 * read is bounds-checked, every frame is checked (header fields against
 * STREAMINFO, CRC-8, CRC-16, sample continuity) and the frames must add up to
 * STREAMINFO's total sample count.
 *
 * Memory: the library never allocates. The caller owns the input buffer, the
 * wz_scan state and the two output arrays. When the arrays fill up,
 * wz_scan_frames() returns WZ_CAPACITY with the state intact; the caller grows
 * the arrays (keeping the first st->n_frames entries) and calls again.
 *
 * Threads: functions touch only their arguments (the CRC tables are const),
 * so independent scans may run in parallel.
 *
 * This header is also parsed by cffi (src/wildzarr/_core_build.py), which
 * cannot read preprocessor conditionals or expressions: keep it to plain
 * declarations and literal enum values.
 */
#ifndef WILDZARR_CORE_H
#define WILDZARR_CORE_H

#include <stddef.h>
#include <stdint.h>

/* Status codes. Stable numbers: Python's StreamError.code carries them. */
enum wz_status {
    WZ_OK = 0,          /* success: the stream is fully scanned */
    WZ_NOT_FLAC = 1,    /* no "fLaC" marker at offset 0 */
    WZ_METADATA = 2,    /* a bad metadata block header or block (RFC 9639 s. 8.1) */
    WZ_STREAMINFO = 3,  /* STREAMINFO missing, misplaced or with invalid fields (s. 8.2) */
    WZ_NO_FRAMES = 4,   /* metadata is followed by no audio frames */
    WZ_SYNC = 5,        /* no frame sync code (0xFFF8/0xFFF9) where a frame must start (s. 9.1) */
    WZ_HEADER = 6,      /* an invalid frame header field or one contradicting STREAMINFO (s. 9.1) */
    WZ_CRC8 = 7,        /* frame header CRC-8 mismatch (s. 9.1.8) */
    WZ_CRC16 = 8,       /* frame CRC-16 mismatch: a corrupted frame (s. 9.3) */
    WZ_SEQUENCE = 9,    /* a frame/sample number breaks continuity (s. 9.1.5) */
    WZ_TOTAL = 10,      /* frames do not add up to STREAMINFO's total samples */
    WZ_TRUNCATED = 11,  /* the buffer ends inside metadata or a frame */
    WZ_CAPACITY = 12,   /* output arrays full: grow them and call wz_scan_frames again */
    WZ_ARGUMENT = 13    /* invalid call (NULL pointer, state not initialised, ...) */
};

/* The STREAMINFO metadata block (RFC 9639 section 8.2), decoded. */
typedef struct wz_streaminfo {
    uint32_t min_blocksize;   /* samples per channel, 16..65535 */
    uint32_t max_blocksize;   /* samples per channel, min..65535 */
    uint32_t min_framesize;   /* bytes, 0 = unknown */
    uint32_t max_framesize;   /* bytes, 0 = unknown */
    uint32_t samplerate;      /* Hz, 1..1048575 */
    uint32_t channels;        /* 1..8 */
    uint32_t bits_per_sample; /* 4..32 */
    uint64_t total_samples;   /* samples per channel, > 0 required by wildzarr */
    uint8_t md5[16];          /* MD5 of the decoded samples */
    uint8_t raw[34];          /* the 34-byte block body, as found in the stream */
} wz_streaminfo;

/* Scan state: set by wz_scan_init(), advanced by wz_scan_frames().
 * The caller allocates it (e.g. ffi.new("wz_scan *")) and treats the progress
 * fields as read-only. On error, status/err_offset/err_frame/message say
 * what went wrong and where. */
typedef struct wz_scan {
    wz_streaminfo info;
    uint64_t first_frame;     /* byte offset of the first frame (end of metadata) */
    uint64_t stream_len;      /* length of the buffer given to wz_scan_init */
    /* progress */
    uint64_t pos;             /* byte offset of the next frame to validate */
    uint64_t next_sample;     /* first sample that frame must carry */
    uint64_t n_frames;        /* frames validated and written so far */
    int32_t blocking;         /* -1 unknown yet, 0 fixed (frame numbers), 1 variable (sample numbers) */
    uint32_t fixed_blocksize; /* fixed streams: STREAMINFO's block size if min == max, else frame 0's */
    int32_t initialised;      /* 1 after a successful wz_scan_init */
    int32_t finished;         /* 1 once the whole stream has been validated */
    /* error report */
    int32_t status;           /* last status returned */
    uint64_t err_offset;      /* byte offset where the problem was found */
    int64_t err_frame;        /* index of the frame concerned, -1 for metadata */
    char message[256];        /* human-readable description (NUL-terminated) */
} wz_scan;

/* A decoded frame header (RFC 9639 section 9.1). */
typedef struct wz_frame_header {
    uint32_t header_len;      /* bytes, including the CRC-8 byte */
    uint32_t blocksize;       /* samples per channel in this frame */
    uint32_t samplerate;      /* Hz, 0 = "see STREAMINFO" */
    uint32_t channels;        /* 1..8 */
    uint32_t channel_assignment; /* the 4-bit code: 0..7 independent, 8..10 stereo decorrelation */
    uint32_t bits_per_sample; /* 0 = "see STREAMINFO" */
    int32_t variable;         /* blocking strategy bit: 1 = variable block size */
    uint64_t number;          /* coded frame number (fixed) or sample number (variable) */
} wz_frame_header;

/* Parse "fLaC" and the metadata blocks of buf[0:len) and prepare st for
 * wz_scan_frames(). Returns WZ_OK or an error status (also in st->status). */
int wz_scan_init(wz_scan *st, const uint8_t *buf, size_t len);

/* Validate frames from st->pos on and write, for frame i = st->n_frames ...,
 * offsets[i] (byte offset) and first_samples[i] (first sample per channel),
 * for i < capacity. buf and len must be those given to wz_scan_init.
 * Returns WZ_OK when the whole stream is validated (st->n_frames frames),
 * WZ_CAPACITY when the arrays are full (grow and call again, entries below
 * st->n_frames are kept), or an error status. The GIL is released. */
int wz_scan_frames(wz_scan *st, const uint8_t *buf, size_t len,
                   int64_t *offsets, int64_t *first_samples, size_t capacity);

/* Parse and check the frame header at buf[pos:len) against info (may be NULL
 * to skip the STREAMINFO comparisons). Returns WZ_OK, WZ_SYNC, WZ_HEADER,
 * WZ_CRC8 or WZ_TRUNCATED. For tests and tools; the scanner uses the same code. */
int wz_parse_frame_header(const uint8_t *buf, size_t len, size_t pos,
                          const wz_streaminfo *info, wz_frame_header *out);

/* CRC-8 (poly 0x07) and CRC-16 (poly 0x8005) as FLAC uses them, continuing
 * from crc (0 to start). Exposed for tests. */
uint8_t wz_crc8(uint8_t crc, const uint8_t *data, size_t len);
uint16_t wz_crc16(uint16_t crc, const uint8_t *data, size_t len);

#endif /* WILDZARR_CORE_H */
