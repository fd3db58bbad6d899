#include "dnnl_util.h"

#include <pthread.h>
#include <string.h>

static dnnl_engine_t engine;
static dnnl_stream_t stream;
static dnnl_status_t engine_status = dnnl_success;
static pthread_once_t engine_once = PTHREAD_ONCE_INIT;

static void create_engine(void)
{
    engine_status = dnnl_engine_create(&engine, dnnl_cpu, 0);
    if (engine_status == dnnl_success)
        engine_status = dnnl_stream_create(&stream, engine, dnnl_stream_default_flags);
}

dnnl_engine_t facs_dnnl_engine(void)
{
    pthread_once(&engine_once, create_engine);
    return engine_status == dnnl_success ? engine : NULL;
}

facs_status facs_dnnl_check(dnnl_status_t s, const char *what)
{
    if (s == dnnl_success)
        return FACS_OK;
    return facs_fail(FACS_ERR_BACKEND, "oneDNN failed in %s: %s", what, dnnl_status2str(s));
}

void facs_dnnl_md_nhwc(dnnl_memory_desc_t *md, const facs_tensor *t)
{
    dnnl_dims_t dims = {t->n, t->c, t->h, t->w};
    dnnl_memory_desc_init_by_tag(md, 4, dims, dnnl_f32, dnnl_nhwc);
}

void facs_dnnl_md_vec(dnnl_memory_desc_t *md, int count)
{
    dnnl_dims_t dims = {count};
    dnnl_memory_desc_init_by_tag(md, 1, dims, dnnl_f32, dnnl_a);
}

#define MAX_ARGS 16

facs_status facs_dnnl_execute(const_dnnl_primitive_desc_t pd, int count, const facs_dnnl_arg *args,
                              const char *what)
{
    if (count > MAX_ARGS)
        return facs_fail(FACS_ERR_ARG, "%s: %d oneDNN arguments (at most %d)", what, count, MAX_ARGS);
    dnnl_engine_t eng = facs_dnnl_engine();
    if (!eng)
        return facs_dnnl_check(engine_status, "engine creation");
    dnnl_primitive_t prim = NULL;
    dnnl_memory_t mems[MAX_ARGS] = {0};
    dnnl_exec_arg_t exec_args[MAX_ARGS];
    facs_status s = facs_dnnl_check(dnnl_primitive_create(&prim, pd), what);
    int made = 0;
    for (; s == FACS_OK && made < count; made++) {
        s = facs_dnnl_check(dnnl_memory_create(&mems[made], args[made].md, eng, args[made].ptr), what);
        exec_args[made] = (dnnl_exec_arg_t){args[made].arg, mems[made]};
    }
    if (s == FACS_OK)
        s = facs_dnnl_check(dnnl_primitive_execute(prim, stream, count, exec_args), what);
    if (s == FACS_OK)
        s = facs_dnnl_check(dnnl_stream_wait(stream), what);
    for (int i = 0; i < made; i++)
        if (mems[i])
            dnnl_memory_destroy(mems[i]);
    if (prim)
        dnnl_primitive_destroy(prim);
    return s;
}

int facs_dnnl_is_reference(const_dnnl_primitive_desc_t pd)
{
    const char *impl = NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) != dnnl_success || !impl)
        return 1;
    return strstr(impl, "ref") != NULL;
}
