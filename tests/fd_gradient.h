/* Central finite differences in double precision: the one gradient loop of
 * the tests (test_util.h) and of test_backend_ops. Depends on nothing, so
 * that a program which cannot link the test harness's libraries can use it. */
#ifndef FACS_FD_GRADIENT_H
#define FACS_FD_GRADIENT_H

#include <stddef.h>

/* A scalar function of x (n doubles); user is passed through. */
typedef double (*test_scalar_fn)(const double *x, void *user);

/* grad[i] = (f(x + eps e_i) - f(x - eps e_i)) / (2 eps) for i < n. x is
 * changed in place one element at a time (f sees the moved x) and restored. */
void test_fd_gradient(test_scalar_fn f, double *x, size_t n, void *user, double eps, double *grad);

#endif
