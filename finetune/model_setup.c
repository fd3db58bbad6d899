/* The network of a run (see model_setup.h). */
#include <stdio.h>
#include <string.h>

#include "model_file.h"
#include "model_setup.h"

facs_status ft_model_options(const ft_options *o, int classes, facs_model_options *out)
{
    FACS_TRY(facs_model_options_for_arch(o->arch, out));
    out->classes = classes;
    out->width = o->width;
    out->cifar_stem = o->cifar_stem;
    if (o->given & FACS_MODEL_GIVEN(FUSION_BN))
        out->fusion_bn = o->fusion_bn;
    out->fusion.fusion = o->fusion;
    out->fusion.threshold = (float)o->threshold;
    return FACS_OK;
}

facs_status ft_model_check_options(const ft_options *o)
{
    facs_model_options mo;
    FACS_TRY(ft_model_options(o, 10, &mo));
    return facs_model_options_check_applicable(&mo, o->given);
}

facs_status ft_model_build(const ft_options *o, int classes, facs_device device, facs_model **out)
{
    if (facs_model_arch_is_segmentation(o->arch))
        return facs_fail(FACS_ERR_ARG, "--arch %s is a segmentation network; facs-finetune trains classifiers "
                         "(pspnet-train trains PSPNet)", o->arch);
    facs_model_options mo;
    FACS_TRY(ft_model_options(o, classes, &mo));
    return facs_model_create(out, &mo, device, o->seed);
}

facs_status ft_model_load_init(facs_model *m, const char *path)
{
    facs_weights_report report;
    /* A refusal also says what the file was saved as and what network was built (model_file.h), which tells a
     * forgotten --width or --arch from a file of another network. */
    facs_status s = facs_model_load_backbone(m, path, &report);
    char buf[1024];
    if (s != FACS_OK) {
        snprintf(buf, sizeof buf, "%s", facs_last_error());
        return facs_fail(s, "--init: %s", buf); /* the message names the file */
    }
    facs_weights_meta meta;
    if (facs_weights_read_meta(path, &meta) != FACS_OK)
        meta.arch[0] = '\0'; /* only for the line below: the load has read the file */
    printf("--init %s: %d tensors loaded%s%s, head '%s' newly initialised for %d classes%s%s\n", path, report.loaded,
           report.ignored ? "; " : "", report.ignored ? facs_weights_report_str(&report, buf, sizeof buf) : "",
           facs_model_head_prefix(m), facs_model_get_options(m)->classes, meta.arch[0] ? "; trained as " : "",
           meta.arch);
    return FACS_OK;
}
