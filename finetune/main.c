/* facs-finetune: trains or fine-tunes any backbone on CIFAR-10/100 (see
 * --help and docs/finetune.md). Parses the options; run.h does the rest. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"

#define VERSION "facs-finetune 0.1.0"

/* Every architecture name, comma-separated, in lines indented to the help's
 * second column and at most 96 characters wide. */
static const char *arch_list(char *buf, size_t size)
{
    const int indent = 22, width = 96;
    size_t len = 0;
    int column = width; /* forces a new line before the first name */
    buf[0] = '\0';
    for (const char *const *n = facs_model_arch_names(); *n && len + 128 < size; n++) {
        int need = (int)strlen(*n) + 2;
        if (column + need > width) {
            len += (size_t)snprintf(buf + len, size - len, "%s%*s%s", n == facs_model_arch_names() ? "" : ",\n",
                                    indent, "", *n);
            column = indent + need - 2;
        } else {
            len += (size_t)snprintf(buf + len, size - len, ", %s", *n);
            column += need;
        }
    }
    snprintf(buf + len, size - len, "\n");
    return buf;
}

static void usage(FILE *f)
{
    char names[4096];
    fprintf(f,
            "usage: facs-finetune --data DIR --out DIR [options]\n"
            "       facs-finetune --data DIR --eval W.h5 [options]\n"
            "Trains (or fine-tunes) a network on CIFAR-10/100 with SGD, logging every epoch.\n"
            "Data and network:\n"
            "  --data DIR          an extracted cifar-10-batches-bin or cifar-100-binary folder\n"
            "  --dataset D         cifar10 or cifar100 (default: detected from DIR)\n"
            "  --arch A            the backbone (default facs_resnet26), one of:\n"
            "%s"
            "  --width X           channel multiplier (default 1)\n"
            "  --cifar-stem        3x3 stride-1 stem without max-pool (ResNet)\n"
            "  --fusion F          FACS networks: threshold or weighted (default threshold)\n"
            "  --threshold T       T_cf of threshold fusion (default 0.5)\n"
            "  --fusion-bn B       FACS networks: none, pre or post, BatchNorm around the fusion\n"
            "                      (default: the architecture's, none; pre: MobileNet-v2 only)\n"
            "  --init W.h5         start from these (ImageNet) weights, classifier head replaced;\n"
            "                      default: from scratch\n"
            "  --input-size S      images are upscaled to SxS (default 32; e.g. 224 for ImageNet weights)\n"
            "  --norm N            cifar or imagenet input normalisation (default: imagenet with --init,\n"
            "                      else cifar; --resume keeps the run's)\n"
            "Training (defaults: the paper's protocol):\n"
            "  --epochs N          (default 30)\n"
            "  --batch N           (default 128)\n"
            "  --lr X              base learning rate (default 0.1 x batch / 256)\n"
            "  --momentum X        (default 0.9)\n"
            "  --nesterov[=0|1]    Nesterov momentum (default on; --nesterov=0: classical momentum)\n"
            "  --wd X              weight decay (default 1e-4)\n"
            "  --schedule S        cosine or step (x0.1 at 1/3 and 2/3 of the run) (default cosine)\n"
            "  --warmup E          epochs of linear warm-up from lr/3 (default 0)\n"
            "  --seed N            seed of weights, data order and augmentation (default 1)\n"
            "  --workers N         data loading threads (default 2; 0: in the training thread)\n"
            "Output:\n"
            "  --out DIR           log.jsonl, curves.png, last.h5, best.h5, confusion.csv (created if\n"
            "                      missing; its parent must exist)\n"
            "  --resume            continue the run in --out from last.h5 (same options)\n"
            "  --stop-after E      stop after epoch E as if interrupted (the schedule still spans --epochs)\n"
            "  --eval W.h5         evaluate a weights file on the test split (architecture, classes and\n"
            "                      input settings from the file when it has them, else the options)\n"
            "  --help, --version\n"
            "Ctrl-C stops at the next batch, saves last.h5 and exits with 130; --resume continues exactly.\n",
            arch_list(names, sizeof names));
}

enum { O_DATA = 256, O_DATASET, O_ARCH, O_WIDTH, O_STEM, O_FUSION, O_FUSION_BN, O_THRESHOLD, O_INIT, O_INPUT, O_NORM,
       O_EPOCHS, O_BATCH, O_LR, O_MOMENTUM, O_NESTEROV, O_WD, O_SCHEDULE, O_WARMUP, O_SEED, O_WORKERS, O_OUT,
       O_RESUME, O_STOP, O_EVAL, O_HELP, O_VERSION };

/* A number from the whole of text, else a usage error naming the option. */
static int number(const char *option, const char *text, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(text, &end);
    if (end == text || *end || !(v >= lo && v <= hi)) {
        fprintf(stderr, "facs-finetune: %s needs a number in [%g, %g], not '%s'\n", option, lo, hi, text);
        return 0;
    }
    *out = v;
    return 1;
}

static int choice(const char *option, const char *text, const char *a, const char *b, int *out)
{
    if (strcmp(text, a) && strcmp(text, b)) {
        fprintf(stderr, "facs-finetune: %s must be %s or %s, not '%s'\n", option, a, b, text);
        return 0;
    }
    *out = strcmp(text, a) != 0;
    return 1;
}

static int parse(int argc, char **argv, ft_options *o)
{
    static const struct option longopts[] = {
        {"data", required_argument, 0, O_DATA},           {"dataset", required_argument, 0, O_DATASET},
        {"arch", required_argument, 0, O_ARCH},           {"width", required_argument, 0, O_WIDTH},
        {"cifar-stem", no_argument, 0, O_STEM},           {"fusion", required_argument, 0, O_FUSION},
        {"fusion-bn", required_argument, 0, O_FUSION_BN}, {"threshold", required_argument, 0, O_THRESHOLD},
        {"init", required_argument, 0, O_INIT},           {"input-size", required_argument, 0, O_INPUT},
        {"norm", required_argument, 0, O_NORM},           {"epochs", required_argument, 0, O_EPOCHS},
        {"batch", required_argument, 0, O_BATCH},         {"lr", required_argument, 0, O_LR},
        {"momentum", required_argument, 0, O_MOMENTUM},   {"nesterov", optional_argument, 0, O_NESTEROV},
        {"wd", required_argument, 0, O_WD},               {"schedule", required_argument, 0, O_SCHEDULE},
        {"warmup", required_argument, 0, O_WARMUP},       {"seed", required_argument, 0, O_SEED},
        {"workers", required_argument, 0, O_WORKERS},     {"out", required_argument, 0, O_OUT},
        {"resume", no_argument, 0, O_RESUME},             {"stop-after", required_argument, 0, O_STOP},
        {"eval", required_argument, 0, O_EVAL},           {"help", no_argument, 0, O_HELP},
        {"version", no_argument, 0, O_VERSION},           {0, 0, 0, 0}};
    int c, ok = 1, flag;
    double v = 0;
    while (ok && (c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case O_DATA: o->data = optarg; break;
        case O_DATASET:
            ok = choice("--dataset", optarg, "cifar10", "cifar100", &flag);
            o->dataset = flag ? 100 : 10;
            break;
        case O_ARCH: snprintf(o->arch, sizeof o->arch, "%s", optarg); o->arch_given = 1; break;
        case O_WIDTH: ok = number("--width", optarg, 0.01, 64, &o->width); break;
        case O_STEM: o->cifar_stem = 1; break;
        case O_FUSION: ok = choice("--fusion", optarg, "threshold", "weighted", &o->fusion); break;
        case O_FUSION_BN: {
            facs_fusion_bn bn = FACS_FUSION_BN_NONE;
            if (facs_fusion_bn_parse(optarg, &bn) != FACS_OK) {
                fprintf(stderr, "facs-finetune: --fusion-bn: %s\n", facs_last_error());
                ok = 0;
            }
            o->fusion_bn = (int)bn;
            break;
        }
        case O_THRESHOLD: ok = number("--threshold", optarg, 0, 1, &o->threshold); break;
        case O_INIT: o->init = optarg; break;
        case O_INPUT: ok = number("--input-size", optarg, 8, 1024, &v); o->input_size = (int)v; break;
        case O_NORM: ok = choice("--norm", optarg, "cifar", "imagenet", &o->norm); break;
        case O_EPOCHS: ok = number("--epochs", optarg, 1, 100000, &v); o->epochs = (int)v; break;
        case O_BATCH: ok = number("--batch", optarg, 1, 65536, &v); o->batch = (int)v; break;
        case O_LR: ok = number("--lr", optarg, 1e-12, 1e30, &o->lr); break;
        case O_MOMENTUM: ok = number("--momentum", optarg, 0, 0.999999, &o->momentum); break;
        case O_NESTEROV: /* a bare --nesterov turns it on; --nesterov=0 off */
            v = 1;
            ok = !optarg || number("--nesterov", optarg, 0, 1, &v);
            o->nesterov = v != 0;
            break;
        case O_WD: ok = number("--wd", optarg, 0, 1, &o->wd); break;
        case O_SCHEDULE: ok = choice("--schedule", optarg, "cosine", "step", &o->schedule); break;
        case O_WARMUP: ok = number("--warmup", optarg, 0, 100000, &o->warmup); break;
        case O_SEED: ok = number("--seed", optarg, 0, 9007199254740992.0, &v); o->seed = (uint64_t)v; break;
        case O_WORKERS: ok = number("--workers", optarg, 0, 64, &v); o->workers = (int)v; break;
        case O_OUT: o->out = optarg; break;
        case O_RESUME: o->resume = 1; break;
        case O_STOP: ok = number("--stop-after", optarg, 1, 100000, &v); o->stop_after = (int)v; break;
        case O_EVAL: o->eval = optarg; break;
        case O_HELP: usage(stdout); exit(FT_EXIT_OK);
        case O_VERSION: puts(VERSION); exit(FT_EXIT_OK);
        default: ok = 0;
        }
    }
    if (ok && optind < argc) {
        fprintf(stderr, "facs-finetune: unexpected argument '%s'\n", argv[optind]);
        ok = 0;
    }
    if (ok && !o->data) {
        fprintf(stderr, "facs-finetune: --data DIR is required\n");
        ok = 0;
    }
    if (ok && !o->eval && !o->out) {
        fprintf(stderr, "facs-finetune: --out DIR is required for training\n");
        ok = 0;
    }
    if (ok && o->momentum == 0)
        o->nesterov = 0; /* Nesterov needs momentum: --momentum 0 means plain SGD */
    if (!ok)
        fprintf(stderr, "Try 'facs-finetune --help'.\n");
    return ok;
}

int main(int argc, char **argv)
{
    ft_options o = {.width = 1, .fusion = FACS_FUSION_THRESHOLD, .threshold = 0.5, .fusion_bn = -1,
                     .input_size = 32, .norm = -1, .epochs = 30, .batch = 128, .momentum = 0.9, .nesterov = 1,
                     .wd = 1e-4, .schedule = FT_SCHEDULE_COSINE, .seed = 1, .workers = 2};
    snprintf(o.arch, sizeof o.arch, "facs_resnet26");
    if (!parse(argc, argv, &o))
        return FT_EXIT_USAGE;
    if (o.lr <= 0)
        o.lr = 0.1 * o.batch / 256; /* the linear scaling rule from 0.1 at batch 256 */
    if (o.eval) {
        int rc = ft_eval_weights(&o);
        if (rc == FT_EXIT_ERROR)
            fprintf(stderr, "facs-finetune: %s\n", facs_last_error());
        return rc;
    }
    ft_run run;
    int rc = ft_run_setup(&run, &o) == FACS_OK ? ft_run_train(&run) : FT_EXIT_ERROR;
    if (rc == FT_EXIT_ERROR)
        fprintf(stderr, "facs-finetune: %s\n", facs_last_error());
    ft_run_free(&run);
    return rc;
}
