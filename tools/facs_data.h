/* facs-data's parts shared between its command line (facs_data.c) and the
 * dataset kinds kept in their own files (data_imagefolder.c). */
#ifndef FACS_DATA_TOOL_H
#define FACS_DATA_TOOL_H

#include <jansson.h>
#include <stdint.h>

#include "status.h"

typedef struct {
    int json;
    int force;         /* synth: write into a non-empty OUT */
    int n;             /* synth: training images; 0 = the kind's default */
    int width, height; /* synth: image or frame size; 0 = the kind's default */
    int classes;       /* synth imagefolder: classes; 0 = the default, 10 */
    uint64_t seed;
} options;

typedef struct {
    const char *name;        /* as typed after `synth`, and shown in messages */
    const char *(*looked_for)(void); /* what probe looks for, for "not a known dataset" messages */
    /* *found = 1 when dir looks like this dataset, 0 when not; a status when dir cannot be probed. */
    facs_status (*probe)(const char *dir, int *found);
    facs_status (*check)(const char *dir, const options *o);
    facs_status (*synth)(const char *dir, const options *o);
    /* Why synth refuses --size or --classes (the kind's are fixed: "32x32 images"); NULL: it takes them. */
    const char *fixed_size, *fixed_classes;
} dataset_kind;

/* A JSON string of s. jansson takes UTF-8 only: a name that is not (a Latin-1
 * path) keeps its ASCII and shows each other byte as '?'. */
json_t *json_text(const char *s);
/* obj[key] = value (consumed), key made valid UTF-8 as json_text does. */
void json_set(json_t *obj, const char *key, json_t *value);
/* Prints obj (consumed) as one line on stdout. */
facs_status print_json(json_t *obj);

/* The image-folder kind (DIR/train/<class>/, DIR/val/<class>/; data_imagefolder.c). */
const char *imagefolder_looked_for(void);
facs_status imagefolder_probe(const char *dir, int *found);
facs_status imagefolder_check(const char *dir, const options *o);
facs_status imagefolder_synth(const char *dir, const options *o);

#endif
