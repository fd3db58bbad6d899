/* pspnet-eval: a PSPNet weights file evaluated on a Cityscapes split, or run
 * on a folder of images, predictions saved in every format (see --help and
 * docs/pspnet.md). Parses the options; eval_run.h does the rest. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli_options.h"
#include "eval_run.h"
#include "interrupt.h"
#include "pspnet.h"
#include "seg_infer.h"

#define VERSION "pspnet-eval 0.1.0"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: pspnet-eval --weights W.h5 --data ROOT [--split val] --out DIR [--save-pred DIR] [options]\n"
            "       pspnet-eval --weights W.h5 --images DIR --save-pred DIR [options]\n"
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
            "  --images DIR        instead of --data: every PNG/JPEG under DIR (recursively), no labels, so no\n"
            "                      metrics; needs --save-pred\n"
            "Inference:\n"
            "  --mode slide|whole  slide (default): windows of --crop every --stride, the image padded with\n"
            "                      the mean to at least the crop, softmax averaged where windows overlap, as\n"
            "                      semseg's test; whole: each image through the network at once\n"
            "  --crop S|HxW        slide windows (default 713)\n"
            "  --stride S|HxW      between windows, at most the crop (default ceil(2/3 crop): 476)\n"
            "  --flip              also the mirrored image, the two softmaxes averaged\n"
            "  --base-size N       resize each image so that its longer side is N, and the class\n"
            "                      probabilities back to the image's size (default: the image's own size)\n"
            "Output:\n"
            "  --out DIR           results.json (fractions: miou, iou, category_miou, category_iou, pixel_acc,\n"
            "                      mean_acc; miiou, iiou, category_miiou, category_iiou are null until instance\n"
            "                      evaluation comes) and confusion.csv; created if missing, locked while in use\n"
            "  --save-pred DIR     per image, 8-bit PNGs in sub-folders of DIR (created if missing):\n"
            "                        trainid/NAME.png        trainIds 0..18\n"
            "                        labelid/CITY/NAME.png   the 34 labelIds, as cityscapesScripts reads them\n"
            "                        color/NAME.png          the Cityscapes palette\n"
            "                        overlay/NAME.png        the colours blended 50%% over the image\n"
            "                      NAME is the image's file name without its extension\n"
            "                      (CITY_SEQ_FRAME_leftImg8bit); with --images, its path under DIR and no CITY\n"
            "  --help, --version\n");
}

enum { O_WEIGHTS = 256, O_DATA, O_SPLIT, O_IMAGES, O_OUT, O_SAVE_PRED, O_MODE, O_BASE_SIZE, O_CROP, O_STRIDE, O_FLIP, O_HELP, O_VERSION };

static int accepted(facs_status s)
{
    if (s != FACS_OK)
        fprintf(stderr, "pspnet-eval: %s\n", facs_last_error());
    return s == FACS_OK;
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
        {"version", 0, 0, O_VERSION}, {0, 0, 0, 0}};
    static const char *const SPLITS[] = {"train", "val", "test", NULL};
    static const char *const MODES[] = {"slide", "whole", NULL};
    int c, ok = 1, choice = 0, split_given = 0, crop_given = 0, stride_given = 0;
    while (ok && (c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
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
            ok = accepted(facs_cli_size("--crop", optarg, 8, 16384, &o->crop_h, &o->crop_w));
            crop_given = 1;
            break;
        case O_STRIDE:
            ok = accepted(facs_cli_size("--stride", optarg, 1, 16384, &o->stride_h, &o->stride_w));
            stride_given = 1;
            break;
        case O_FLIP: o->flip = 1; break;
        case O_BASE_SIZE: ok = accepted(facs_cli_int("--base-size", optarg, 8, 16384, &o->base_size)); break;
        case O_HELP: usage(stdout); exit(FACS_EXIT_OK);
        case O_VERSION: puts(VERSION); exit(FACS_EXIT_OK);
        default: ok = 0;
        }
    }
    if (ok && optind < argc)
        ok = accepted(facs_fail(FACS_ERR_ARG, "unexpected argument '%s'", argv[optind]));
    if (ok)
        ok = accepted(check_combination(o));
    if (ok && !o->slide && (crop_given || stride_given))
        ok = accepted(facs_fail(FACS_ERR_ARG, "--%s sets the windows of --mode slide, not of --mode whole",
                                crop_given ? "crop" : "stride"));
    if (ok && o->slide && !stride_given) {
        o->stride_h = facs_seg_default_stride(o->crop_h);
        o->stride_w = facs_seg_default_stride(o->crop_w);
    }
    if (ok && o->slide && (o->stride_h > o->crop_h || o->stride_w > o->crop_w))
        ok = accepted(facs_fail(FACS_ERR_ARG, "--stride %dx%d is larger than --crop %dx%d (HxW): windows would leave gaps",
                                o->stride_h, o->stride_w, o->crop_h, o->crop_w));
    if (ok && split_given && o->images)
        ok = accepted(facs_fail(FACS_ERR_ARG, "--split chooses a split of --data; --images has none"));
    if (!ok)
        fprintf(stderr, "Try 'pspnet-eval --help'.\n");
    return ok;
}

int main(int argc, char **argv)
{
    ev_options o = {.split = "val", .slide = 1, .crop_h = 713, .crop_w = 713};
    if (!parse(argc, argv, &o))
        return FACS_EXIT_USAGE;
    ev_run run;
    facs_status s = ev_run_setup(&run, &o);
    if (s == FACS_OK)
        s = ev_run_evaluate(&run);
    if (s != FACS_OK)
        fprintf(stderr, "pspnet-eval: %s\n", facs_last_error());
    ev_run_free(&run);
    return s == FACS_OK ? FACS_EXIT_OK : FACS_EXIT_ERROR;
}
