/* oneDNN plumbing for the CPU backend: one engine and stream per process,
 * memory descriptors for our NHWC tensors, and a one-call executor.
 *
 * Primitive descriptors are created per call; oneDNN's own primitive cache
 * (on by default, 1024 entries) makes re-creating the primitive for a shape
 * it has seen cheap, so ops need no cache of their own. */
#ifndef FACS_DNNL_UTIL_H
#define FACS_DNNL_UTIL_H

#include <dnnl.h>
#include <dnnl_debug.h>

#include "../tensor.h"

dnnl_engine_t facs_dnnl_engine(void);

/* Converts a oneDNN status into ours, naming what failed. */
facs_status facs_dnnl_check(dnnl_status_t s, const char *what);

/* 4-D f32 descriptor of t in its NHWC storage (dims in N, C, H, W order). */
void facs_dnnl_md_nhwc(dnnl_memory_desc_t *md, const facs_tensor *t);
/* 1-D f32 descriptor of count elements (per-channel vectors). */
void facs_dnnl_md_vec(dnnl_memory_desc_t *md, int count);

typedef struct {
    int arg;                       /* DNNL_ARG_* */
    const dnnl_memory_desc_t *md;
    void *ptr;
} facs_dnnl_arg;

/* Creates the primitive of pd, executes it on args, waits, frees the
 * primitive (pd stays with the caller). */
facs_status facs_dnnl_execute(const_dnnl_primitive_desc_t pd, int count, const facs_dnnl_arg *args,
                              const char *what);

/* 1 if pd runs oneDNN's slow reference implementation ("ref" in its name). */
int facs_dnnl_is_reference(const_dnnl_primitive_desc_t pd);

#endif
