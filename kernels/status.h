/* Status codes and the thread-local last-error message.
 *
 * Library functions never print or exit: they return a facs_status (or NULL for
 * functions that return an object) and leave a human-readable message that the
 * caller fetches with facs_last_error(). Only the command-line tools print. */
#ifndef FACS_STATUS_H
#define FACS_STATUS_H

typedef enum {
    FACS_OK = 0,
    FACS_ERR_ARG,      /* bad argument: wrong shape, wrong device, bad option */
    FACS_ERR_MEMORY,   /* an allocation failed */
    FACS_ERR_IO,       /* a file could not be read or written */
    FACS_ERR_FORMAT,   /* a file exists but its content is wrong */
    FACS_ERR_BACKEND,  /* oneDNN, CUDA or cuDNN reported a failure */
    FACS_ERR_UNSUPPORTED, /* the op has no implementation on this device */
    FACS_ERR_CANCELLED    /* a caller's cancel hook asked the work to stop: nothing failed */
} facs_status;

#if defined(__GNUC__)
#define FACS_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define FACS_PRINTF(a, b)
#endif

/* Records a printf-style message as this thread's last error and returns code.
 * An argument may be facs_last_error() itself: facs_fail(s, "%s: %s", path,
 * facs_last_error()) puts a cause under a longer message. Control characters
 * but newline and tab become '?' (an attribute's escape sequence is shown, not
 * played). */
facs_status facs_fail(facs_status code, const char *fmt, ...) FACS_PRINTF(2, 3);

/* The message of this thread's last failure ("" if none). Valid until the next failure. */
const char *facs_last_error(void);

/* The status code of this thread's last failure (FACS_OK if none), so a
 * caller of a function that returns NULL on error can pass the right code on. */
facs_status facs_last_status(void);

/* Forgets the last error; tools call it before a step they want to report on. */
void facs_clear_error(void);

/* Propagates a failing status from an expression. */
#define FACS_TRY(expr)                      \
    do {                                    \
        facs_status facs_try_s_ = (expr);   \
        if (facs_try_s_ != FACS_OK)         \
            return facs_try_s_;             \
    } while (0)

#endif
