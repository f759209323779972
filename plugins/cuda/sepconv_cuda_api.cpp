// C ABI of the CUDA library: argument checks with named messages, dtype dispatch.
#include "fmsmi_sepconv_cuda.h"

#include <stdio.h>

#include <string>

#include "sepconv_launch.h"

namespace {

constexpr int64_t kMaxCoordinate = int64_t{1} << 30;

thread_local std::string t_last_error;

int invalid(const char* name, long long value, const char* expected) {
  char message[256];
  snprintf(message, sizeof message, "%s=%lld: expected %s", name, value, expected);
  t_last_error = message;
  return FMSMI_SEPCONV_CUDA_INVALID_ARGUMENT;
}

struct Pointer {
  const char* name;
  const void* value;
};

int check(std::initializer_list<Pointer> pointers, int dtype, int64_t n, int64_t c, int64_t h,
          int64_t w, int64_t taps, int64_t dilation) {
  for (const Pointer& p : pointers) {
    if (p.value == nullptr) {
      t_last_error = std::string(p.name) + "=NULL: expected a device pointer";
      return FMSMI_SEPCONV_CUDA_INVALID_ARGUMENT;
    }
  }
  if (dtype != FMSMI_SEPCONV_CUDA_DTYPE_FLOAT32 && dtype != FMSMI_SEPCONV_CUDA_DTYPE_FLOAT16)
    return invalid("dtype", dtype, "0 (float32) or 1 (float16)");
  if (n < 1 || n > kMaxCoordinate) return invalid("n", n, "1 <= n <= 2^30");
  if (c < 1 || c > kMaxCoordinate) return invalid("c", c, "1 <= c <= 2^30");
  if (h < 1 || h > 65535 * 8) return invalid("h", h, "1 <= h <= 524280");
  if (w < 1 || w > kMaxCoordinate) return invalid("w", w, "1 <= w <= 2^30");
  if (taps < 1 || taps % 2 == 0 || taps > 4095)
    return invalid("taps", taps, "an odd kernel size, 1 <= taps <= 4095");
  if (dilation < 1 || dilation > 65535) return invalid("dilation", dilation, "1 <= dilation <= 65535");
  return 0;
}

}  // namespace

extern "C" {

int fmsmi_sepconv_cuda_forward(const void* img, const void* kernel_v, const void* kernel_h,
                               void* out, int dtype, int64_t n, int64_t c, int64_t h, int64_t w,
                               int64_t taps, int64_t dilation, void* stream) {
  const int status = check({{"img", img}, {"kernel_v", kernel_v}, {"kernel_h", kernel_h}, {"out", out}},
                           dtype, n, c, h, w, taps, dilation);
  if (status != 0) return status;
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  const int in = static_cast<int>(n), ic = static_cast<int>(c), ih = static_cast<int>(h),
            iw = static_cast<int>(w), it = static_cast<int>(taps), id = static_cast<int>(dilation);
  if (dtype == FMSMI_SEPCONV_CUDA_DTYPE_FLOAT16) {
    return fmsmi::launchAdaptiveSepConv(static_cast<const __half*>(img), static_cast<const __half*>(kernel_v),
                                        static_cast<const __half*>(kernel_h), static_cast<__half*>(out),
                                        in, ic, ih, iw, it, id, s);
  }
  return fmsmi::launchAdaptiveSepConv(static_cast<const float*>(img), static_cast<const float*>(kernel_v),
                                      static_cast<const float*>(kernel_h), static_cast<float*>(out),
                                      in, ic, ih, iw, it, id, s);
}

int fmsmi_sepconv_cuda_blend_forward(const void* frame0, const void* kernel_v0,
                                     const void* kernel_h0, const void* frame1,
                                     const void* kernel_v1, const void* kernel_h1,
                                     const void* occlusion, void* out, int dtype, int64_t n,
                                     int64_t c, int64_t h, int64_t w, int64_t taps,
                                     int64_t dilation, void* stream) {
  const int status = check({{"frame0", frame0}, {"kernel_v0", kernel_v0}, {"kernel_h0", kernel_h0},
                            {"frame1", frame1}, {"kernel_v1", kernel_v1}, {"kernel_h1", kernel_h1},
                            {"occlusion", occlusion}, {"out", out}},
                           dtype, n, c, h, w, taps, dilation);
  if (status != 0) return status;
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  const int in = static_cast<int>(n), ic = static_cast<int>(c), ih = static_cast<int>(h),
            iw = static_cast<int>(w), it = static_cast<int>(taps), id = static_cast<int>(dilation);
  if (dtype == FMSMI_SEPCONV_CUDA_DTYPE_FLOAT16) {
    using H = const __half*;
    return fmsmi::launchAdaptiveSepConvBlend(
        static_cast<H>(frame0), static_cast<H>(kernel_v0), static_cast<H>(kernel_h0),
        static_cast<H>(frame1), static_cast<H>(kernel_v1), static_cast<H>(kernel_h1),
        static_cast<H>(occlusion), static_cast<__half*>(out), in, ic, ih, iw, it, id, s);
  }
  using F = const float*;
  return fmsmi::launchAdaptiveSepConvBlend(
      static_cast<F>(frame0), static_cast<F>(kernel_v0), static_cast<F>(kernel_h0),
      static_cast<F>(frame1), static_cast<F>(kernel_v1), static_cast<F>(kernel_h1),
      static_cast<F>(occlusion), static_cast<float*>(out), in, ic, ih, iw, it, id, s);
}

const char* fmsmi_sepconv_cuda_error_string(int code) {
  if (code == FMSMI_SEPCONV_CUDA_INVALID_ARGUMENT) {
    return t_last_error.empty() ? "invalid argument" : t_last_error.c_str();
  }
  if (code < 0) return "unknown fmsmi_sepconv_cuda error code";
  return cudaGetErrorString(static_cast<cudaError_t>(code));
}

}  // extern "C"
