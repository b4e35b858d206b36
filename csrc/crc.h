/*
 * CRC-8 and CRC-16 of FLAC frames (RFC 9639 sections 9.1.8 and 9.3).
 *
 * Both are MSB-first (non-reflected) CRCs with initial value 0 and no final
 * XOR. CRC-8 uses the polynomial x^8 + x^2 + x + 1 (0x07) and covers a frame
 * header up to its CRC byte; CRC-16 uses x^16 + x^15 + x^2 + 1 (0x8005) and
 * covers a whole frame up to its 16-bit footer. Because the footer stores the
 * CRC big-endian, the CRC of a whole frame *including* its footer is 0.
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
