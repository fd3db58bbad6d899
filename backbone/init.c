#include "init.h"

#include <math.h>
#include <stdlib.h>

#include "rng.h"

/* A standard normal from two counter-based uniforms (Box-Muller). */
static double normal_at(uint64_t stream, uint64_t i)
{
    double u1 = facs_rng_uniform(stream, 2 * i) + 1e-12, u2 = facs_rng_uniform(stream, 2 * i + 1);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

facs_param *facs_param_add_init(facs_param_list *list, facs_param_kind kind, const char *name, facs_device device,
                                int n, int c, int h, int w, facs_init_rule rule, double scale, uint64_t seed)
{
    facs_param *p = facs_param_list_add(list, kind, name, device, n, c, h, w);
    /* A meta tensor holds no values: registering its shape is all there is to do. */
    if (!p || rule == FACS_INIT_ZERO || device == FACS_DEVICE_META)
        return p;
    size_t count = facs_tensor_numel(p->value);
    float *host = malloc(count * sizeof *host);
    if (!host) {
        facs_fail(FACS_ERR_MEMORY, "out of memory initialising %s", name);
        return NULL;
    }
    uint64_t stream = facs_rng_mix64(seed + 0x1000003ULL * (uint64_t)list->count);
    for (size_t i = 0; i < count; i++) {
        if (rule == FACS_INIT_ONE)
            host[i] = 1.0f;
        else if (rule == FACS_INIT_NORMAL)
            host[i] = (float)(normal_at(stream, i) * scale);
        else
            host[i] = (float)((2.0 * facs_rng_uniform(stream, i) - 1.0) * scale);
    }
    facs_status s = facs_tensor_from_nchw(p->value, host, count);
    free(host);
    return s == FACS_OK ? p : NULL;
}
