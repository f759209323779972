/* fmsmi AdaptiveSepConv, CUDA library (libfmsmi_sepconv_cuda) — C ABI.
 * Same formula and layouts as fmsmi_sepconv.h; pointers are device memory, the launch is
 * asynchronous on `stream` (a cudaStream_t; NULL = default stream). cudart is linked
 * statically: the library loads without the CUDA toolkit and without a GPU or driver (calls
 * then return the CUDA error, e.g. 35 "insufficient driver" or 100 "no device").
 */
#ifndef FMSMI_SEPCONV_CUDA_H
#define FMSMI_SEPCONV_CUDA_H

#include <stdint.h>

#define FMSMI_SEPCONV_CUDA_API __attribute__((visibility("default")))

#ifdef __cplusplus
extern "C" {
#endif

enum {
  FMSMI_SEPCONV_CUDA_DTYPE_FLOAT32 = 0,
  FMSMI_SEPCONV_CUDA_DTYPE_FLOAT16 = 1
};

/* Returned for bad arguments; distinct from every cudaError_t value (those are >= 0). */
enum { FMSMI_SEPCONV_CUDA_INVALID_ARGUMENT = -1 };

/* Returns 0, a cudaError_t value, or FMSMI_SEPCONV_CUDA_INVALID_ARGUMENT. */
FMSMI_SEPCONV_CUDA_API int fmsmi_sepconv_cuda_forward(
    const void* img, const void* kernel_v, const void* kernel_h, void* out, int dtype,
    int64_t n, int64_t c, int64_t h, int64_t w, int64_t taps, int64_t dilation, void* stream);

/* out = O * sep(frame0, V0, H0) + (1 - O) * sep(frame1, V1, H1); occlusion (N,1,H,W). */
FMSMI_SEPCONV_CUDA_API int fmsmi_sepconv_cuda_blend_forward(
    const void* frame0, const void* kernel_v0, const void* kernel_h0,
    const void* frame1, const void* kernel_v1, const void* kernel_h1,
    const void* occlusion, void* out, int dtype,
    int64_t n, int64_t c, int64_t h, int64_t w, int64_t taps, int64_t dilation, void* stream);

/* Message for a code returned above: the argument check's message (naming the argument) for
 * FMSMI_SEPCONV_CUDA_INVALID_ARGUMENT on this thread, else cudaGetErrorString. */
FMSMI_SEPCONV_CUDA_API const char* fmsmi_sepconv_cuda_error_string(int code);

#ifdef __cplusplus
}
#endif

#endif /* FMSMI_SEPCONV_CUDA_H */
