/*
 * wildzarr C core: validating frame scanners for the codecs wildzarr stores.
 *
 *   FLAC (RFC 9639)                 csrc/flac_scan.c, names wz_flac_* / WZ_FLAC_*
 *   AAC-LC in ADTS frames           csrc/adts_scan.c, names wz_adts_* / WZ_ADTS_*
 *   (ISO/IEC 13818-7 s. 6.2, ISO/IEC 14496-3 s. 1.A.3.2)
 *   MPEG-1/2/2.5 audio Layer III    csrc/mp3_scan.c, names wz_mp3_* / WZ_MP3_*
 *   (ISO/IEC 11172-3 s. 2.4, ISO/IEC 13818-3 s. 2.4)
 *   CRC-8 / CRC-16                  csrc/crc.c, wz_crc8 / wz_crc16 (generic)
 *   FLAC decoding with libFLAC      csrc/flac_decode.c, names wz_flacdec_* / WZ_FLACDEC_*
 *
 * Each scanner finds the byte offset and first sample of every frame of a
 * complete stream held in memory. They trust nothing in the input: every
 * read is bounds-checked and every frame is checked before it is indexed.
 *
 * Memory: the scanners never allocate (the FLAC decoder's libFLAC instance
 * does; see its section). The caller owns the input buffer, the
 * scan state and the output arrays (two; the MP3 scanner has an optional
 * third). When the arrays fill up, the *_scan_frames() function returns its
 * CAPACITY status with the state intact; the caller grows the arrays (keeping
 * the first st->n_frames entries) and calls again.
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

/* ======================================================================== */
/* FLAC (RFC 9639)                                                          */
/* ======================================================================== */

/* Status codes. Stable numbers: Python's StreamError.code carries them. */
enum wz_flac_status {
    WZ_FLAC_OK = 0,          /* success: the stream is fully scanned */
    WZ_FLAC_NOT_FLAC = 1,    /* no "fLaC" marker at offset 0 */
    WZ_FLAC_METADATA = 2,    /* a bad metadata block header or block (RFC 9639 s. 8.1) */
    WZ_FLAC_STREAMINFO = 3,  /* STREAMINFO missing, misplaced or with invalid fields (s. 8.2) */
    WZ_FLAC_NO_FRAMES = 4,   /* metadata is followed by no audio frames */
    WZ_FLAC_SYNC = 5,        /* no frame sync code (0xFFF8/0xFFF9) where a frame must start (s. 9.1) */
    WZ_FLAC_HEADER = 6,      /* an invalid frame header field or one contradicting STREAMINFO (s. 9.1) */
    WZ_FLAC_CRC8 = 7,        /* frame header CRC-8 mismatch (s. 9.1.8) */
    WZ_FLAC_CRC16 = 8,       /* frame CRC-16 mismatch: a corrupted frame (s. 9.3) */
    WZ_FLAC_SEQUENCE = 9,    /* a frame/sample number breaks continuity (s. 9.1.5) */
    WZ_FLAC_TOTAL = 10,      /* frames do not add up to STREAMINFO's total samples */
    WZ_FLAC_TRUNCATED = 11,  /* the buffer ends inside metadata or a frame */
    WZ_FLAC_CAPACITY = 12,   /* output arrays full: grow them and call wz_flac_scan_frames again */
    WZ_FLAC_ARGUMENT = 13    /* invalid call (NULL pointer, state not initialised, ...) */
};

/* The STREAMINFO metadata block (RFC 9639 section 8.2), decoded. */
typedef struct wz_flac_streaminfo {
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
} wz_flac_streaminfo;

/* Scan state: set by wz_flac_scan_init(), advanced by wz_flac_scan_frames().
 * The caller allocates it (e.g. ffi.new("wz_flac_scan *")) and treats the
 * progress fields as read-only. On error, status/err_offset/err_frame/message
 * say what went wrong and where. */
typedef struct wz_flac_scan {
    wz_flac_streaminfo info;
    uint64_t first_frame;     /* byte offset of the first frame (end of metadata) */
    uint64_t stream_len;      /* length of the buffer given to wz_flac_scan_init */
    /* progress */
    uint64_t pos;             /* byte offset of the next frame to validate */
    uint64_t next_sample;     /* first sample that frame must carry */
    uint64_t n_frames;        /* frames validated and written so far */
    int32_t blocking;         /* -1 unknown yet, 0 fixed (frame numbers), 1 variable (sample numbers) */
    uint32_t fixed_blocksize; /* fixed streams: STREAMINFO's block size if min == max, else frame 0's */
    int32_t initialised;      /* 1 after a successful wz_flac_scan_init */
    int32_t finished;         /* 1 once the whole stream has been validated */
    /* error report */
    int32_t status;           /* last status returned */
    uint64_t err_offset;      /* byte offset where the problem was found */
    int64_t err_frame;        /* index of the frame concerned, -1 for metadata */
    char message[256];        /* human-readable description (NUL-terminated) */
} wz_flac_scan;

/* A decoded frame header (RFC 9639 section 9.1). */
typedef struct wz_flac_frame_header {
    uint32_t header_len;      /* bytes, including the CRC-8 byte */
    uint32_t blocksize;       /* samples per channel in this frame */
    uint32_t samplerate;      /* Hz, 0 = "see STREAMINFO" */
    uint32_t channels;        /* 1..8 */
    uint32_t channel_assignment; /* the 4-bit code: 0..7 independent, 8..10 stereo decorrelation */
    uint32_t bits_per_sample; /* 0 = "see STREAMINFO" */
    int32_t variable;         /* blocking strategy bit: 1 = variable block size */
    uint64_t number;          /* coded frame number (fixed) or sample number (variable) */
} wz_flac_frame_header;

/* Decode the bare 34-byte STREAMINFO body (RFC 9639 section 8.2) at
 * body[0:len) into out and validate it as the scanner does (block sizes
 * 16..65535 with min <= max, frame sizes min <= max when both known, sample
 * rate > 0, 4..32 bits, total samples > 0). Returns WZ_FLAC_OK,
 * WZ_FLAC_STREAMINFO (len != 34 leaves out untouched; an invalid field leaves
 * out filled, wz_flac_check_streaminfo says which) or WZ_FLAC_ARGUMENT (NULL
 * pointer). wz_flac_scan_init() parses STREAMINFO with this function. */
int wz_flac_parse_streaminfo(const uint8_t *body, size_t len, wz_flac_streaminfo *out);

/* The validation step of wz_flac_parse_streaminfo() on a decoded block:
 * returns WZ_FLAC_OK, WZ_FLAC_STREAMINFO or WZ_FLAC_ARGUMENT (info NULL). On
 * WZ_FLAC_STREAMINFO it writes a NUL-terminated description of the first
 * invalid field into message[0:size) (if message is not NULL and size > 0). */
int wz_flac_check_streaminfo(const wz_flac_streaminfo *info, char *message, size_t size);

/* Parse "fLaC" and the metadata blocks of buf[0:len) and prepare st for
 * wz_flac_scan_frames(). Returns WZ_FLAC_OK or an error status (also in
 * st->status). */
int wz_flac_scan_init(wz_flac_scan *st, const uint8_t *buf, size_t len);

/* Validate frames from st->pos on and write, for frame i = st->n_frames ...,
 * offsets[i] (byte offset) and first_samples[i] (first sample per channel),
 * for i < capacity. buf and len must be those given to wz_flac_scan_init.
 * Returns WZ_FLAC_OK when the whole stream is validated (st->n_frames frames),
 * WZ_FLAC_CAPACITY when the arrays are full (grow and call again, entries below
 * st->n_frames are kept), or an error status. The GIL is released. */
int wz_flac_scan_frames(wz_flac_scan *st, const uint8_t *buf, size_t len,
                        int64_t *offsets, int64_t *first_samples, size_t capacity);

/* Parse and check the frame header at buf[pos:len) against info (may be NULL
 * to skip the STREAMINFO comparisons). Returns WZ_FLAC_OK, WZ_FLAC_SYNC,
 * WZ_FLAC_HEADER, WZ_FLAC_CRC8 or WZ_FLAC_TRUNCATED. For tests and tools; the
 * scanner uses the same code. */
int wz_flac_parse_frame_header(const uint8_t *buf, size_t len, size_t pos,
                               const wz_flac_streaminfo *info, wz_flac_frame_header *out);

/* ======================================================================== */
/* AAC-LC in ADTS frames (ISO/IEC 13818-7 s. 6.2, ISO/IEC 14496-3 s. 1.A.3.2) */
/* ======================================================================== */

/* Status codes. Stable numbers: Python's StreamError.code carries them. */
enum wz_adts_status {
    WZ_ADTS_OK = 0,          /* success: the stream is fully scanned */
    WZ_ADTS_NO_FRAMES = 1,   /* the buffer is empty */
    WZ_ADTS_SYNC = 2,        /* no syncword 0xFFF where a frame must start */
    WZ_ADTS_HEADER = 3,      /* invalid header field: layer, sampling index, frame length, block positions */
    WZ_ADTS_MISMATCH = 4,    /* a fixed-header field differs from frame 0's or the caller's expectation */
    WZ_ADTS_CRC = 5,         /* header CRC mismatch (frames with 2-4 raw data blocks and a CRC only) */
    WZ_ADTS_TRUNCATED = 6,   /* the buffer ends inside a frame header or a frame */
    WZ_ADTS_CAPACITY = 7,    /* output arrays full: grow them and call wz_adts_scan_frames again */
    WZ_ADTS_ARGUMENT = 8,    /* invalid call (NULL pointer, state not initialised, bad expectation) */
    WZ_ADTS_PROFILE = 9      /* a valid ADTS header whose profile is not AAC LC (Main, SSR or LTP) */
};

/* A decoded ADTS frame header: adts_fixed_header, adts_variable_header and,
 * when protection_absent == 0, adts_error_check or adts_header_error_check. */
typedef struct wz_adts_header {
    uint32_t header_len;      /* bytes: 7, or 7 + 2 * raw_data_blocks with a CRC (9 for one block) */
    uint32_t frame_length;    /* aac_frame_length: bytes of the whole frame, header included */
    uint32_t id;              /* ID bit: 0 = MPEG-4, 1 = MPEG-2 */
    uint32_t protection_absent; /* 1 = no CRC, 0 = crc_check present */
    uint32_t profile;         /* 2-bit profile field (audio object type - 1): 1 = AAC LC */
    uint32_t sampling_frequency_index; /* 0..12 */
    uint32_t samplerate;      /* Hz, 7350..96000, from the sampling index */
    uint32_t channel_configuration; /* 0..7; 0 = channels defined by a PCE inside the frame */
    uint32_t channels;        /* from the configuration: 1, 2, 3, 4, 5, 6, 8; 0 for configuration 0 */
    uint32_t buffer_fullness; /* adts_buffer_fullness, 0x7FF = variable bit rate */
    uint32_t raw_data_blocks; /* number_of_raw_data_blocks_in_frame + 1: 1..4 */
    uint32_t samples;         /* samples per channel in the frame: 1024 * raw_data_blocks */
    uint32_t crc;             /* the header's crc_check field, 0 when protection_absent */
    int32_t crc_verified;     /* 1 when that CRC was checked (a CRC and 2-4 raw data blocks) */
} wz_adts_header;

/* Scan state: set by wz_adts_scan_init(), advanced by wz_adts_scan_frames().
 * The caller allocates it (e.g. ffi.new("wz_adts_scan *")) and treats the
 * progress fields as read-only. On error, status/err_offset/err_frame/message
 * say what went wrong and where. */
typedef struct wz_adts_scan {
    wz_adts_header first;     /* frame 0's header: every frame must repeat its fixed fields */
    int32_t expected_samplerate; /* Hz the caller requires, -1 = any */
    int32_t expected_channel_configuration; /* 0..7 the caller requires, -1 = any */
    uint64_t stream_len;      /* length of the buffer given to wz_adts_scan_init */
    /* progress */
    uint64_t pos;             /* byte offset of the next frame to validate */
    uint64_t next_sample;     /* first sample (per channel) of that frame */
    uint64_t n_frames;        /* frames validated and written so far */
    uint64_t crc_verified;    /* how many of them had their header CRC checked */
    int32_t initialised;      /* 1 after a successful wz_adts_scan_init */
    int32_t finished;         /* 1 once the whole stream has been validated */
    /* error report */
    int32_t status;           /* last status returned */
    uint64_t err_offset;      /* byte offset where the problem was found */
    int64_t err_frame;        /* index of the frame concerned, -1 when none */
    char message[256];        /* human-readable description (NUL-terminated) */
} wz_adts_scan;

/* Parse and check the ADTS header at buf[pos:len) into out: syncword, layer 0,
 * sampling index 0..12, frame length beyond the header, raw data block
 * positions, header CRC (2-4 blocks with a CRC), then profile AAC LC. It does
 * not look past the header: whether the frame fits in the buffer, and the
 * comparisons between frames, are the scanner's. Returns WZ_ADTS_OK,
 * WZ_ADTS_SYNC, WZ_ADTS_HEADER, WZ_ADTS_CRC, WZ_ADTS_PROFILE,
 * WZ_ADTS_TRUNCATED (the header is cut off) or WZ_ADTS_ARGUMENT. */
int wz_adts_parse_header(const uint8_t *buf, size_t len, size_t pos, wz_adts_header *out);

/* Prepare st for scanning buf[0:len): parse frame 0's header and check it
 * against the caller's expectations, expected_samplerate in Hz and
 * expected_channel_configuration 0..7, each -1 to accept any. Returns
 * WZ_ADTS_OK or an error status (also in st->status). */
int wz_adts_scan_init(wz_adts_scan *st, const uint8_t *buf, size_t len,
                      int32_t expected_samplerate, int32_t expected_channel_configuration);

/* Validate frames from st->pos on and write, for frame i = st->n_frames ...,
 * offsets[i] (byte offset) and first_samples[i] (first sample per channel),
 * for i < capacity. buf and len must be those given to wz_adts_scan_init.
 * Frames must chain exactly: each starts where the previous one ends and the
 * last ends at len. Returns WZ_ADTS_OK when the whole stream is validated
 * (st->n_frames frames, st->next_sample samples), WZ_ADTS_CAPACITY when the
 * arrays are full (grow and call again, entries below st->n_frames are kept),
 * or an error status. The GIL is released. */
int wz_adts_scan_frames(wz_adts_scan *st, const uint8_t *buf, size_t len,
                        int64_t *offsets, int64_t *first_samples, size_t capacity);

/* ======================================================================== */
/* MPEG-1/2/2.5 audio Layer III (ISO/IEC 11172-3 s. 2.4, ISO/IEC 13818-3)   */
/* ======================================================================== */

/* Status codes. Stable numbers: Python's StreamError.code carries them. */
enum wz_mp3_status {
    WZ_MP3_OK = 0,           /* success: the stream is fully scanned */
    WZ_MP3_NO_FRAMES = 1,    /* the buffer is empty */
    WZ_MP3_SYNC = 2,         /* no syncword (11 bits set) where a frame must start */
    WZ_MP3_HEADER = 3,       /* a reserved or forbidden header value: version, layer, bit rate, rate, emphasis */
    WZ_MP3_MISMATCH = 4,     /* a fixed field differs from frame 0's or the caller's expectation */
    WZ_MP3_CRC = 5,          /* CRC-16 mismatch over the header and side information (s. 2.4.3.1) */
    WZ_MP3_TRUNCATED = 6,    /* the buffer ends inside a frame header, its side information or the frame */
    WZ_MP3_CAPACITY = 7,     /* output arrays full: grow them and call wz_mp3_scan_frames again */
    WZ_MP3_ARGUMENT = 8,     /* invalid call (NULL pointer, state not initialised, bad expectation) */
    WZ_MP3_LAYER = 9,        /* a valid MPEG audio header of Layer I or II, not Layer III */
    WZ_MP3_FREE_FORMAT = 10, /* bitrate_index 0: free format, whose header gives no frame length */
    WZ_MP3_SIDE_INFO = 11,   /* invalid side information: big_values > 288, block_type 0 when switching */
    WZ_MP3_RESERVOIR = 12    /* main_data_begin reaches before the unused main data, or main data overruns */
};

/* A decoded Layer III frame header (s. 2.4.1.3), with what the scanner reads
 * of the side information (s. 2.4.1.7). */
typedef struct wz_mp3_header {
    uint32_t frame_length;    /* bytes of the whole frame: 144 (MPEG-1) or 72 * bitrate / rate + padding */
    uint32_t header_len;      /* bytes: 4, or 6 with the crc_check */
    uint32_t side_info_len;   /* bytes: MPEG-1 17 (mono) or 32, MPEG-2/2.5 9 (mono) or 17 */
    uint32_t main_data_len;   /* bytes of main data area in the frame: frame_length - header_len - side_info_len */
    uint32_t version_id;      /* the 2-bit version field: 3 = MPEG-1, 2 = MPEG-2, 0 = MPEG-2.5 */
    uint32_t protection_bit;  /* 0 = a crc_check follows the header (verified), 1 = none */
    uint32_t bitrate_index;   /* 1..14 */
    uint32_t bitrate;         /* bit/s: 32000..320000 (MPEG-1), 8000..160000 (MPEG-2/2.5) */
    uint32_t sampling_index;  /* the 2-bit sampling_frequency field, 0..2 */
    uint32_t samplerate;      /* Hz: 32000, 44100, 48000; 16000, 22050, 24000; 8000, 11025, 12000 */
    uint32_t padding;         /* padding_bit: 1 = one extra byte */
    uint32_t mode;            /* 0 stereo, 1 joint stereo, 2 dual channel, 3 single channel */
    uint32_t mode_extension;  /* joint stereo: bit 1 = M/S stereo, bit 0 = intensity stereo */
    uint32_t channels;        /* 1 (mode 3) or 2 */
    uint32_t emphasis;        /* 0 none, 1 50/15 us, 3 CCITT J.17 (2 is reserved, rejected) */
    uint32_t samples;         /* samples per channel: 1152 (MPEG-1) or 576 (MPEG-2/2.5) */
    uint32_t crc;             /* the stored crc_check, 0 when protection_bit is 1 */
    uint32_t main_data_begin; /* bytes back from the end of the side information, in earlier main data */
    uint32_t main_data_bits;  /* sum of part2_3_length over granules and channels: the frame's main data */
} wz_mp3_header;

/* Scan state: set by wz_mp3_scan_init(), advanced by wz_mp3_scan_frames().
 * The caller allocates it (e.g. ffi.new("wz_mp3_scan *")) and treats the
 * progress fields as read-only. On error, status/err_offset/err_frame/message
 * say what went wrong and where. */
typedef struct wz_mp3_scan {
    wz_mp3_header first;      /* frame 0's header: every frame must repeat its fixed fields */
    int32_t expected_samplerate; /* Hz the caller requires, -1 = any */
    int32_t expected_channels;   /* 1 or 2 the caller requires, -1 = any */
    uint64_t stream_len;      /* length of the buffer given to wz_mp3_scan_init */
    /* progress */
    uint64_t pos;             /* byte offset of the next frame to validate */
    uint64_t next_sample;     /* first sample (per channel) of that frame */
    uint64_t n_frames;        /* frames validated and written so far */
    uint64_t crc_verified;    /* how many of them carried a crc_check (all verified) */
    uint32_t reservoir;       /* bytes of main data area after the previous frame's main data */
    int32_t initialised;      /* 1 after a successful wz_mp3_scan_init */
    int32_t finished;         /* 1 once the whole stream has been validated */
    /* error report */
    int32_t status;           /* last status returned */
    uint64_t err_offset;      /* byte offset where the problem was found */
    int64_t err_frame;        /* index of the frame concerned, -1 when none */
    char message[256];        /* human-readable description (NUL-terminated) */
} wz_mp3_scan;

/* Parse and check the Layer III frame header at buf[pos:len) into out:
 * syncword, version, layer, bit rate (not free format), sampling frequency,
 * emphasis, the CRC-16 when present, and the side information (big_values,
 * block_type; main_data_begin and main_data_bits read). It does not look past
 * the side information: whether the frame fits in the buffer, the reservoir
 * and the comparisons between frames are the scanner's. Returns WZ_MP3_OK
 * (out filled), WZ_MP3_SYNC, WZ_MP3_HEADER, WZ_MP3_LAYER, WZ_MP3_FREE_FORMAT,
 * WZ_MP3_CRC, WZ_MP3_SIDE_INFO, WZ_MP3_TRUNCATED (the header or side
 * information is cut off) or WZ_MP3_ARGUMENT; on an error out is undefined. */
int wz_mp3_parse_header(const uint8_t *buf, size_t len, size_t pos, wz_mp3_header *out);

/* Prepare st for scanning buf[0:len): parse frame 0's header and check it
 * against the caller's expectations, expected_samplerate in Hz and
 * expected_channels 1 or 2, each -1 to accept any. Returns WZ_MP3_OK or an
 * error status (also in st->status). */
int wz_mp3_scan_init(wz_mp3_scan *st, const uint8_t *buf, size_t len,
                     int32_t expected_samplerate, int32_t expected_channels);

/* Validate frames from st->pos on and write, for frame i = st->n_frames ...,
 * offsets[i] (byte offset), first_samples[i] (first sample per channel) and,
 * if main_data_begin is not NULL, main_data_begin[i] (bytes), for i <
 * capacity. buf and len must be those given to wz_mp3_scan_init. Frames must
 * chain exactly: each starts where the previous one ends and the last ends at
 * len. Returns WZ_MP3_OK when the whole stream is validated (st->n_frames
 * frames, st->next_sample samples), WZ_MP3_CAPACITY when the arrays are full
 * (grow and call again, entries below st->n_frames are kept), or an error
 * status. The GIL is released. */
int wz_mp3_scan_frames(wz_mp3_scan *st, const uint8_t *buf, size_t len,
                       int64_t *offsets, int64_t *first_samples, int64_t *main_data_begin,
                       size_t capacity);

/* ======================================================================== */
/* CRCs (csrc/crc.h)                                                        */
/* ======================================================================== */

/* CRC-8 (poly 0x07) and CRC-16 (poly 0x8005), MSB first, no final XOR,
 * continuing from the register value crc. FLAC starts both from 0; ADTS
 * and MP3 start the CRC-16 from 0xFFFF. Exposed for tests. */
uint8_t wz_crc8(uint8_t crc, const uint8_t *data, size_t len);
uint16_t wz_crc16(uint16_t crc, const uint8_t *data, size_t len);

/* ======================================================================== */
/* FLAC decoding with libFLAC (csrc/flac_decode.c)                          */
/* ======================================================================== */

/* Decodes "spans" -- runs of consecutive whole FLAC frames of one stream,
 * back to back in a byte range -- with the reference decoder libFLAC,
 * straight into a caller-owned array of interleaved samples (true values:
 * int16 for streams of up to 16 bits per sample, else int32).
 *
 * libFLAC is not linked: the process already holds it (pyflac's bundled
 * copy), and wz_flacdec_bind() receives the addresses of the functions used,
 * once, before the first decoder is made. Unlike the scanners, a decoder
 * state owns memory (its libFLAC instance): free it with wz_flacdec_close().
 *
 * Threads: a state must be used by one thread at a time; separate states
 * decode in parallel (the GIL is released around every call). */

/* Status codes. Stable numbers: Python's StreamError.code carries them.
 * Numbers below 20 mean what they mean in enum wz_flac_status. */
enum wz_flacdec_status {
    WZ_FLACDEC_OK = 0,           /* success: every span decoded and copied */
    WZ_FLACDEC_STREAMINFO = 3,   /* invalid STREAMINFO body (RFC 9639 s. 8.2), or libFLAC refuses it */
    WZ_FLACDEC_SYNC = 5,         /* no frame sync code where a frame of the span must start (s. 9.1) */
    WZ_FLACDEC_HEADER = 6,       /* an invalid frame header, or one contradicting STREAMINFO (s. 9.1) */
    WZ_FLACDEC_CRC8 = 7,         /* frame header CRC-8 mismatch (s. 9.1.8) */
    WZ_FLACDEC_CRC16 = 8,        /* frame CRC-16 mismatch (s. 9.3), found by libFLAC */
    WZ_FLACDEC_SEQUENCE = 9,     /* a frame/sample number does not follow the span's previous frame (s. 9.1.5) */
    WZ_FLACDEC_TRUNCATED = 11,   /* a frame runs past the end of its span's bytes */
    WZ_FLACDEC_ARGUMENT = 13,    /* invalid call or span table: nothing was decoded or written */
    WZ_FLACDEC_BLOCKSIZE = 20,   /* a frame holds another number of samples than frame_samples says */
    WZ_FLACDEC_TRAILING = 21,    /* bytes left in a span after its last frame */
    WZ_FLACDEC_DECODE = 22,      /* libFLAC reported another error in a frame (lost sync, unparseable) */
    WZ_FLACDEC_RANGE = 23,       /* a decoded sample lies outside the signed bits_per_sample range */
    WZ_FLACDEC_LIBFLAC = 24,     /* libFLAC failed for a reason other than the bytes (memory, state) */
    WZ_FLACDEC_UNBOUND = 25      /* wz_flacdec_bind() has not succeeded */
};

/* Columns of the span table (int64, n_spans rows of WZ_FLACDEC_SPAN_COLUMNS). */
enum wz_flacdec_span_column {
    WZ_FLACDEC_DATA_START = 0,   /* first byte of the span's frames in data */
    WZ_FLACDEC_DATA_STOP = 1,    /* one past its last byte: the frames fill [start, stop) exactly */
    WZ_FLACDEC_FIRST_FRAME = 2,  /* row of frame_samples holding the span's first frame */
    WZ_FLACDEC_N_FRAMES = 3,     /* frames in the span, >= 1 */
    WZ_FLACDEC_SKIP = 4,         /* decoded samples (per channel) of the span to drop first */
    WZ_FLACDEC_COUNT = 5,        /* samples to keep after those */
    WZ_FLACDEC_OUT_ROW = 6,      /* row of out receiving the first kept sample */
    WZ_FLACDEC_SPAN_COLUMNS = 7
};

/* Addresses of the libFLAC functions used: field f holds the address of
 * FLAC__stream_decoder_<f> (FLAC/stream_decoder.h), as an integer. */
typedef struct wz_libflac_api {
    uintptr_t new;
    uintptr_t delete;
    uintptr_t set_md5_checking;
    uintptr_t init_stream;
    uintptr_t finish;
    uintptr_t flush;
    uintptr_t process_single;
    uintptr_t process_until_end_of_metadata;
    uintptr_t get_state;
    uintptr_t get_decode_position;
} wz_libflac_api;

/* Decoder state. The caller allocates it zero-filled (e.g. ffi.new("wz_flacdec *")),
 * sets it up with wz_flacdec_init() and frees it with wz_flacdec_close().
 * Only info, frames, restarts and the error report are for the caller to
 * read; the other fields are private to csrc/flac_decode.c. */
typedef struct wz_flacdec {
    wz_flac_streaminfo info;  /* the stream's STREAMINFO, as wz_flac_parse_streaminfo decodes it */
    void *decoder;            /* the FLAC__StreamDecoder; NULL before init and after close */
    uint64_t frames;          /* frames decoded since init */
    uint64_t restarts;        /* times libFLAC was re-initialised because a flush failed */
    /* private: the bytes libFLAC reads, and where the current frame's samples go */
    const uint8_t *src;       /* bytes served to libFLAC's read callback: src[src_pos:src_end) */
    uint64_t src_pos;
    uint64_t src_end;
    uint8_t *out;             /* the output array: row r at out + r * out_stride */
    int64_t out_stride;       /* bytes */
    int64_t out_row;          /* row receiving span sample keep_from */
    int64_t keep_from;        /* span samples [keep_from, keep_to) are copied */
    int64_t keep_to;
    int64_t frame_first;      /* the current frame's first sample within its span */
    uint64_t frame_pos;       /* its byte offset in data */
    int64_t frame_row;        /* its row of frame_samples; -1 outside wz_flacdec_decode */
    uint32_t expected_blocksize; /* frame_samples[frame_row] */
    int32_t writes;           /* write callbacks during the current process_single */
    int32_t lib_error;        /* first libFLAC error status during it, -1 = none */
    uint64_t lib_error_end;   /* libFLAC's decode position at that error, 0 = unknown */
    int32_t eof;              /* 1 once the read callback has run out of bytes during it */
    int32_t failed;           /* 1 once a callback has recorded an error report */
    int32_t broken;           /* 1 when libFLAC must be re-initialised before the next decode */
    /* error report */
    int32_t status;           /* last status returned */
    uint64_t err_offset;      /* byte offset in data of the failing frame (or leftover bytes) */
    int64_t err_frame;        /* row of frame_samples of the failing frame, -1 = none */
    int64_t err_span;         /* row of the span table concerned, -1 = none */
    char message[256];        /* what is wrong with the frame, worded to follow a prefix naming it */
} wz_flacdec;

/* Hand over libFLAC's functions, then decode a built-in test frame through
 * them (checking the frame header layout this file assumes). Call once before
 * any wz_flacdec_init(); binding again with the same addresses is a no-op,
 * with other addresses WZ_FLACDEC_ARGUMENT. Returns WZ_FLACDEC_OK,
 * WZ_FLACDEC_ARGUMENT (NULL or zero address) or WZ_FLACDEC_LIBFLAC (the test
 * frame did not decode: nothing is bound). Not thread-safe. */
int wz_flacdec_bind(const wz_libflac_api *api);

/* Set up a zero-filled st for the stream whose 34-byte STREAMINFO body is
 * streaminfo[0:len): validate it (as wz_flac_parse_streaminfo), create a
 * libFLAC decoder (MD5 checking off) and feed it "fLaC" and this STREAMINFO
 * as the only metadata block. Returns WZ_FLACDEC_OK, WZ_FLACDEC_STREAMINFO,
 * WZ_FLACDEC_LIBFLAC, WZ_FLACDEC_UNBOUND or WZ_FLACDEC_ARGUMENT (NULL, or st
 * already holds a decoder); on an error nothing is left to free. */
int wz_flacdec_init(wz_flacdec *st, const uint8_t *streaminfo, size_t len);

/* Decode n_spans spans of data[0:len) into out. spans holds n_spans rows of
 * WZ_FLACDEC_SPAN_COLUMNS int64 values (enum wz_flacdec_span_column);
 * frame_samples[0:n_frame_samples) the samples per channel each frame must
 * hold. first_samples, if not NULL, holds n_frame_samples entries, the first
 * sample of each row's frame in the stream: the rows are then the stream's
 * frames from its first, and each frame's coded number must match its row
 * (RFC 9639 s. 9.1.5: a fixed-blocksize frame's number is its row, a
 * variable-blocksize frame's number first_samples[row]). out has out_rows
 * rows of info.channels interleaved samples of out_itemsize bytes (2 for up
 * to 16 bits per sample, else 4), row r at (uint8_t *)out + r *
 * out_row_stride (any stride, also negative). For each span, rows out_row + j
 * of out get decoded sample skip + j of the span, for j in [0, count);
 * nothing else of out is written. The caller vouches that out's rows exist
 * (nothing else is trusted: data, spans and frame_samples are checked).
 *
 * Every span is checked before anything is decoded (WZ_FLACDEC_ARGUMENT:
 * byte range within len, frames within frame_samples, block sizes 1..65535,
 * skip + count within the span's samples, rows within out_rows). Then spans
 * are decoded in order; the first bad frame stops the call with its status,
 * err_frame (its row of frame_samples), err_offset (its byte offset) and
 * message, leaving out partly written. st stays usable after any error. */
int wz_flacdec_decode(wz_flacdec *st, const uint8_t *data, size_t len,
                      const int64_t *spans, size_t n_spans,
                      const int64_t *frame_samples, const int64_t *first_samples, size_t n_frame_samples,
                      void *out, size_t out_rows, int64_t out_row_stride, size_t out_itemsize);

/* Free st's libFLAC decoder. Safe to call again, and on a zero-filled st. */
void wz_flacdec_close(wz_flacdec *st);

#endif /* WILDZARR_CORE_H */
