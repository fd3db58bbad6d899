#include "fd_gradient.h"

void test_fd_gradient(test_scalar_fn f, double *x, size_t n, void *user, double eps, double *grad)
{
    for (size_t i = 0; i < n; i++) {
        double keep = x[i];
        x[i] = keep + eps;
        double up = f(x, user);
        x[i] = keep - eps;
        double down = f(x, user);
        x[i] = keep;
        grad[i] = (up - down) / (2.0 * eps);
    }
}
