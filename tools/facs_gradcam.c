/* facs-gradcam: GradCAM, GradCAM++ or LayerCAM maps (eval/cam.h) of any
 * network of backbone/model.h, rebuilt from its weights file, for one image
 * or every image under a folder.
 *
 * For each image and class it writes, into --out (created if missing):
 *   <stem>_<class>_cam.png      the normalised map at the input's size in OpenCV's JET colours
 *   <stem>_<class>_overlay.png  0.5 map + 0.5 image, rescaled to its maximum (show_cam_on_image)
 *   <stem>_<class>_compare.png  with --compare W2.h5: the image, then both models' overlays
 *                               under a caption (model, class, probability), as Fig. 5
 *   <stem>.cam.h5               with --save-cam: /cam (H, W) and /cam_raw (h, w) as float32,
 *                               attributes class, class_name, score, probability, pixels,
 *                               layer, method, arch; <stem>_<class>.cam.h5 when several
 *                               classes are asked for each image
 * <class> is the class's name where names are known (--class-names, or the
 * built-in CIFAR and Cityscapes names), else its index; images or classes
 * that would share a name are told apart (cam_input.h, gradcam.h). Every
 * file is written atomically; an output may not be an input, and --out may
 * not lie inside an --image folder. A folder's images that fail (not an
 * image, unreadable) are reported, the others done, and the exit status is
 * 1; a refused command line (an option value, or one that does not fit the
 * model: --class, --layer, --compare of other classes) exits 2. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "cli_options.h"
#include "gradcam.h"
#include "h5_attr.h"
#include "progress.h"

static facs_status run(const gc_options *o)
{
    gc_session s = {.o = o}, s2 = {0};
    gc_options o2;
    facs_cam_images list = {0};
    facs_status st = gc_session_open(o, &s);
    if (st == FACS_OK && o->compare)
        st = gc_session_open_second(&s, &o2, &s2);
    if (st == FACS_OK)
        st = facs_cam_images_open(o->image, &list);
    struct stat before;
    int made_out = stat(o->out, &before) != 0;
    if (st == FACS_OK)
        st = facs_make_dirs(o->out);
    if (st == FACS_OK) /* before the first image: else each one would be explained and fail to be written */
        st = facs_check_writable_folder("--out", o->out);
    facs_progress bar;
    facs_progress_begin(&bar, "gradcam", list.count, 0, 1);
    bar.enabled &= list.count > 1;
    s.quiet = bar.enabled; /* a line per map would break the bar: a summary instead */
    int failed = 0;
    for (int i = 0; st == FACS_OK && i < list.count; i++) {
        if (gc_explain_image(&s, o->compare ? &s2 : NULL, list.paths[i], list.stems[i]) != FACS_OK) {
            if (list.count == 1) {
                st = facs_last_status();
            } else {
                failed++;
                fprintf(stderr, "%sfacs-gradcam: %s\n", bar.enabled ? "\r\033[K" : "", facs_last_error());
            }
        }
        facs_progress_update(&bar, i + 1, "");
    }
    facs_progress_end(&bar);
    if (st == FACS_OK && s.quiet)
        printf("%d images explained, maps in %s\n", list.count - failed, o->out);
    if (st == FACS_OK && failed)
        st = facs_fail(FACS_ERR_IO, "%d of %d images failed (above)", failed, list.count);
    if (st != FACS_OK && made_out)
        rmdir(o->out); /* a folder this run made stays only with maps in it (rmdir leaves a non-empty one) */
    facs_cam_images_free(&list);
    gc_session_close(&s2);
    gc_session_close(&s);
    return st;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: facs-gradcam --weights W.h5 --image PATH|DIR --out DIR [options]\n"
            "Class activation maps of the network W.h5 was saved as (any classifier or PSPNet of this toolkit),\n"
            "for an image or every .png/.jpg/.jpeg under a folder: <stem>_<class>_cam.png (JET colours) and\n"
            "<stem>_<class>_overlay.png per class, in DIR (created if missing).\n"
            "  --class K|NAME     a class to explain, by name, or by index where no class is named K (repeatable,\n"
            "                     at most %d)\n"
            "  --top K            the K best classes (default 1): by logit, or by predicted pixels (segmentation)\n"
            "  --layer NAME       the layer whose output is explained (default: the last feature block, e.g.\n"
            "                     layer4.2; ResNets layer<s>.<i>, VGG and MobileNet-v2 features.<i>)\n"
            "  --method M         gradcam (default), gradcam++ or layercam\n"
            "  --input-size S     resize each image to S x S (or HxW) first, PIL's bilinear (default: the size\n"
            "                     W.h5 was trained at when its run options record it, else as it is)\n"
            "  --class-names FILE one name a line (built in: CIFAR-10/100 and Cityscapes)\n"
            "  --save-cam         also <stem>.cam.h5: /cam (H, W), /cam_raw (h, w), class, score, probability\n"
            "  --arch A           for a weights file that does not record its architecture\n"
            "  --compare W2.h5    also explain the same classes with W2.h5's model (same class count) and write\n"
            "                     <stem>_<class>_compare.png: the image and both overlays, labelled (Fig. 5)\n"
            FACS_CLI_DEVICE_HELP("         ")
            "Inputs are normalised as the file was trained (facs-finetune --norm cifar), else with ImageNet's\n"
            "mean and std. Segmentation targets: the sum of the class's logits over the pixels predicted as it.\n"
            "  --help, --version\n",
            MAX_CLASSES);
}

/* 0, or the exit status of a refused command line (the message printed). */
static int parse(int argc, char **argv, gc_options *o)
{
    static const struct option longopts[] = {
        {"weights", 1, 0, 'W'},     {"image", 1, 0, 'i'},    {"out", 1, 0, 'o'},  {"class", 1, 0, 'c'},
        {"top", 1, 0, 't'},         {"layer", 1, 0, 'l'},    {"method", 1, 0, 'm'}, {"input-size", 1, 0, 's'},
        {"class-names", 1, 0, 'n'}, {"save-cam", 0, 0, 'S'}, {"arch", 1, 0, 'a'}, {"help", 0, 0, 'h'},
        {"version", 0, 0, 'V'},     {"compare", 1, 0, 'C'}, {"device", 1, 0, 'd'}, {0, 0, 0, 0}};
    facs_status st = FACS_OK;
    for (int c; st == FACS_OK && (c = getopt_long(argc, argv, "h", longopts, NULL)) != -1;) {
        switch (c) {
        case 'W': o->weights = optarg; break;
        case 'i': o->image = optarg; break;
        case 'o': o->out = optarg; break;
        case 'l': o->layer = optarg; break;
        case 'n': o->class_names = optarg; break;
        case 'a': o->arch = optarg; break;
        case 'C': o->compare = optarg; break;
        case 'S': o->save_cam = 1; break;
        case 'd': st = facs_cli_device(optarg, &o->device); break;
        case 'c':
            if (o->n_classes < MAX_CLASSES)
                o->classes[o->n_classes++] = optarg;
            else
                st = facs_fail(FACS_ERR_ARG, "at most %d --class options", MAX_CLASSES);
            break;
        case 't': st = facs_cli_int("--top", optarg, 1, MAX_CLASSES, &o->top); break;
        case 'm': st = facs_cli_choice("--method", optarg, facs_cam_method_names, &o->method); break;
        case 's': st = facs_cli_size("--input-size", optarg, 1, FACS_CAM_MAX_INPUT_SIZE, &o->height, &o->width); break;
        case 'h': usage(stdout); exit(0);
        case 'V': puts("facs-gradcam 0.1.0"); exit(0);
        default: usage(stderr); return 2;
        }
    }
    if (st == FACS_OK && optind < argc)
        st = facs_fail(FACS_ERR_ARG, "unexpected argument '%s'", argv[optind]);
    if (st == FACS_OK && (!o->weights || !o->image || !o->out))
        st = facs_fail(FACS_ERR_ARG, "--weights, --image and --out are required");
    if (st == FACS_OK && o->top && o->n_classes)
        st = facs_fail(FACS_ERR_ARG, "--class and --top exclude each other");
    const char *inputs[] = {o->image, o->weights, o->class_names, o->compare};
    if (st == FACS_OK) /* before anything is written: --out may not be an input (a folder, by inode) */
        st = facs_check_output_not_input("--out", o->out, inputs, 4);
    if (st == FACS_OK) /* nor inside the image folder, whose next walk would explain the maps */
        st = facs_cam_check_out_folder(o->image, o->out);
    if (st == FACS_OK)
        st = gc_check_inputs_not_output_names(o);
    if (st != FACS_OK)
        fprintf(stderr, "facs-gradcam: %s\n", facs_last_error());
    return st == FACS_OK ? 0 : 2;
}

int main(int argc, char **argv)
{
    facs_cli_program_name(argv);
    gc_options o = {0};
    int rc = parse(argc, argv, &o);
    if (rc)
        return rc;
    if (!o.n_classes && !o.top)
        o.top = 1;
    /* HDF5's own error stack printing would bury our message. */
    facs_h5_quiet quiet = facs_h5_quiet_begin();
    facs_status s = facs_cli_device_use(&o.device, 1);
    if (s == FACS_OK)
        s = run(&o);
    facs_h5_quiet_end(quiet);
    if (s != FACS_OK)
        fprintf(stderr, "facs-gradcam: %s\n", facs_last_error());
    /* FACS_ERR_ARG: a command line the model or the files refuse (--class 9 of 3 classes, ...): exit 2 too. */
    return s == FACS_OK ? 0 : s == FACS_ERR_ARG ? 2 : 1;
}
