/* kernels/status.h: a message may wrap the one it replaces (facs_last_error()
 * as an argument of facs_fail), one that names long paths keeps its end, and
 * control characters from a file never reach the terminal. */
#include <string.h>

#include "status.h"
#include "test_util.h"

int main(void)
{
    facs_fail(FACS_ERR_IO, "No such file or directory");
    facs_fail(FACS_ERR_FORMAT, "%s: %s", "frame.png", facs_last_error());
    CHECK(strcmp(facs_last_error(), "frame.png: No such file or directory") == 0, "wrapped message '%s'",
          facs_last_error());
    CHECK(facs_last_status() == FACS_ERR_FORMAT, "status %d", (int)facs_last_status());

    char path[4096];
    memset(path, 'd', sizeof path - 1);
    path[sizeof path - 1] = '\0';
    facs_fail(FACS_ERR_IO, "%s: cannot rename %s over it: Is a directory", path, path);
    const char *message = facs_last_error();
    size_t n = strlen(message);
    CHECK(n >= 2 * 4095 && strstr(message, ": Is a directory") == message + n - strlen(": Is a directory"),
          "a message naming two 4095-byte paths lost its end (%zu bytes)", n);

    facs_fail(FACS_ERR_FORMAT, "was saved as %s", "\x1b[2J\x1b[31mfacs\x07");
    CHECK(strcmp(facs_last_error(), "was saved as ?[2J?[31mfacs?") == 0, "escapes shown as '?': '%s'",
          facs_last_error());

    facs_clear_error();
    CHECK(facs_last_error()[0] == '\0' && facs_last_status() == FACS_OK, "clear");
    return test_finish();
}
