/* Setting up and running pspnet-eval (see eval_run.h). */
#include "eval_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "clock.h"
#include "interrupt.h"
#include "model_file.h"
#include "pspnet.h"
#include "seg_metrics.h"

/* The model options path was saved with, refused before anything is built
 * unless it is a PSPNet on Cityscapes' 19 trainIds. */
static facs_status model_options(const char *path, facs_model_options *mo)
{
    FACS_TRY(facs_model_options_from_file(path, mo));
    if (!facs_model_arch_is_segmentation(mo->arch))
        return facs_fail(FACS_ERR_ARG,
                         "--weights %s holds %s, not a PSPNet: pspnet-eval needs a pspnet_<backbone> weights file "
                         "(pspnet-train's best.h5 or last.h5, or a converted semseg checkpoint)",
                         path, mo->arch);
    if (mo->classes != FACS_CITYSCAPES_CLASSES)
        return facs_fail(FACS_ERR_ARG, "--weights %s has %d classes; pspnet-eval evaluates Cityscapes' %d trainIds",
                         path, mo->classes, FACS_CITYSCAPES_CLASSES);
    return FACS_OK;
}

/* --data: the split's frames, named under ROOT/leftImg8bit/SPLIT ("city/name"). */
static facs_status list_split(ev_run *r)
{
    FACS_TRY(facs_cityscapes_index(r->o->data, r->o->split, &r->index));
    facs_cityscapes_dataset(&r->index, &r->images);
    char prefix[4096];
    int n = snprintf(prefix, sizeof prefix, "%s/leftImg8bit/%s/", r->o->data, r->o->split);
    for (int i = 0; i < r->index.count; i++) {
        const char *file = r->index.pairs[i].image;
        FACS_TRY(ev_saver_add(&r->saver, file, strncmp(file, prefix, (size_t)n) == 0 ? file + n : file));
    }
    r->saver.cityscapes = 1;
    return FACS_OK;
}

/* --save-pred and --out kept out of what the run reads: --images' folder, or
 * the folders of --data that the Cityscapes indexer reads. */
static facs_status check_outputs_outside_inputs(const ev_options *o)
{
    if (o->images)
        return ev_check_save_pred_outside(o->images, o->save_pred);
    if (o->save_pred)
        FACS_TRY(facs_cityscapes_check_output(o->data, "--save-pred", o->save_pred));
    return facs_cityscapes_check_output(o->data, "--out", o->out);
}

/* The size of an image file from its header, without decoding it. */
static facs_status image_size(const char *path, int *h, int *w)
{
    uint8_t *data;
    size_t len;
    FACS_TRY(facs_file_read(path, &data, &len));
    int jpeg;
    facs_status s = facs_image_probe(data, len, path, w, h, &jpeg);
    free(data);
    return s;
}

/* Slide mode: one line on stderr when every window over the first image is
 * mostly padding, which the network never saw in training (the default 713
 * crop on small frames: a forgotten --crop); a warning, since the numbers are
 * still semseg's for that crop. */
static void warn_mostly_padding(const ev_run *r)
{
    const facs_seg_infer_opts *in = &r->o->infer;
    const char *first = r->saver.files.count ? r->saver.files.items[0] : NULL;
    int h, w, nh, nw;
    if (!r->writes || !first || image_size(first, &h, &w) != FACS_OK ||
        !facs_seg_windows_mostly_padding(in, h, w, &nh, &nw))
        return;
    fprintf(stderr,
            "pspnet-eval: warning: --crop %dx%d is more than twice the size of %s on a side (%dx%d HxW at the "
            "network): every window is mostly padding (the mean), unlike the crops the network was trained on; "
            "give a --crop near the training one, or --mode whole\n",
            in->crop_h, in->crop_w, first, nh, nw);
}

facs_status ev_run_setup(ev_run *r, const ev_options *o, facs_comm *comm)
{
    memset(r, 0, sizeof *r);
    r->out.lock_fd = -1;
    r->o = o;
    r->comm = comm;
    r->par = (facs_parallel){.comm = comm}; /* the stop agreement alone: evaluation has no gradients */
    r->writes = facs_comm_rank(comm) == 0;
    facs_interrupt_install(); /* before the lock exists, as the training tools */
    r->saver.dir = o->save_pred;
    r->saver.weights = o->weights;
    r->saver.probabilities = o->save_prob;
    facs_model_options mo;
    FACS_TRY(facs_cli_device_use(&o->device, facs_comm_size(comm)));
    FACS_TRY(model_options(o->weights, &mo));
    FACS_TRY(check_outputs_outside_inputs(o));
    FACS_TRY(o->data ? list_split(r) : ev_list_images(r));
    warn_mostly_padding(r);
    if (o->save_pred)
        FACS_TRY(ev_saver_check_unique(&r->saver));
    if (o->out && r->writes) { /* before the work: a folder that cannot be made fails now, not after it */
        FACS_TRY(facs_run_dir_open(&r->out, "--out", o->out));
        static const char *const outputs[] = {"results.json", "confusion.csv"};
        for (int k = 0; k < 2; k++) {
            char path[4200];
            FACS_TRY(facs_run_dir_file(&r->out, outputs[k], path, sizeof path));
            FACS_TRY(facs_check_output_not_input("--out", path, &o->weights, 1));
        }
    }
    FACS_TRY(facs_model_create(&r->model, &mo, FACS_DEVICE_CPU, 0));
    FACS_TRY(facs_model_load(o->weights, r->model, NULL));
    FACS_TRY(facs_cli_device_place(r->model, &o->device, 1)); /* inference: BN folded (CPU), ReLU and adds fused */
    if (!(r->ctx = facs_ctx_create(o->device.device)))
        return facs_last_status();
    FACS_TRY(facs_ctx_set_weight_cache(r->ctx, 1)); /* the weights stay fixed: reorder them once */
    if (o->save_pred) { /* before the first frame, not at its first prediction */
        FACS_TRY(facs_make_dirs(o->save_pred));
        FACS_TRY(facs_check_writable_folder("--save-pred", o->save_pred));
    }
    return FACS_OK;
}

void ev_show_progress(void *user, int done, int total)
{
    facs_progress_update(user, done, "");
    (void)total;
}

facs_status ev_write_results(facs_run_dir *out, const facs_confusion *cm, const facs_cityscapes_instances *inst)
{
    char json[4200], csv[4200];
    FACS_TRY(facs_run_dir_file(out, "results.json", json, sizeof json));
    FACS_TRY(facs_run_dir_file(out, "confusion.csv", csv, sizeof csv));
    facs_run_dir_mark_written(out);
    FACS_TRY(facs_confusion_write_csv(cm, facs_cityscapes_class_names, csv));
    FACS_TRY(facs_seg_results_write(cm, inst, json));
    printf("results: %s, %s\n", json, csv);
    return FACS_OK;
}

/* What the run evaluates, and how: its header line, and what the ranks must agree on. */
static void describe(const ev_run *r, char *line, size_t line_size)
{
    const ev_options *o = r->o;
    const facs_model_options *mo = facs_model_get_options(r->model);
    char size[64] = "their own size";
    const facs_seg_infer_opts *in = &o->infer;
    if (in->base_size)
        snprintf(size, sizeof size, "longer side %d", in->base_size);
    char scales[160] = "";
    for (int i = 0, n = 0; i < in->n_scales && n < (int)sizeof scales; i++)
        n += snprintf(scales + n, sizeof scales - (size_t)n, "%s%g", i ? "," : ", scales ", in->scales[i]);
    char mode[96] = "whole images";
    if (o->slide)
        snprintf(mode, sizeof mode, "%dx%d windows every %dx%d", in->crop_h, in->crop_w, in->stride_h,
                 in->stride_w);
    snprintf(line, line_size, "%s: %s, width %g, output stride %d; %d image%s of %s%s%s; %s%s at %s%s", o->weights,
             mo->arch, mo->width, mo->output_stride, r->images.count, r->images.count == 1 ? "" : "s",
             o->data ? o->data : o->images, o->data ? ", split " : "", o->data ? o->split : "", mode,
             in->flip ? " and mirrored" : "", size, scales);
}

/* Under mpirun, ranks started with other options or data would mix their images' results (another --flip, another
 * --data) or fail in a collective without saying why: refused before the first image. */
static facs_status check_ranks_agree(const char *line, facs_comm *comm)
{
    char *rank0;
    int same;
    FACS_TRY(facs_parallel_agree_text(comm, line, &rank0, &same));
    facs_status s = same ? FACS_OK
                    : strcmp(rank0, line) != 0
                        ? facs_fail(FACS_ERR_ARG, "the ranks were started with other options or data: here \"%s\", on "
                                    "rank 0 \"%s\"", line, rank0)
                        : facs_fail(FACS_ERR_ARG, "another rank was started with other options or data (its message "
                                    "says how)");
    free(rank0);
    return s;
}

int ev_run_evaluate(ev_run *r)
{
    const ev_options *o = r->o;
    char line[8192];
    describe(r, line, sizeof line);
    printf("%s\n", line);
    fflush(stdout);
    if (check_ranks_agree(line, r->comm) != FACS_OK)
        return FACS_EXIT_ERROR;
    facs_confusion cm = {0};
    if (o->data && facs_confusion_init(&cm, FACS_CITYSCAPES_CLASSES) != FACS_OK)
        return FACS_EXIT_ERROR;
    facs_seg_eval_opts eo = facs_seg_eval_defaults();
    eo.infer = o->infer;
    eo.progress = ev_show_progress;
    eo.progress_user = &r->bar;
    eo.stop = facs_parallel_stop_hook;
    eo.stop_user = &r->par;
    eo.infer.cancel = facs_interrupted_hook; /* a frame at several scales takes minutes: Ctrl-C stops within one */
    eo.names = (const char *const *)r->saver.files.items;
    eo.comm = r->comm;
    if (o->save_pred) {
        eo.on_prediction = ev_save_prediction;
        eo.prediction_user = &r->saver;
        eo.keep_probabilities = o->save_prob;
    }
    facs_progress_begin(&r->bar, o->data ? o->split : "images", r->images.count, 0, 1);
    double start = facs_clock_seconds();
    facs_status s = facs_seg_eval_whole(r->ctx, r->model, &r->images, &eo, o->data ? &cm : NULL);
    facs_progress_end(&r->bar);
    double seconds = facs_clock_seconds() - start;
    int ranks = facs_comm_size(r->comm), stopped = s == FACS_OK && r->par.stopped;
    if (stopped)
        printf("interrupted: no results written%s\n", o->save_pred ? " (the predictions saved so far stay)" : "");
    if (s == FACS_OK && !stopped) {
        char on[32] = "";
        if (ranks > 1)
            snprintf(on, sizeof on, " on %d ranks", ranks);
        printf("%d image%s in %.1f s (%.2f images/s%s)\n\n", r->images.count, r->images.count == 1 ? "" : "s", seconds,
               seconds > 0 ? r->images.count / seconds : 0.0, on);
        if (o->data) {
            facs_seg_results_print(&cm, NULL, stdout);
            if (r->writes)
                s = ev_write_results(&r->out, &cm, NULL);
        }
        if (s == FACS_OK && o->save_pred)
            printf("predictions: %.*s/{trainid,labelid,color,overlay}\n", (int)facs_path_len_trimmed(o->save_pred),
                   o->save_pred);
    }
    facs_confusion_free(&cm);
    return s != FACS_OK ? FACS_EXIT_ERROR : stopped ? FACS_EXIT_INTERRUPTED : FACS_EXIT_OK;
}

void ev_run_free(ev_run *r)
{
    facs_model_free(r->model);
    facs_ctx_free(r->ctx);
    facs_cityscapes_index_free(&r->index);
    ev_saver_free(&r->saver);
    facs_run_dir_close(&r->out);
}
