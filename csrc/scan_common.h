/*
 * Internal helpers shared by the frame scanners (flac_scan.c, adts_scan.c,
 * mp3_scan.c). Not part of the cffi API, which wildzarr_core.h declares.
 */
#ifndef WILDZARR_SCAN_COMMON_H
#define WILDZARR_SCAN_COMMON_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define WZ_PRINTF(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))
#else
#define WZ_PRINTF(fmt_index, first_arg)
#endif

/* For printing 64-bit values with %llu. */
typedef unsigned long long ull;

/* Write an error report -- *status_field = status, *offset_field = offset,
 * *frame_field = frame, and the printf-style message into message[0:size),
 * NUL-terminated and cut to fit -- and return status. */
int wz_scan_report(int32_t *status_field, uint64_t *offset_field, int64_t *frame_field, char *message,
                   size_t size, int status, uint64_t offset, int64_t frame, const char *fmt, ...)
    WZ_PRINTF(9, 10);

/* fail(st, status, offset, frame, fmt, ...): record an error in the scan
 * state st and return status. Every wz_*_scan state has the report fields
 * status, err_offset, err_frame and message[]; offset is the byte offset
 * where the problem was found, frame the frame concerned (-1: none). */
#define fail(st, status_, offset_, frame_, ...)                                                          \
    wz_scan_report(&(st)->status, &(st)->err_offset, &(st)->err_frame, (st)->message, sizeof (st)->message, \
                   (status_), (offset_), (frame_), __VA_ARGS__)

#endif /* WILDZARR_SCAN_COMMON_H */
