/* Helpers shared by the frame scanners; see scan_common.h. */
#include <stdarg.h>
#include <stdio.h>

#include "scan_common.h"

int wz_scan_report(int32_t *status_field, uint64_t *offset_field, int64_t *frame_field, char *message,
                   size_t size, int status, uint64_t offset, int64_t frame, const char *fmt, ...)
{
    va_list ap;
    *status_field = status;
    *offset_field = offset;
    *frame_field = frame;
    va_start(ap, fmt);
    vsnprintf(message, size, fmt, ap);
    va_end(ap);
    return status;
}
