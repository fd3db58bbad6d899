/* RAII and checked calls for cuDNN's backend (graph) API, whose every
 * descriptor is created, given attributes one call at a time, finalized and
 * destroyed: a failing call becomes false and a Reason naming the call,
 * cuDNN's status and its last error message, so that a builder can stop at
 * the first failure and say why (conv2d_graph.cu).
 *
 *     Reason why;
 *     Descriptor t;
 *     bool ok = FACS_GRAPH_CREATE(t, CUDNN_BACKEND_TENSOR_DESCRIPTOR, &why) &&
 *               FACS_GRAPH_SET(t, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid, &why) &&
 *               finalize(t, "finalizing a tensor", &why); */
#ifndef FACS_CUDA_CUDNN_BACKEND_CUH
#define FACS_CUDA_CUDNN_BACKEND_CUH

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include "cuda_check.h"

namespace facs_cudnn_backend {

/* One backend descriptor, destroyed on every way out. */
class Descriptor {
  public:
    Descriptor() = default;
    Descriptor(const Descriptor &) = delete;
    Descriptor &operator=(const Descriptor &) = delete;
    Descriptor(Descriptor &&other) noexcept : raw_(other.raw_) { other.raw_ = nullptr; }
    Descriptor &operator=(Descriptor &&other) noexcept
    {
        if (this != &other) {
            reset(other.raw_);
            other.raw_ = nullptr;
        }
        return *this;
    }
    ~Descriptor() { reset(nullptr); }

    cudnnBackendDescriptor_t get() const { return raw_; }

    void reset(cudnnBackendDescriptor_t raw)
    {
        if (raw_)
            (void)cudnnBackendDestroyDescriptor(raw_);
        raw_ = raw;
    }

  private:
    cudnnBackendDescriptor_t raw_ = nullptr;
};

/* Why a key got no plan (or a call failed), in words for the message. */
struct Reason {
    char text[512] = "";

    void say(const char *fmt, ...) FACS_PRINTF(2, 3)
    {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(text, sizeof text, fmt, ap);
        va_end(ap);
    }
};

/* true for success; otherwise records what failed, with cuDNN's name for the
 * status and its last error message, which usually says which check refused. */
inline bool backend_ok(cudnnStatus_t st, const char *what, Reason *why)
{
    if (st == CUDNN_STATUS_SUCCESS)
        return true;
    char detail[320] = "";
    cudnnGetLastErrorString(detail, sizeof detail);
    why->say("%s: %s%s%s", what, cudnnGetErrorString(st), detail[0] ? "; " : "", detail);
    return false;
}

inline bool create(Descriptor *d, cudnnBackendDescriptorType_t type, const char *what, Reason *why)
{
    cudnnBackendDescriptor_t raw = nullptr;
    if (!backend_ok(cudnnBackendCreateDescriptor(type, &raw), what, why))
        return false;
    d->reset(raw);
    return true;
}

inline bool set_attribute(const Descriptor &d, cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type,
                          int64_t count, const void *values, const char *what, Reason *why)
{
    return backend_ok(cudnnBackendSetAttribute(d.get(), name, type, count, values), what, why);
}

inline bool get_attribute(const Descriptor &d, cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type,
                          int64_t requested, int64_t *count, void *values, const char *what, Reason *why)
{
    return backend_ok(cudnnBackendGetAttribute(d.get(), name, type, requested, count, values), what, why);
}

inline bool finalize(const Descriptor &d, const char *what, Reason *why)
{
    return backend_ok(cudnnBackendFinalize(d.get()), what, why);
}

/* The attribute's own name goes into the message. */
#define FACS_GRAPH_CREATE(d, type, why) create(&(d), (type), "creating " #type, (why))
#define FACS_GRAPH_SET(d, name, type, count, values, why) \
    set_attribute((d), (name), (type), (count), (values), "setting " #name, (why))
#define FACS_GRAPH_GET(d, name, type, requested, count, values, why) \
    get_attribute((d), (name), (type), (requested), (count), (values), "reading " #name, (why))

} // namespace facs_cudnn_backend

#endif
