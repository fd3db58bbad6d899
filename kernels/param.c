#include "param.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

void facs_param_list_init(facs_param_list *list) { *list = (facs_param_list){0}; }

static void param_free(facs_param *p)
{
    facs_tensor_free(p->value); /* frees value->grad too (is_param) */
    facs_tensor_free(p->momentum);
    free(p->name);
    free(p);
}

void facs_param_list_free(facs_param_list *list)
{
    for (int i = 0; i < list->count; i++)
        param_free(list->items[i]);
    free(list->items);
    facs_param_list_init(list);
}

facs_param *facs_param_list_find(const facs_param_list *list, const char *name)
{
    for (int i = 0; i < list->count; i++)
        if (strcmp(list->items[i]->name, name) == 0)
            return list->items[i];
    return NULL;
}

static facs_status reserve_one(facs_param_list *list)
{
    if (list->count < list->capacity)
        return FACS_OK;
    int capacity = list->capacity ? 2 * list->capacity : 64;
    facs_param **items = realloc(list->items, (size_t)capacity * sizeof *items);
    if (!items)
        return facs_fail(FACS_ERR_MEMORY, "param list: out of host memory growing to %d entries", capacity);
    list->items = items;
    list->capacity = capacity;
    return FACS_OK;
}

facs_param *facs_param_list_add(facs_param_list *list, facs_param_kind kind, const char *name, facs_device device,
                                int n, int c, int h, int w)
{
    if (!name || !name[0]) {
        facs_fail(FACS_ERR_ARG, "param list: a parameter needs a non-empty name");
        return NULL;
    }
    if (kind != FACS_PARAM_TRAINABLE && kind != FACS_PARAM_BUFFER) {
        facs_fail(FACS_ERR_ARG, "param list: %s has an unknown kind %d", name, (int)kind);
        return NULL;
    }
    if (facs_param_list_find(list, name)) {
        facs_fail(FACS_ERR_ARG, "param list: %s is registered twice", name);
        return NULL;
    }
    if (reserve_one(list) != FACS_OK)
        return NULL;
    facs_param *p = calloc(1, sizeof *p);
    char *copy = strdup(name);
    facs_tensor *value = p && copy ? facs_tensor_create(device, FACS_F32, n, c, h, w) : NULL;
    if (!value) {
        if (!p || !copy)
            facs_fail(FACS_ERR_MEMORY, "param list: out of host memory registering %s", name);
        free(p);
        free(copy);
        return NULL;
    }
    value->is_param = kind == FACS_PARAM_TRAINABLE;
    value->requires_grad = kind == FACS_PARAM_TRAINABLE;
    *p = (facs_param){.name = copy, .kind = kind, .value = value, .lr_mult = 1.0,
                      .torch_rank = c == 1 && h == 1 && w == 1 ? 1 : 4};
    list->items[list->count++] = p;
    return p;
}

facs_status facs_param_list_zero_grad(facs_param_list *list)
{
    for (int i = 0; i < list->count; i++) {
        facs_param *p = list->items[i];
        facs_tensor *g = p->value->grad;
        if (p->kind != FACS_PARAM_TRAINABLE || !g)
            continue;
        FACS_TRY(facs_backend_get(g->device)->fill_zero(g->data, facs_tensor_bytes(g)));
    }
    return FACS_OK;
}

size_t facs_param_list_numel(const facs_param_list *list, facs_param_kind kind)
{
    size_t total = 0;
    for (int i = 0; i < list->count; i++)
        if (list->items[i]->kind == kind)
            total += facs_tensor_numel(list->items[i]->value);
    return total;
}

void facs_param_set_frozen(facs_param *p, int frozen)
{
    p->frozen = frozen != 0;
    if (p->kind == FACS_PARAM_TRAINABLE)
        p->value->requires_grad = !p->frozen;
}

facs_status facs_param_list_to_device(facs_param_list *list, facs_device device)
{
    for (int i = 0; i < list->count; i++) {
        facs_param *p = list->items[i];
        facs_status s = facs_tensor_move_to(p->value, device);
        if (s == FACS_OK && p->momentum)
            s = facs_tensor_move_to(p->momentum, device);
        if (s != FACS_OK) {
            char why[256];
            snprintf(why, sizeof why, "%s", facs_last_error());
            return facs_fail(s, "moving %s to %s: %s", p->name, facs_device_name(device), why);
        }
    }
    return FACS_OK;
}

facs_status facs_param_ensure_momentum(facs_param *p)
{
    if (p->momentum)
        return FACS_OK;
    const facs_tensor *v = p->value;
    p->momentum = facs_tensor_create(v->device, FACS_F32, v->n, v->c, v->h, v->w);
    if (!p->momentum) {
        char why[256]; /* the message being wrapped lives in the buffer facs_fail writes */
        snprintf(why, sizeof why, "%s", facs_last_error());
        return facs_fail(FACS_ERR_MEMORY, "momentum buffer of %s: %s", p->name, why);
    }
    return FACS_OK;
}
