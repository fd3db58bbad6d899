#include "status.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char last_error[1024];
static _Thread_local facs_status last_status = FACS_OK;

facs_status facs_fail(facs_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    last_status = code;
    return code;
}

const char *facs_last_error(void) { return last_error; }

facs_status facs_last_status(void) { return last_status; }

void facs_clear_error(void)
{
    last_error[0] = '\0';
    last_status = FACS_OK;
}
