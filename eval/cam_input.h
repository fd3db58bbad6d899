/* What an explaining tool needs around cam.h (facs-gradcam, and its --compare
 * panels): the images of a path (cam_images.c), each as the network's input;
 * the normalisation and input size a weights file was trained with; class
 * names (cam_input.c).
 *
 *     facs_cam_images list;
 *     FACS_TRY(facs_cam_images_open("photos/", &list));       // a file, or every image under a folder
 *     float mean[3], std[3];
 *     FACS_TRY(facs_cam_file_norm("W.h5", mean, std, NULL));  // ImageNet unless the file says cifar
 *     facs_cam_input in;
 *     FACS_TRY(facs_cam_input_load(list.paths[i], 224, 224, mean, std, &in));
 *     ... in.rgb (the picture to draw on), in.chw (3, H, W) for facs_cam_gradients ...
 *     facs_cam_input_free(&in);
 *     facs_cam_images_free(&list); */
#ifndef FACS_CAM_INPUT_H
#define FACS_CAM_INPUT_H

#include "image.h"
#include "status.h"

/* The images of a path: the file itself, or every .png, .jpg and .jpeg under
 * a folder, recursively, in a fixed order (image_folder.h's walk). */
typedef struct {
    int count;
    char **paths; /* as the images are opened */
    /* For output names, distinct: the path below the folder (the file's name
     * for a file) without its extension, '/' as '_'. Images that would share
     * one keep their extension (a.jpg, a.png: "a.jpg", "a.png"), and those
     * still sharing one get "~<rank>" in walk order (sub/b.png, sub_b.png:
     * "sub_b.png~1", "sub_b.png~2"), so no image's outputs overwrite another's. */
    char **stems;
} facs_cam_images;

/* Refuses a path that does not exist, and a folder without images. */
facs_status facs_cam_images_open(const char *path, facs_cam_images *out);
void facs_cam_images_free(facs_cam_images *list);

/* Refuses (FACS_ERR_ARG, naming both) an output folder out that is the folder
 * image or lies below it, existing or not (links resolved), or, for an image
 * file, the folder holding it: the walk of a run over that folder would take
 * the maps written there for images. */
facs_status facs_cam_check_out_folder(const char *image, const char *out);

/* One image as the network sees it. */
typedef struct {
    facs_image rgb; /* 8-bit RGB at the network's input size */
    float *chw;     /* (3, H, W): (rgb / 255 - mean) / std, float32 as torchvision's Normalize */
} facs_cam_input;

/* Reads path as RGB (PIL's convert("RGB")), resized to height x width when
 * both are positive and it is not that size already (PIL's bilinear resize,
 * antialiased: torchvision's Resize((h, w)) on the PIL image), and
 * normalised. An unreadable file or one that is no PNG or JPEG is refused,
 * naming it. */
facs_status facs_cam_input_load(const char *path, int height, int width, const float mean[3], const float std[3],
                                facs_cam_input *out);
void facs_cam_input_free(facs_cam_input *in);

/* The input normalisation of a weights file: CIFAR's mean and std when its
 * run options (facs-finetune's "norm") say "cifar", else ImageNet's, which
 * every other trainer here uses (facs-finetune --norm imagenet, pspnet-train,
 * torchvision's files). *name (may be NULL) gets "cifar" or "imagenet". */
facs_status facs_cam_file_norm(const char *weights, float mean[3], float std[3], const char **name);

/* The input size a weights file was trained at (facs-finetune's run option
 * "input-size", at most FACS_CAM_MAX_INPUT_SIZE), else 0. */
#define FACS_CAM_MAX_INPUT_SIZE 8192
facs_status facs_cam_file_input_size(const char *weights, int *size);

/* Class names for a model of classes classes: the lines of file when given
 * (exactly classes non-empty lines, else refused naming the file), else the
 * names the weights file recorded (facs-finetune on an image folder: its class
 * folders), else the built-in ones where they fit: Cityscapes' 19 trainIds for
 * a segmentation model of 19 classes, CIFAR-10's or CIFAR-100's for a
 * classifier of 10 or 100 classes; *names is NULL otherwise (classes go by
 * index). Free with facs_cam_names_free(names, classes). */
facs_status facs_cam_class_names(const char *file, const char *weights, int classes, int segmentation,
                                 char ***names);

/* The names the weights file records alone (facs-finetune's run options), or *names NULL. */
facs_status facs_cam_recorded_names(const char *weights, int classes, char ***names);
void facs_cam_names_free(char **names, int classes);

#endif
