/*
 * Generic CRC-8 and CRC-16, shared by the frame scanners.
 *
 * Both are MSB-first (non-reflected) CRCs without final XOR, continuing from
 * the register value passed in: CRC-8 uses the polynomial x^8 + x^2 + x + 1
 * (0x07), CRC-16 uses x^16 + x^15 + x^2 + 1 (0x8005).
 *
 * FLAC (RFC 9639) starts both from 0: CRC-8 covers a frame header up to its
 * CRC byte (s. 9.1.8), CRC-16 a whole frame up to its 16-bit footer (s. 9.3).
 * Because the footer stores the CRC big-endian, the CRC of a whole frame
 * *including* its footer is 0.
 *
 * ADTS (ISO/IEC 13818-7 s. 6.2, crc_check) uses the MPEG audio CRC-16 of
 * ISO/IEC 11172-3 s. 2.4.3.1: the same polynomial, register preset to 0xFFFF.
 */
#ifndef WILDZARR_CRC_H
#define WILDZARR_CRC_H

#include <stddef.h>
#include <stdint.h>

/* CRC-8 (poly 0x07) of len bytes, continuing from crc (start with 0). */
uint8_t wz_crc8(uint8_t crc, const uint8_t *data, size_t len);

/* CRC-16 (poly 0x8005) of len bytes, continuing from crc (start with 0).
 * Slicing-by-16: 16 bytes per step with 16 lookup tables (8 KiB). */
uint16_t wz_crc16(uint16_t crc, const uint8_t *data, size_t len);

#endif /* WILDZARR_CRC_H */
