/* facs-finetune: trains or fine-tunes any backbone on CIFAR-10/100 or an
 * image folder (see --help and docs/finetune.md). Parses the options and
 * settles the defaults that depend on the data; ft_run.h does the rest. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_options.h"
#include "ft_run.h"

#define VERSION "facs-finetune 0.1.0"

/* Every classifier's architecture name, comma-separated, in lines indented
 * to the help's second column and at most 96 characters wide. */
static const char *arch_list(char *buf, size_t size)
{
    const int indent = 22, width = 96;
    size_t len = 0;
    int column = width; /* forces a new line before the first name */
    buf[0] = '\0';
    for (const char *const *n = facs_model_arch_names(); *n && len + 128 < size; n++) {
        if (facs_model_arch_is_segmentation(*n))
            continue;
        int need = (int)strlen(*n) + 2;
        if (column + need > width) {
            len += (size_t)snprintf(buf + len, size - len, "%s%*s%s", len == 0 ? "" : ",\n",
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
            "Trains (or fine-tunes) a network on CIFAR-10/100 or an image folder with SGD, logging every epoch.\n"
            "Data and network:\n"
            "  --data DIR          an extracted cifar-10-batches-bin or cifar-100-binary folder, or an\n"
            "                      image folder: DIR/train/<class>/*.jpg|png and DIR/val/<class>/*\n"
            "  --dataset D         cifar10 or cifar100 (default: detected from DIR)\n"
            "  --classes-file F    image folders: class names, one per line, in class order (default:\n"
            "                      DIR/train's sorted folder names)\n"
            "  --skip-bad          image folders: leave out files that do not decode and list them at\n"
            "                      the end (default: such a file stops the run, naming it)\n"
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
            "  --input-size S      CIFAR: images are upscaled to SxS (default 32; e.g. 224 for ImageNet\n"
            "                      weights); image folders: the crop side (default 224; evaluation\n"
            "                      resizes the shorter side to S x 256 / 224 first)\n"
            "  --norm N            cifar or imagenet input normalisation (default: imagenet with --init\n"
            "                      or an image folder, else cifar; --resume keeps the run's)\n"
            "Training (defaults: the paper's protocol; image folders: torchvision's ImageNet recipe,\n"
            "RandomResizedCrop + flip, resize + centre crop for evaluation):\n"
            "  --epochs N          (default 30)\n"
            "  --batch N           (default 128)\n"
            "  --lr X              base learning rate (default 0.1 x batch / 256)\n"
            "  --momentum X        (default 0.9)\n"
            "  --nesterov[=0|1]    Nesterov momentum (default on; --nesterov=0: classical momentum)\n"
            "  --wd X              weight decay (default 1e-4)\n"
            "  --schedule S        cosine or step: x0.1 at 1/3 and 2/3 of the run (CIFAR), at 30, 60\n"
            "                      and 90 %% (image folders) (default cosine)\n"
            "  --warmup E          epochs of linear warm-up from lr/3 (default 0)\n"
            "  --label-smoothing E the loss's target: 1 - E on the label, plus E / classes on every\n"
            "                      class (default 0; the test loss stays the plain cross-entropy)\n"
            "  --jpeg-draft W      image folders: where a JPEG is decoded at 1/2, 1/4 or 1/8 of its size\n"
            "                      when its crop still has that many times the input's pixels (PIL's\n"
            "                      draft): train (default), all (evaluation too) or off (full decodes,\n"
            "                      torchvision's pixels exactly)\n"
            "  --seed N            seed of weights, data order and augmentation (default 1)\n"
            "  --workers N         data loading threads (default 2; 0: in the training thread)\n"
            FACS_CLI_DEVICE_HELP("          ")
            "Data parallel (under mpirun -np N; --batch is the global batch, split over the ranks):\n"
            "  --sync-bn           BatchNorm statistics over all ranks' images, as one process with the\n"
            "                      whole batch (default: each rank's own)\n"
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
       O_RESUME, O_STOP, O_EVAL, O_HELP, O_VERSION, O_CLASSES_FILE, O_SKIP_BAD, O_SMOOTHING,
       O_JPEG_DRAFT, O_SYNC_BN, O_DEVICE };

/* Prints a bad option's message; 0 so a parse can stop on it. */
static int accepted(facs_status s)
{
    if (s != FACS_OK)
        fprintf(stderr, "facs-finetune: %s\n", facs_last_error());
    return s == FACS_OK;
}

/* A path option's value: an empty one (--out '', --data=) is refused by name, where it would read as no file at
 * all or as the current folder. */
static int path_value(const char *option, const char *value, const char **out)
{
    *out = value;
    if (value[0])
        return 1;
    fprintf(stderr, "facs-finetune: %s is empty: give it a path\n", option);
    return 0;
}

/* --nesterov takes its value after "=" only (an optional value): "--nesterov 0" leaves "0" a stray argument. */
static int nesterov_value(int argc, char **argv, ft_options *o)
{
    int flag = 1;
    if (!optarg && optind < argc && (strcmp(argv[optind], "0") == 0 || strcmp(argv[optind], "1") == 0)) {
        fprintf(stderr, "facs-finetune: --nesterov takes its value after '=': write --nesterov=%s\n", argv[optind]);
        return 0;
    }
    int ok = !optarg || accepted(facs_cli_int("--nesterov", optarg, 0, 1, &flag));
    o->nesterov = flag;
    return ok;
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
        {"version", no_argument, 0, O_VERSION},           {"classes-file", required_argument, 0, O_CLASSES_FILE},
        {"skip-bad", no_argument, 0, O_SKIP_BAD},         {"label-smoothing", required_argument, 0, O_SMOOTHING},
        {"jpeg-draft", required_argument, 0, O_JPEG_DRAFT}, {"sync-bn", no_argument, 0, O_SYNC_BN},
        {"device", required_argument, 0, O_DEVICE},
        {0, 0, 0, 0}};
    int c, ok = 1, flag = 0;
    int64_t seed = 0;
    while (ok && (c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        facs_model_given given = 0;
        switch (c) {
        case O_DATA: ok = path_value("--data", optarg, &o->data); break;
        case O_DATASET:
            ok = accepted(facs_cli_choice("--dataset", optarg, ft_dataset_names, &flag));
            o->dataset = flag ? 100 : 10;
            break;
        case O_ARCH: snprintf(o->arch, sizeof o->arch, "%s", optarg); given = FACS_MODEL_GIVEN(ARCH); break;
        case O_WIDTH:
            ok = accepted(facs_cli_real("--width", optarg, 0.01, 64, &o->width));
            given = FACS_MODEL_GIVEN(WIDTH);
            break;
        case O_STEM: o->cifar_stem = 1; given = FACS_MODEL_GIVEN(CIFAR_STEM); break;
        case O_FUSION:
            ok = accepted(facs_fusion_parse(optarg, &o->fusion));
            given = FACS_MODEL_GIVEN(FUSION);
            break;
        case O_FUSION_BN:
            ok = accepted(facs_fusion_bn_parse(optarg, &o->fusion_bn));
            given = FACS_MODEL_GIVEN(FUSION_BN);
            break;
        case O_THRESHOLD:
            ok = accepted(facs_cli_real("--threshold", optarg, 0, 1, &o->threshold));
            given = FACS_MODEL_GIVEN(THRESHOLD);
            break;
        case O_INIT: ok = path_value("--init", optarg, &o->init); break;
        case O_INPUT:
            ok = accepted(facs_cli_int("--input-size", optarg, FT_INPUT_SIZE_MIN, FT_INPUT_SIZE_MAX, &o->input_size));
            o->input_size_given = 1;
            break;
        case O_NORM: ok = accepted(facs_cli_choice("--norm", optarg, ft_norm_names, &o->norm)); break;
        case O_EPOCHS: ok = accepted(facs_cli_int("--epochs", optarg, 1, 100000, &o->epochs)); break;
        case O_BATCH: ok = accepted(facs_cli_int("--batch", optarg, 1, 65536, &o->batch)); break;
        case O_LR: ok = accepted(facs_cli_real("--lr", optarg, 1e-12, 1e30, &o->lr)); break;
        case O_MOMENTUM: ok = accepted(facs_cli_real("--momentum", optarg, 0, 0.999999, &o->momentum)); break;
        case O_NESTEROV: ok = nesterov_value(argc, argv, o); break; /* a bare --nesterov turns it on; =0 off */
        case O_WD: ok = accepted(facs_cli_real("--wd", optarg, 0, 1, &o->wd)); break;
        case O_SCHEDULE: ok = accepted(facs_cli_choice("--schedule", optarg, ft_schedule_names, &o->schedule)); break;
        case O_WARMUP: ok = accepted(facs_cli_real("--warmup", optarg, 0, 100000, &o->warmup)); break;
        case O_SEED:
            ok = accepted(facs_cli_int64("--seed", optarg, 0, INT64_MAX, &seed));
            o->seed = (uint64_t)seed;
            break;
        case O_WORKERS: ok = accepted(facs_cli_int("--workers", optarg, 0, 64, &o->workers)); break;
        case O_OUT: ok = path_value("--out", optarg, &o->out); break;
        case O_RESUME: o->resume = 1; break;
        case O_STOP: ok = accepted(facs_cli_int("--stop-after", optarg, 1, 100000, &o->stop_after)); break;
        case O_EVAL: ok = path_value("--eval", optarg, &o->eval); break;
        case O_CLASSES_FILE: ok = path_value("--classes-file", optarg, &o->classes_file); break;
        case O_SKIP_BAD: o->skip_bad = 1; break;
        case O_SYNC_BN: o->sync_bn = 1; break;
        case O_DEVICE: ok = accepted(facs_cli_device(optarg, &o->device)); break;
        case O_JPEG_DRAFT:
            ok = accepted(facs_cli_choice("--jpeg-draft", optarg, ft_jpeg_draft_names, &o->jpeg_draft));
            break;
        case O_SMOOTHING:
            ok = accepted(facs_cli_real("--label-smoothing", optarg, 0, 0.999, &o->label_smoothing));
            break;
        case 'h':
        case O_HELP: usage(stdout); exit(FACS_EXIT_OK);
        case O_VERSION: puts(VERSION); exit(FACS_EXIT_OK);
        default: ok = 0;
        }
        o->given |= given;
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
    if (ok && !o->eval && o->stop_after > o->epochs) {
        fprintf(stderr, "facs-finetune: --stop-after %d is beyond the run's %d epoch%s (--epochs)\n", o->stop_after,
                o->epochs, o->epochs == 1 ? "" : "s");
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
    facs_cli_program_name(argv);
    ft_options o = {.width = 1, .fusion = FACS_FUSION_THRESHOLD, .threshold = 0.5,
                     .input_size = 32, .norm = -1, .epochs = 30, .batch = 128, .momentum = 0.9, .nesterov = 1,
                     .wd = 1e-4, .schedule = FT_SCHEDULE_COSINE, .seed = 1, .workers = 2, .jpeg_draft = -1, .ranks = 1};
    snprintf(o.arch, sizeof o.arch, "facs_resnet26");
    if (!parse(argc, argv, &o))
        return FACS_EXIT_USAGE;
    if (o.lr <= 0)
        o.lr = 0.1 * o.batch / 256; /* the linear scaling rule from 0.1 at batch 256 */
    if (ft_data_detect(&o) != FACS_OK) {
        fprintf(stderr, "facs-finetune: %s\n", facs_last_error());
        return FACS_EXIT_ERROR;
    }
    if (o.layout == FT_LAYOUT_FOLDER && !o.input_size_given)
        o.input_size = 224; /* the ImageNet recipe's crop */
    if (o.eval && facs_comm_mpi_launched()) {
        fprintf(stderr, "facs-finetune: --eval runs in one process; start it without mpirun\n");
        return FACS_EXIT_USAGE;
    }
    if (o.eval) {
        int rc = ft_eval_weights(&o);
        if (rc == FACS_EXIT_ERROR)
            ft_print_error(&o);
        return rc;
    }
    facs_comm *comm = facs_parallel_open("facs-finetune");
    o.rank = facs_comm_rank(comm);
    o.ranks = facs_comm_size(comm);
    ft_run run;
    int rc = ft_run_setup(&run, &o, comm) == FACS_OK ? ft_run_train(&run) : FACS_EXIT_ERROR;
    if (rc == FACS_EXIT_ERROR)
        ft_print_error(&o);
    if (rc == FACS_EXIT_ERROR)
        facs_parallel_fail(comm, rc);
    ft_run_free(&run);
    facs_comm_close(comm);
    return rc;
}
