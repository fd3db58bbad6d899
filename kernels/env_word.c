#include "env_word.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int facs_env_word(const char *name, const char *const *words, int count)
{
    const char *value = getenv(name);
    if (!value || !*value)
        return 0;
    for (int i = 0; i < count; i++)
        if (!strcmp(value, words[i]))
            return i;
    fprintf(stderr, "facs: %s=%s is not one of", name, value);
    for (int i = 0; i < count; i++)
        fprintf(stderr, "%s %s", i ? "," : "", words[i]);
    fprintf(stderr, "; taking %s\n", words[0]);
    return 0;
}
