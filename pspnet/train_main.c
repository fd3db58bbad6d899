/* pspnet-train: PSPNet on a Cityscapes-layout folder with hszhao/semseg's
 * recipe (see --help and docs/pspnet.md). Parses the options; train_run.h
 * does the rest. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_options.h"
#include "pspnet.h"
#include "train_run.h"

#define VERSION "pspnet-train 0.1.0"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: pspnet-train --data ROOT --out DIR [options]\n"
            "Trains PSPNet on a Cityscapes-layout folder (leftImg8bit/{train,val}, gtFine/ with labelTrainIds or\n"
            "labelIds PNGs, any image size) with hszhao/semseg's recipe, validating on the val split.\n"
            "Network:\n"
            "  --arch A            pspnet_<backbone>, e.g. pspnet_resnet50, pspnet_facs_resnet101 (default\n"
            "                      pspnet_facs_resnet50; facs-summary --list shows every name)\n"
            "  --width X           channel multiplier of backbone and heads (default 1)\n"
            "  --classes N         output classes (default 19, Cityscapes' trainIds)\n"
            "  --output-stride S   8 (default) or 16\n"
            "  --deep-stem         three 3x3 convolutions instead of the 7x7 stem (ResNet-v1c: 32-32-64 at width 1)\n"
            "  --deep-base         semseg's deep base: 3x3 convolutions 64-64-128, layer1 on 128 channels (the stem\n"
            "                      of semseg's ImageNet ResNets and of its released PSPNets)\n"
            "  --init W.h5         a classifier's ImageNet backbone weights (torchvision names); the heads start\n"
            "                      fresh (a PSPNet file is refused: --resume continues a pspnet-train run)\n"
            "Data augmentation (training):\n"
            "  --crop H[xW]        crop size, padded with the mean / ignore label (default 713x713)\n"
            "  --scale-min X, --scale-max X   random scale range (default 0.5, 2)\n"
            "  --rotate D          random rotation in [-D, D] degrees with probability 0.5 (default 10)\n"
            "  --blur P            probability of a 5x5 Gaussian blur (default 0.5)\n"
            "  --flip P            probability of a horizontal flip (default 0.5)\n"
            "Optimisation:\n"
            "  --batch N           (default 16)\n"
            "  --iters N           iterations (default: --epochs x batches per epoch)\n"
            "  --epochs N          (default 200)\n"
            "  --lr X              base learning rate of the backbone (default 0.01)\n"
            "  --head-lr-mult X    the heads' (ppm, cls, aux) lr multiplier (default 10)\n"
            "  --momentum X        (default 0.9)\n"
            "  --wd X              weight decay (default 1e-4)\n"
            "  --power X           poly schedule power, per iteration (default 0.9)\n"
            "  --aux-weight X      weight of the auxiliary loss (default 0.4)\n"
            "  --ignore-index N    label excluded from loss and metrics, 0..255 (default 255): the value of void\n"
            "                      pixels in labelTrainIds PNGs, and what void labelIds become\n"
            "  --seed N            seed of weights, data order and augmentation (default 1)\n"
            "  --workers N         data loading threads (default 2)\n"
            FACS_CLI_DEVICE_HELP("          ")
            "Data parallel (under mpirun -np N; --batch is the global batch, split over the ranks):\n"
            "  --sync-bn[=0|1]     BatchNorm statistics over all ranks' crops, as one process with the\n"
            "                      whole batch (default on; semseg's SyncBN)\n"
            "Output:\n"
            "  --out DIR           log.jsonl, curves.png, last.h5, best.h5 (best val mIoU)\n"
            "  --log-every N       iterations per log line (default 10)\n"
            "  --val-every N       iterations between whole-image validations (default 0: at the end)\n"
            "  --save-every N      iterations between checkpoints (default 100; also at each validation)\n"
            "  --resume            continue the run in --out from last.h5 (same options)\n"
            "  --stop-after N      stop after iteration N as if interrupted\n"
            "  --help, --version\n"
            "Ctrl-C stops at the next iteration, saves last.h5 and exits with 130; --resume continues exactly.\n");
}

enum { O_DATA = 256, O_OUT, O_ARCH, O_WIDTH, O_CLASSES, O_OS, O_DEEP, O_DEEP_BASE, O_INIT, O_CROP, O_SMIN, O_SMAX, O_ROTATE,
       O_BLUR, O_FLIP, O_BATCH, O_ITERS, O_EPOCHS, O_LR, O_HEAD, O_MOMENTUM, O_WD, O_POWER, O_AUX, O_IGNORE,
       O_VAL, O_LOG, O_SAVE, O_STOP, O_WORKERS, O_SEED, O_RESUME, O_HELP, O_VERSION, O_SYNC_BN, O_DEVICE };

static int accepted(facs_status s)
{
    if (s != FACS_OK)
        fprintf(stderr, "pspnet-train: %s\n", facs_last_error());
    return s == FACS_OK;
}

static int parse(int argc, char **argv, ps_options *o)
{
    static const struct option longopts[] = {
        {"data", 1, 0, O_DATA},           {"out", 1, 0, O_OUT},           {"arch", 1, 0, O_ARCH},
        {"width", 1, 0, O_WIDTH},         {"classes", 1, 0, O_CLASSES},   {"output-stride", 1, 0, O_OS},
        {"deep-stem", 0, 0, O_DEEP},      {"deep-base", 0, 0, O_DEEP_BASE}, {"init", 1, 0, O_INIT},
        {"crop", 1, 0, O_CROP},
        {"scale-min", 1, 0, O_SMIN},      {"scale-max", 1, 0, O_SMAX},    {"rotate", 1, 0, O_ROTATE},
        {"blur", 1, 0, O_BLUR},           {"flip", 1, 0, O_FLIP},         {"batch", 1, 0, O_BATCH},
        {"iters", 1, 0, O_ITERS},         {"epochs", 1, 0, O_EPOCHS},     {"lr", 1, 0, O_LR},
        {"head-lr-mult", 1, 0, O_HEAD},   {"momentum", 1, 0, O_MOMENTUM}, {"wd", 1, 0, O_WD},
        {"power", 1, 0, O_POWER},         {"aux-weight", 1, 0, O_AUX},    {"ignore-index", 1, 0, O_IGNORE},
        {"val-every", 1, 0, O_VAL},       {"log-every", 1, 0, O_LOG},     {"save-every", 1, 0, O_SAVE},
        {"stop-after", 1, 0, O_STOP},     {"workers", 1, 0, O_WORKERS},   {"seed", 1, 0, O_SEED},
        {"resume", 0, 0, O_RESUME},       {"help", 0, 0, O_HELP},         {"version", 0, 0, O_VERSION},
        {"sync-bn", 2, 0, O_SYNC_BN},     {"device", 1, 0, O_DEVICE},     {0, 0, 0, 0}};
    static const char *const OUTPUT_STRIDES[] = {"8", "16", NULL};
    int c, ok = 1, flag = 0;
    int64_t seed = 0;
    while (ok && (c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case O_DATA: o->data = optarg; break;
        case O_OUT: o->out = optarg; break;
        case O_ARCH: snprintf(o->arch, sizeof o->arch, "%s", optarg); o->given |= FACS_MODEL_GIVEN(ARCH); break;
        case O_WIDTH:
            ok = accepted(facs_cli_real("--width", optarg, 0.01, 64, &o->width));
            o->given |= FACS_MODEL_GIVEN(WIDTH);
            break;
        case O_CLASSES: ok = accepted(facs_cli_int("--classes", optarg, 1, 65535, &o->classes)); break;
        case O_OS:
            ok = accepted(facs_cli_choice("--output-stride", optarg, OUTPUT_STRIDES, &flag));
            o->output_stride = flag ? 16 : 8;
            o->given |= FACS_MODEL_GIVEN(OUTPUT_STRIDE);
            break;
        case O_DEEP:
        case O_DEEP_BASE:
            ok = accepted(facs_cli_stem(c == O_DEEP ? FACS_STEM_DEEP : FACS_STEM_DEEP_BASE, &o->deep_stem));
            o->given |= FACS_MODEL_GIVEN(DEEP_STEM);
            break;
        case O_INIT: o->init = optarg; break;
        case O_CROP: ok = accepted(facs_cli_size("--crop", optarg, 8, 8192, &o->crop_h, &o->crop_w)); break;
        case O_SMIN: ok = accepted(facs_cli_real("--scale-min", optarg, 0.01, 100, &o->scale_min)); break;
        case O_SMAX: ok = accepted(facs_cli_real("--scale-max", optarg, 0.01, 100, &o->scale_max)); break;
        case O_ROTATE: ok = accepted(facs_cli_real("--rotate", optarg, 0, 180, &o->rotate)); break;
        case O_BLUR: ok = accepted(facs_cli_real("--blur", optarg, 0, 1, &o->blur)); break;
        case O_FLIP: ok = accepted(facs_cli_real("--flip", optarg, 0, 1, &o->flip)); break;
        case O_BATCH: ok = accepted(facs_cli_int("--batch", optarg, 1, 65536, &o->batch)); break;
        case O_ITERS: ok = accepted(facs_cli_int64("--iters", optarg, 1, INT64_MAX / 2, &o->iters)); break;
        case O_EPOCHS: ok = accepted(facs_cli_int("--epochs", optarg, 1, 100000, &o->epochs)); break;
        case O_LR: ok = accepted(facs_cli_real("--lr", optarg, 1e-12, 1e30, &o->lr)); break;
        case O_HEAD: ok = accepted(facs_cli_real("--head-lr-mult", optarg, 0, 1e6, &o->head_lr_mult)); break;
        case O_MOMENTUM: ok = accepted(facs_cli_real("--momentum", optarg, 0, 0.999999, &o->momentum)); break;
        case O_WD: ok = accepted(facs_cli_real("--wd", optarg, 0, 1, &o->wd)); break;
        case O_POWER: ok = accepted(facs_cli_real("--power", optarg, 0, 100, &o->power)); break;
        case O_AUX: ok = accepted(facs_cli_real("--aux-weight", optarg, 0, 100, &o->aux_weight)); break;
        case O_IGNORE: ok = accepted(facs_cli_int("--ignore-index", optarg, 0, 255, &o->ignore_index)); break;
        case O_VAL: ok = accepted(facs_cli_int64("--val-every", optarg, 0, INT64_MAX / 2, &o->val_every)); break;
        case O_LOG: ok = accepted(facs_cli_int64("--log-every", optarg, 1, INT64_MAX / 2, &o->log_every)); break;
        case O_SAVE: ok = accepted(facs_cli_int64("--save-every", optarg, 1, INT64_MAX / 2, &o->save_every)); break;
        case O_STOP: ok = accepted(facs_cli_int64("--stop-after", optarg, 1, INT64_MAX / 2, &o->stop_after)); break;
        case O_WORKERS: ok = accepted(facs_cli_int("--workers", optarg, 0, 64, &o->workers)); break;
        case O_SEED:
            ok = accepted(facs_cli_int64("--seed", optarg, 0, INT64_MAX, &seed));
            o->seed = (uint64_t)seed;
            break;
        case O_RESUME: o->resume = 1; break;
        case O_SYNC_BN: /* a bare --sync-bn turns it on; --sync-bn=0 off */
            flag = 1;
            ok = !optarg || accepted(facs_cli_int("--sync-bn", optarg, 0, 1, &flag));
            o->sync_bn = flag;
            break;
        case O_DEVICE: ok = accepted(facs_cli_device(optarg, &o->device)); break;
        case 'h':
        case O_HELP: usage(stdout); exit(FACS_EXIT_OK);
        case O_VERSION: puts(VERSION); exit(FACS_EXIT_OK);
        default: ok = 0;
        }
    }
    if (ok && optind < argc)
        ok = accepted(facs_fail(FACS_ERR_ARG, "unexpected argument '%s'", argv[optind]));
    if (ok && (!o->data || !o->out))
        ok = accepted(facs_fail(FACS_ERR_ARG, "--data ROOT and --out DIR are required"));
    if (ok && o->scale_min > o->scale_max)
        ok = accepted(facs_fail(FACS_ERR_ARG, "--scale-min %g is above --scale-max %g", o->scale_min, o->scale_max));
    if (!ok)
        fprintf(stderr, "Try 'pspnet-train --help'.\n");
    return ok;
}

int main(int argc, char **argv)
{
    facs_cli_program_name(argv);
    ps_options o = {.width = 1, .classes = 19, .output_stride = 8, .crop_h = 713, .crop_w = 713, .scale_min = 0.5,
                    .scale_max = 2, .rotate = 10, .blur = 0.5, .flip = 0.5, .batch = 16, .epochs = 200, .lr = 0.01,
                    .head_lr_mult = 10, .momentum = 0.9, .wd = 1e-4, .power = 0.9, .aux_weight = 0.4,
                    .ignore_index = 255, .log_every = 10, .save_every = 100, .workers = 2, .seed = 1,
                    .sync_bn = 1};
    snprintf(o.arch, sizeof o.arch, "pspnet_facs_resnet50");
    /* Line by line: stdout redirected to a file keeps every log line up to a kill -9. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!parse(argc, argv, &o))
        return FACS_EXIT_USAGE;
    facs_comm *comm = facs_parallel_open("pspnet-train");
    o.rank = facs_comm_rank(comm);
    o.ranks = facs_comm_size(comm);
    ps_run run;
    int rc = ps_run_setup(&run, &o, comm) == FACS_OK ? ps_run_train(&run) : FACS_EXIT_ERROR;
    if (rc == FACS_EXIT_ERROR) {
        fprintf(stderr, "pspnet-train: %s%s\n", facs_parallel_rank_label(o.rank, o.ranks), facs_last_error());
        facs_parallel_fail(comm, rc);
    }
    ps_run_free(&run);
    facs_comm_close(comm);
    return rc;
}
