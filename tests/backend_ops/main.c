/* test_backend_ops: every op entry of every backend in this process against
 * the case tables (cases.c, cases_large.c), and the whole-backend checks
 * (backend_checks.c); harness.h lists the checks.
 *
 * Usage: test_backend_ops [-o OP] [-b cpu|cuda]
 *   -o OP  only the cases of op family OP (conv2d, batchnorm, ...) or of
 *          backend entry OP (conv2d_backward, axpy, ...), and the
 *          whole-backend checks that call entry OP (alloc, copy, ...)
 *   -b B   only backend B (the CPU still runs, silently, as the reference)
 * FACS_TEST_SEED=n replays a run's data. Prints one line per case and
 * backend, then "N passed, N failed, N skipped" (skipped: the cases of a
 * backend this process has no device for); exits 0 when all pass, 1 on any
 * failure, 2 on a bad command line, 77 (skipped) when -b names a backend
 * this process has no device for and nothing failed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bops.h"

static int usage(void)
{
    fprintf(stderr, "usage: test_backend_ops [-o OP] [-b cpu|cuda]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *op = NULL, *backend = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-o") && i + 1 < argc)
            op = argv[++i];
        else if (!strcmp(argv[i], "-b") && i + 1 < argc)
            backend = argv[++i];
        else
            return usage();
    }
    if (backend && strcmp(backend, "cpu") && strcmp(backend, "cuda"))
        return usage();
    const char *env = getenv("FACS_TEST_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);
    printf("test_backend_ops: seed %llu (FACS_TEST_SEED=%llu replays it)\n", (unsigned long long)seed,
           (unsigned long long)seed);
    return bo_run_all(op, backend, seed);
}
