/* Bucketed gradient sums over the ranks (grad_sync.h). */
#include <stdlib.h>

#include "backend.h"
#include "grad_sync.h"

typedef struct {
    int first, count; /* members: plan[first .. first + count) */
    size_t floats;
    float *buffer;
    int started;
} bucket;

struct facs_grad_sync {
    facs_comm *comm;
    facs_device device; /* the parameters' (all on one device) */
    const facs_backend *backend;
    facs_ctx *ctx;
    facs_param **plan; /* trainable parameters, reverse registration order */
    int nplan;
    bucket *buckets;
    int nbuckets;
    int early, last_early; /* buckets started during backward: this step's so far, the last finished step's */
};

static facs_status plan_buckets(facs_grad_sync *gs, const facs_param_list *params, size_t bucket_bytes)
{
    gs->plan = malloc((size_t)(params->count ? params->count : 1) * sizeof *gs->plan);
    gs->buckets = calloc((size_t)(params->count ? params->count : 1), sizeof *gs->buckets);
    if (!gs->plan || !gs->buckets)
        return facs_fail(FACS_ERR_MEMORY, "out of memory for the gradient buckets");
    for (int i = params->count - 1; i >= 0; i--) {
        facs_param *p = params->items[i];
        if (p->kind != FACS_PARAM_TRAINABLE || p->frozen)
            continue;
        if (gs->nplan == 0)
            gs->device = p->value->device;
        else if (p->value->device != gs->device)
            return facs_fail(FACS_ERR_ARG, "gradient sums over ranks: %s is on %s, the parameters before it on %s",
                             p->name, facs_device_name(p->value->device), facs_device_name(gs->device));
        size_t floats = facs_tensor_numel(p->value);
        bucket *b = &gs->buckets[gs->nbuckets ? gs->nbuckets - 1 : 0];
        if (gs->nbuckets == 0 || (b->floats + floats) * sizeof(float) > bucket_bytes) {
            b = &gs->buckets[gs->nbuckets++];
            b->first = gs->nplan;
        }
        b->count++;
        b->floats += floats;
        gs->plan[gs->nplan++] = p;
    }
    if (gs->nplan == 0)
        return FACS_OK;
    if (!(gs->backend = facs_backend_get(gs->device)))
        return FACS_ERR_UNSUPPORTED;
    FACS_TRY(facs_comm_use_device(gs->comm, gs->device));
    for (int k = 0; k < gs->nbuckets; k++)
        if (!(gs->buckets[k].buffer = gs->backend->alloc(gs->buckets[k].floats * sizeof(float))))
            return facs_fail(FACS_ERR_MEMORY, "out of %s memory for the gradient buckets (%zu bytes)",
                             facs_device_name(gs->device), gs->buckets[k].floats * sizeof(float));
    return FACS_OK;
}

facs_status facs_grad_sync_create(facs_comm *comm, facs_param_list *params, size_t bucket_bytes,
                                  facs_grad_sync **out)
{
    facs_grad_sync *gs = calloc(1, sizeof *gs);
    *out = NULL;
    if (!gs)
        return facs_fail(FACS_ERR_MEMORY, "out of memory for the gradient sums");
    gs->comm = comm;
    facs_status s = plan_buckets(gs, params, bucket_bytes);
    if (s != FACS_OK) {
        facs_grad_sync_free(gs);
        return s;
    }
    *out = gs;
    return FACS_OK;
}

void facs_grad_sync_free(facs_grad_sync *gs)
{
    if (!gs)
        return;
    facs_grad_sync_attach(gs, NULL);
    for (int k = 0; k < gs->nbuckets; k++)
        if (gs->buckets[k].buffer)
            gs->backend->free(gs->buckets[k].buffer);
    free(gs->buckets);
    free(gs->plan);
    free(gs);
}

/* Copies the bucket's gradients in (zeros for one no backward reached) and starts their sum. */
static facs_status start_bucket(facs_grad_sync *gs, bucket *b)
{
    float *dst = b->buffer;
    for (int i = b->first; i < b->first + b->count; i++) {
        const facs_tensor *v = gs->plan[i]->value;
        size_t bytes = facs_tensor_numel(v) * sizeof(float);
        FACS_TRY(v->grad ? gs->backend->copy(dst, v->grad->data, bytes) : gs->backend->fill_zero(dst, bytes));
        dst += bytes / sizeof(float);
    }
    b->started = 1;
    return facs_comm_start_sum_on(gs->comm, gs->device, b->buffer, b->floats, FACS_COMM_F32);
}

/* Whether backward, having run node `node_index`, has finished every gradient of the bucket. */
static int bucket_ready(const facs_grad_sync *gs, const bucket *b, int node_index)
{
    uint64_t step = gs->ctx->step_id;
    for (int i = b->first; i < b->first + b->count; i++) {
        const facs_tensor *v = gs->plan[i]->value;
        if (v->tape_step != step || v->tape_first < node_index)
            return 0;
    }
    return 1;
}

static facs_status on_grad_ready(void *user, int node_index)
{
    facs_grad_sync *gs = user;
    for (int k = 0; k < gs->nbuckets; k++) {
        bucket *b = &gs->buckets[k];
        if (!b->started && bucket_ready(gs, b, node_index)) {
            FACS_TRY(start_bucket(gs, b));
            gs->early++;
        }
    }
    return facs_comm_progress_on(gs->comm, gs->device);
}

void facs_grad_sync_attach(facs_grad_sync *gs, facs_ctx *ctx)
{
    if (gs->ctx) {
        gs->ctx->grad_ready = NULL;
        gs->ctx->grad_ready_user = NULL;
    }
    gs->ctx = ctx;
    if (ctx) {
        ctx->grad_ready = on_grad_ready;
        ctx->grad_ready_user = gs;
    }
}

facs_status facs_grad_sync_finish(facs_grad_sync *gs)
{
    gs->last_early = gs->early;
    gs->early = 0;
    facs_status s = FACS_OK;
    for (int k = 0; k < gs->nbuckets && s == FACS_OK; k++)
        if (!gs->buckets[k].started)
            s = start_bucket(gs, &gs->buckets[k]);
    facs_status waited = gs->nplan ? facs_comm_wait_all_on(gs->comm, gs->device) : FACS_OK;
    FACS_TRY(s);
    FACS_TRY(waited);
    for (int k = 0; k < gs->nbuckets; k++) {
        bucket *b = &gs->buckets[k];
        const float *src = b->buffer;
        for (int i = b->first; i < b->first + b->count; i++) {
            facs_tensor *v = gs->plan[i]->value;
            size_t n = facs_tensor_numel(v);
            if (v->grad) /* a gradient no rank produced stays absent: SGD skips it as before */
                FACS_TRY(gs->backend->copy(v->grad->data, src, n * sizeof(float)));
            src += n;
        }
        b->started = 0;
    }
    return FACS_OK;
}

int facs_grad_sync_buckets(const facs_grad_sync *gs) { return gs->nbuckets; }

int facs_grad_sync_started_early(const facs_grad_sync *gs) { return gs->last_early; }

static facs_status broadcast_tensor(facs_comm *comm, facs_tensor *t)
{
    FACS_TRY(facs_comm_use_device(comm, t->device));
    FACS_TRY(facs_comm_broadcast_on(comm, t->device, t->data, facs_tensor_bytes(t), 0));
    facs_tensor_touch(t);
    return FACS_OK;
}

facs_status facs_params_broadcast(facs_comm *comm, facs_param_list *params)
{
    if (facs_comm_size(comm) == 1)
        return FACS_OK;
    for (int i = 0; i < params->count; i++) {
        facs_param *p = params->items[i];
        FACS_TRY(broadcast_tensor(comm, p->value));
        if (p->momentum)
            FACS_TRY(broadcast_tensor(comm, p->momentum));
    }
    return FACS_OK;
}
