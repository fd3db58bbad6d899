#include "status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Room for a message naming two paths near PATH_MAX and their cause. */
static _Thread_local char last_error[12288];
static _Thread_local facs_status last_status = FACS_OK;

facs_status facs_fail(facs_status code, const char *fmt, ...)
{
    char message[sizeof last_error]; /* not last_error itself: an argument may be the message it replaces */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    /* A name from a file (an attribute, a class) may hold terminal escapes: a
     * message never clears the screen or rings the bell. */
    for (char *c = message; *c; c++)
        if (((unsigned char)*c < 0x20 && *c != '\n' && *c != '\t') || *c == 0x7f)
            *c = '?';
    memcpy(last_error, message, strlen(message) + 1);
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
