/* Settings read from the environment that pick one of a few named
 * behaviours of the library (FACS_CUDA_FACS_KERNELS, FACS_CUDNN_ALGO), where
 * no caller is there to pass an option down. */
#ifndef FACS_ENV_WORD_H
#define FACS_ENV_WORD_H

#ifdef __cplusplus
extern "C" {
#endif

/* The index in words[0..count) of the environment variable name's value.
 * Unset or empty gives 0: words[0] is the default. Any other value is named
 * on stderr with the words it may take, and gives 0: a typo in a setting
 * would otherwise go unseen (the one place the library prints, as no caller
 * could report it). Callers keep the answer, so that the note comes once. */
int facs_env_word(const char *name, const char *const *words, int count);

#ifdef __cplusplus
}
#endif

#endif
