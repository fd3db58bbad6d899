/* facs_env_word: the settings that pick a behaviour by name
 * (FACS_CUDA_FACS_KERNELS, FACS_CUDNN_ALGO). Unset and empty take the
 * default; each word its own index; anything else the default, said on
 * stderr with the words it may take. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "env_word.h"
#include "test_util.h"

static const char *const kWords[] = {"heuristic", "benchmark", "other"};
static const char *const kName = "FACS_TEST_ENV_WORD";

/* facs_env_word with the variable set to value (unset where NULL); what it
 * wrote to stderr goes to said (size bytes). */
static int word_of(const char *value, char *said, size_t size)
{
    if (value)
        setenv(kName, value, 1);
    else
        unsetenv(kName);
    fflush(stderr);
    FILE *capture = tmpfile();
    int saved = dup(STDERR_FILENO);
    dup2(fileno(capture), STDERR_FILENO);
    int index = facs_env_word(kName, kWords, 3);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    rewind(capture);
    size_t n = fread(said, 1, size - 1, capture);
    said[n] = '\0';
    fclose(capture);
    return index;
}

int main(void)
{
    char said[512];
    CHECK(word_of(NULL, said, sizeof said) == 0 && !*said, "unset: the default, silently");
    CHECK(word_of("", said, sizeof said) == 0 && !*said, "empty: the default, silently");
    for (int i = 0; i < 3; i++)
        CHECK(word_of(kWords[i], said, sizeof said) == i && !*said, "%s: index %d, silently", kWords[i], i);
    const char *typos[] = {"benchmark ", "Benchmark", "bench", "benchmarks", "1"};
    for (size_t i = 0; i < sizeof typos / sizeof *typos; i++) {
        char want[128];
        snprintf(want, sizeof want, "%s=%s is not one of heuristic, benchmark, other; taking heuristic", kName,
                 typos[i]);
        CHECK(word_of(typos[i], said, sizeof said) == 0 && strstr(said, want), "'%s': the default, said as '%s'",
              typos[i], said);
    }
    return test_finish();
}
