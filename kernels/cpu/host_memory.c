/* Host memory of the CPU backend: its device memory (alloc) and the staging
 * memory (host_alloc) of the CPU and meta backends, which are the same thing
 * on the host: 64-byte aligned blocks. */
#include <stdint.h>
#include <stdlib.h>

#include "cpu_ops.h"

void *facs_cpu_host_alloc(size_t bytes)
{
    /* aligned_alloc needs a multiple of the alignment; 0 bytes still gets a
     * block, and a size the rounding would wrap is refused. */
    size_t rounded = bytes > SIZE_MAX - 63 ? 0 : (bytes + 63) / 64 * 64;
    void *p = bytes > SIZE_MAX - 63 ? NULL : aligned_alloc(64, rounded ? rounded : 64);
    if (!p)
        facs_fail(FACS_ERR_MEMORY, "out of host memory (%zu bytes)", bytes);
    return p;
}

void facs_cpu_host_free(void *ptr) { free(ptr); }
