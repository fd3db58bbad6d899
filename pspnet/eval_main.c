/* pspnet-eval: a PSPNet weights file evaluated on a Cityscapes split, or run
 * on a folder of images, predictions saved in every format (see --help and
 * docs/pspnet.md). Parses the options; eval_run.h does the rest. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_options.h"
#include "eval_run.h"
#include "interrupt.h"
#include "parallel.h"
#include "pspnet.h"
#include "seg_infer.h"

#define VERSION "pspnet-eval 0.1.0"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: pspnet-eval --weights W.h5 --data ROOT [--split val] --out DIR [--save-pred DIR] [options]\n"
            "       pspnet-eval --weights W.h5 --images DIR --save-pred DIR [options]\n"
            "       pspnet-eval --score PRED_DIR --data ROOT [--split val] --out DIR [--pred-format labelid]\n"
            "Evaluates a PSPNet (the network rebuilt from W.h5 alone: pspnet-train's best.h5 or last.h5, or a\n"
            "converted semseg checkpoint) on a Cityscapes-layout folder, as semseg's test and cityscapesScripts\n"
            "do: one confusion matrix over the split (ignore label 255 excluded), per-class IoU and accuracy,\n"
            "mIoU, pixel accuracy, mean class accuracy, and the IoU of the 7 Cityscapes categories. A class\n"
            "absent from both prediction and ground truth is reported as absent and left out of the means.\n"
            "Input:\n"
            "  --weights W.h5      a pspnet_* model file with 19 classes (Cityscapes' trainIds)\n"
            "  --data ROOT         leftImg8bit/{split}/<city>/*_leftImg8bit.png with gtFine labelTrainIds or\n"
            "                      labelIds PNGs\n"
            "  --split S           train, val (default) or test\n"
            "  --images DIR        instead of --data: every PNG/JPEG under DIR (recursively; hidden files and\n"
            "                      folders left out, other files skipped), no labels, so no metrics; needs\n"
            "                      --save-pred outside DIR\n"
            "  --score PRED_DIR    instead of --weights: score predictions made elsewhere as cityscapesScripts'\n"
            "                      evalPixelLevelSemanticLabeling does: for each frame the one PNG under\n"
            "                      PRED_DIR (recursively) named <city>_<seq>_<frame>*.png; with gtFine\n"
            "                      instanceIds PNGs also the instance-level iIoU\n"
            "  --pred-format F     labelid (default: the 34 labelIds, as cityscapesScripts reads them) or\n"
            "                      trainid (0..18, 255 for none); palette PNGs count by their indices\n"
            "Inference:\n"
            "  --mode slide|whole  slide (default): windows of --crop every --stride, the image padded with\n"
            "                      the mean to at least the crop, softmax averaged where windows overlap, as\n"
            "                      semseg's test; whole: each image through the network at once\n"
            "  --crop S|HxW        slide windows (default 713)\n"
            "  --stride S|HxW      between windows, at most the crop (default ceil(2/3 crop): 476)\n"
            "  --flip              also the mirrored image, the two softmaxes averaged\n"
            "  --base-size N       resize each image so that its longer side is N, and the class\n"
            "                      probabilities back to the image's size (default: the image's own size)\n"
            "  --scales LIST       multi-scale, e.g. 0.5,0.75,1,1.25,1.5,1.75: the longer side becomes\n"
            "                      round(scale x base size) in turn and the probabilities, resized back,\n"
            "                      are averaged (default: 1)\n"
            FACS_CLI_DEVICE_HELP("          ")
            "Output:\n"
            "  --out DIR           results.json (fractions: miou, iou, category_miou, category_iou, pixel_acc,\n"
            "                      mean_acc; miiou, iiou, category_miiou, category_iiou with --score where gtFine\n"
            "                      has instanceIds, else null) and confusion.csv; created if missing, locked\n"
            "                      while in use\n"
            "  --save-pred DIR     per image, 8-bit PNGs in sub-folders of DIR (created if missing; neither\n"
            "                      among --images nor in ROOT/leftImg8bit or ROOT/gtFine, as --out):\n"
            "                        trainid/NAME.png        trainIds 0..18\n"
            "                        labelid/CITY/NAME.png   the 34 labelIds, as cityscapesScripts reads them\n"
            "                        color/NAME.png          the Cityscapes palette\n"
            "                        overlay/NAME.png        the colours blended 50%% over the image\n"
            "                      NAME is the image's file name without its extension\n"
            "                      (CITY_SEQ_FRAME_leftImg8bit); with --images, its path under DIR and no CITY\n"
            "  --save-prob         with --save-pred, also prob/NAME.h5: /prob (classes, H, W) float32, the\n"
            "                      averaged class probabilities the predictions are the argmax of\n"
            "  --help, --version\n"
            "Under mpirun -np N each process evaluates every N-th image and saves its predictions; the\n"
            "confusion matrices are summed and rank 0 alone prints and writes --out (--score: one process).\n"
            "Ctrl-C stops every process after the image at hand, writes no results and exits with 130.\n");
}

enum { O_WEIGHTS = 256, O_DATA, O_SPLIT, O_IMAGES, O_OUT, O_SAVE_PRED, O_MODE, O_BASE_SIZE, O_CROP, O_STRIDE, O_FLIP, O_SCALES, O_SAVE_PROB, O_SCORE, O_PRED_FORMAT, O_HELP, O_VERSION, O_DEVICE };

/* --scales: up to FACS_SEG_MAX_SCALES comma-separated scales in [0.05, 8]. */
static facs_status parse_scales(const char *text, facs_seg_infer_opts *in)
{
    in->n_scales = 0;
    for (const char *item = text;; item++) {
        const char *comma = strchr(item, ',');
        size_t len = comma ? (size_t)(comma - item) : strlen(item);
        char number[64];
        if (in->n_scales == FACS_SEG_MAX_SCALES)
            return facs_fail(FACS_ERR_ARG, "--scales: at most %d scales, got '%s'", FACS_SEG_MAX_SCALES, text);
        if (len == 0 || len >= sizeof number)
            return facs_fail(FACS_ERR_ARG, "--scales needs comma-separated numbers such as 0.5,0.75,1,1.25,1.5,1.75, "
                                           "got '%s'", text);
        memcpy(number, item, len);
        number[len] = '\0';
        double v;
        FACS_TRY(facs_cli_real("--scales", number, 0.05, 8, &v));
        in->scales[in->n_scales++] = (float)v;
        if (!comma)
            return FACS_OK;
        item = comma;
    }
}

static int accepted(facs_status s)
{
    if (s != FACS_OK)
        fprintf(stderr, "pspnet-eval: %s\n", facs_last_error());
    return s == FACS_OK;
}

/* --score takes predictions, not a model: --data and --out, nothing that runs a network. */
static facs_status check_score_combination(const ev_options *o)
{
    if (!o->data || !o->out)
        return facs_fail(FACS_ERR_ARG, "--score PRED_DIR needs --data ROOT (the ground truth) and --out DIR");
    const char *model_option = o->weights        ? "--weights"
                               : o->images       ? "--images"
                               : o->save_pred    ? "--save-pred"
                               : o->device_given ? "--device"
                                                 : NULL;
    if (model_option)
        return facs_fail(FACS_ERR_ARG, "--score scores predictions made elsewhere; %s belongs to running a model",
                         model_option);
    return FACS_OK;
}

/* The combinations of --data, --images, --out and --save-pred that make sense. */
static facs_status check_combination(const ev_options *o)
{
    if (!o->weights)
        return facs_fail(FACS_ERR_ARG, "--weights W.h5 is required");
    if (!o->data == !o->images)
        return facs_fail(FACS_ERR_ARG, "give one of --data ROOT (evaluate a split) and --images DIR (predict only)");
    if (o->data && !o->out)
        return facs_fail(FACS_ERR_ARG, "--data needs --out DIR for results.json and confusion.csv");
    if (o->images && !o->save_pred)
        return facs_fail(FACS_ERR_ARG, "--images needs --save-pred DIR: its images have no labels to score");
    if (o->images && o->out)
        return facs_fail(FACS_ERR_ARG, "--images has no labels, so no results for --out; give --save-pred DIR only");
    return FACS_OK;
}

static int parse(int argc, char **argv, ev_options *o)
{
    static const struct option longopts[] = {
        {"weights", 1, 0, O_WEIGHTS}, {"data", 1, 0, O_DATA},     {"split", 1, 0, O_SPLIT},
        {"images", 1, 0, O_IMAGES},   {"out", 1, 0, O_OUT},       {"save-pred", 1, 0, O_SAVE_PRED},
        {"mode", 1, 0, O_MODE},       {"base-size", 1, 0, O_BASE_SIZE}, {"help", 0, 0, O_HELP},
        {"crop", 1, 0, O_CROP},       {"stride", 1, 0, O_STRIDE}, {"flip", 0, 0, O_FLIP},
        {"scales", 1, 0, O_SCALES},   {"save-prob", 0, 0, O_SAVE_PROB},
        {"score", 1, 0, O_SCORE},     {"pred-format", 1, 0, O_PRED_FORMAT},
        {"version", 0, 0, O_VERSION}, {"device", 1, 0, O_DEVICE}, {0, 0, 0, 0}};
    static const char *const SPLITS[] = {"train", "val", "test", NULL};
    static const char *const MODES[] = {"slide", "whole", NULL};
    static const char *const PRED_FORMATS[] = {"labelid", "trainid", NULL};
    int c, ok = 1, choice = 0, split_given = 0, crop_given = 0, stride_given = 0, format_given = 0;
    while (ok && (c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case O_WEIGHTS: o->weights = optarg; break;
        case O_DATA: o->data = optarg; break;
        case O_SPLIT:
            ok = accepted(facs_cli_choice("--split", optarg, SPLITS, &choice));
            o->split = SPLITS[choice];
            split_given = 1;
            break;
        case O_IMAGES: o->images = optarg; break;
        case O_OUT: o->out = optarg; break;
        case O_SAVE_PRED: o->save_pred = optarg; break;
        case O_MODE:
            ok = accepted(facs_cli_choice("--mode", optarg, MODES, &choice));
            o->slide = choice == 0;
            break;
        case O_CROP:
            ok = accepted(facs_cli_size("--crop", optarg, 8, 16384, &o->infer.crop_h, &o->infer.crop_w));
            crop_given = 1;
            break;
        case O_STRIDE:
            ok = accepted(facs_cli_size("--stride", optarg, 1, 16384, &o->infer.stride_h, &o->infer.stride_w));
            stride_given = 1;
            break;
        case O_FLIP: o->infer.flip = 1; break;
        case O_SCALES: ok = accepted(parse_scales(optarg, &o->infer)); break;
        case O_SAVE_PROB: o->save_prob = 1; break;
        case O_SCORE: o->score = optarg; break;
        case O_PRED_FORMAT:
            ok = accepted(facs_cli_choice("--pred-format", optarg, PRED_FORMATS, &choice));
            o->score_train_ids = choice == 1;
            format_given = 1;
            break;
        case O_DEVICE:
            ok = accepted(facs_cli_device(optarg, &o->device));
            o->device_given = 1;
            break;
        case O_BASE_SIZE: ok = accepted(facs_cli_int("--base-size", optarg, 8, 16384, &o->infer.base_size)); break;
        case 'h':
        case O_HELP: usage(stdout); exit(FACS_EXIT_OK);
        case O_VERSION: puts(VERSION); exit(FACS_EXIT_OK);
        default: ok = 0;
        }
    }
    if (ok && optind < argc)
        ok = accepted(facs_fail(FACS_ERR_ARG, "unexpected argument '%s'", argv[optind]));
    if (ok && format_given && !o->score)
        ok = accepted(facs_fail(FACS_ERR_ARG, "--pred-format is the format of the --score predictions"));
    if (ok)
        ok = accepted(o->score ? check_score_combination(o) : check_combination(o));
    if (ok && !o->slide && (crop_given || stride_given))
        ok = accepted(facs_fail(FACS_ERR_ARG, "--%s sets the windows of --mode slide, not of --mode whole",
                                crop_given ? "crop" : "stride"));
    facs_seg_infer_opts *in = &o->infer;
    if (ok && !o->slide)
        in->crop_h = in->crop_w = 0;
    if (ok && o->slide && !stride_given) {
        in->stride_h = facs_seg_default_stride(in->crop_h);
        in->stride_w = facs_seg_default_stride(in->crop_w);
    }
    if (ok && o->slide && (in->stride_h > in->crop_h || in->stride_w > in->crop_w))
        ok = accepted(facs_fail(FACS_ERR_ARG, "--stride %dx%d is larger than --crop %dx%d (HxW): windows would leave gaps",
                                in->stride_h, in->stride_w, in->crop_h, in->crop_w));
    if (ok && o->save_prob && !o->save_pred)
        ok = accepted(facs_fail(FACS_ERR_ARG, "--save-prob writes under --save-pred DIR; give that too"));
    if (ok && split_given && o->images)
        ok = accepted(facs_fail(FACS_ERR_ARG, "--split chooses a split of --data; --images has none"));
    if (!ok)
        fprintf(stderr, "Try 'pspnet-eval --help'.\n");
    return ok;
}

int main(int argc, char **argv)
{
    facs_cli_program_name(argv);
    ev_options o = {.split = "val", .slide = 1, .infer = facs_seg_infer_defaults()};
    o.infer.crop_h = o.infer.crop_w = 713;
    /* Line by line: stdout redirected to a file keeps every line up to a kill -9. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!parse(argc, argv, &o))
        return FACS_EXIT_USAGE;
    if (o.score) {
        if (facs_comm_mpi_launched()) {
            fprintf(stderr, "pspnet-eval: --score runs in one process; start it without mpirun\n");
            return FACS_EXIT_USAGE;
        }
        if (ev_score(&o) == FACS_OK)
            return FACS_EXIT_OK;
        fprintf(stderr, "pspnet-eval: %s\n", facs_last_error());
        return FACS_EXIT_ERROR;
    }
    facs_comm *comm = facs_parallel_open("pspnet-eval");
    int rank = facs_comm_rank(comm), ranks = facs_comm_size(comm);
    ev_run run;
    int rc = ev_run_setup(&run, &o, comm) == FACS_OK ? ev_run_evaluate(&run) : FACS_EXIT_ERROR;
    if (rc == FACS_EXIT_ERROR) {
        fprintf(stderr, "pspnet-eval: %s%s\n", facs_parallel_rank_label(rank, ranks), facs_last_error());
        facs_parallel_fail(comm, rc);
    }
    ev_run_free(&run);
    facs_comm_close(comm);
    return rc;
}
