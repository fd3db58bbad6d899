/* Top-1/top-5, the confusion matrix and its two renderings (see evaluate.h). */
#include <stdlib.h>
#include <string.h>

#include "evaluate.h"
#include "out_file.h"
#include "step.h"

facs_status ft_eval_init(ft_eval *e, int classes)
{
    memset(e, 0, sizeof *e);
    e->classes = classes;
    e->confusion = calloc((size_t)classes * classes, sizeof *e->confusion);
    return e->confusion ? FACS_OK : facs_fail(FACS_ERR_MEMORY, "out of memory for the confusion matrix");
}

void ft_eval_free(ft_eval *e)
{
    free(e->confusion);
    memset(e, 0, sizeof *e);
}

facs_status ft_evaluate(facs_ctx *ctx, facs_model *model, facs_loader *loader, ft_eval *e)
{
    int k = e->classes;
    e->seen = e->top1 = e->top5 = 0;
    e->loss_sum = 0;
    memset(e->confusion, 0, (size_t)k * k * sizeof *e->confusion);
    float *logits = NULL;
    int capacity = 0;
    facs_status s = FACS_OK;
    for (;;) {
        const facs_batch *b;
        if ((s = facs_loader_next(loader, &b)) != FACS_OK || !b)
            break;
        if (b->n > capacity) {
            free(logits);
            capacity = b->n;
            if (!(logits = malloc((size_t)capacity * k * sizeof *logits))) {
                s = facs_fail(FACS_ERR_MEMORY, "out of memory for the logits");
                break;
            }
        }
        ft_step_result r = {0, logits};
        if ((s = ft_step(ctx, model, NULL, 0, b, k, &r)) != FACS_OK)
            break;
        e->loss_sum += (double)r.loss * b->n;
        for (int i = 0; i < b->n; i++) {
            const float *row = logits + (size_t)i * k;
            int label = b->labels[i], rank = ft_label_rank(row, k, label), predicted = 0;
            for (int c = 1; c < k; c++)
                if (row[c] > row[predicted])
                    predicted = c;
            e->top1 += rank < 1;
            e->top5 += rank < 5;
            e->confusion[(size_t)label * k + predicted]++;
        }
        e->seen += b->n;
    }
    free(logits);
    return s;
}

void ft_eval_print_table(const ft_eval *e, const facs_cifar *names, FILE *out)
{
    int k = e->classes;
    fprintf(out, "%5s  %-20s %7s %8s %9s  %s\n", "class", "name", "images", "correct", "accuracy",
            "most confused with");
    for (int c = 0; c < k; c++) {
        const int64_t *row = e->confusion + (size_t)c * k;
        int64_t total = 0, worst = -1;
        for (int p = 0; p < k; p++) {
            total += row[p];
            if (p != c && row[p] > 0 && (worst < 0 || row[p] > row[worst]))
                worst = p;
        }
        char confused[64] = "-";
        if (worst >= 0)
            snprintf(confused, sizeof confused, "%s (%lld)", names->class_names[worst], (long long)row[worst]);
        fprintf(out, "%5d  %-20s %7lld %8lld %9.4f  %s\n", c, names->class_names[c], (long long)total,
                (long long)row[c], total ? (double)row[c] / total : 0.0, confused);
    }
    fprintf(out, "%5s  %-20s %7lld %8lld %9.4f  top-5 %.4f\n", "all", "", (long long)e->seen, (long long)e->top1,
            ft_eval_top1(e), ft_eval_top5(e));
}

typedef struct {
    const ft_eval *e;
    const facs_cifar *names;
} confusion_args;

static void print_confusion(FILE *f, const void *user)
{
    const ft_eval *e = ((const confusion_args *)user)->e;
    const facs_cifar *names = ((const confusion_args *)user)->names;
    int k = e->classes;
    fprintf(f, "true\\predicted");
    for (int p = 0; p < k; p++)
        fprintf(f, ",%s", names->class_names[p]);
    fputc('\n', f);
    for (int c = 0; c < k; c++) {
        fprintf(f, "%s", names->class_names[c]);
        for (int p = 0; p < k; p++)
            fprintf(f, ",%lld", (long long)e->confusion[(size_t)c * k + p]);
        fputc('\n', f);
    }
}

facs_status ft_eval_write_confusion(const ft_eval *e, const facs_cifar *names, const char *path)
{
    confusion_args args = {e, names};
    return ft_write_text_atomic(path, print_confusion, &args);
}
