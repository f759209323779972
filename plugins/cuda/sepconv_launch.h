// Launchers of the AdaptiveSepConv CUDA kernels, for C++ callers (the C ABI library, a
// TensorRT plugin). T is float or __half; accumulation is fp32. Tensors are contiguous NCHW
// device memory: img/out (n,c,h,w), kernel_v/kernel_h (n,taps,h,w), occlusion (n,1,h,w).
// Returns cudaSuccess, cudaErrorInvalidValue for bad arguments (null pointers, even or < 1
// taps, dilation < 1, non-positive or too large sizes), or the launch error.
#ifndef FMSMI_CUDA_SEPCONV_LAUNCH_H
#define FMSMI_CUDA_SEPCONV_LAUNCH_H

#include <cuda_fp16.h>
#include <cuda_runtime.h>

namespace fmsmi {

template <typename T>
cudaError_t launchAdaptiveSepConv(const T* img, const T* kernel_v, const T* kernel_h, T* out,
                                  int n, int c, int h, int w, int taps, int dilation,
                                  cudaStream_t stream);

// Fused synthesis: out = O * sep(frame0, V0, H0) + (1 - O) * sep(frame1, V1, H1).
template <typename T>
cudaError_t launchAdaptiveSepConvBlend(const T* frame0, const T* kernel_v0, const T* kernel_h0,
                                       const T* frame1, const T* kernel_v1, const T* kernel_h1,
                                       const T* occlusion, T* out, int n, int c, int h, int w,
                                       int taps, int dilation, cudaStream_t stream);

extern template cudaError_t launchAdaptiveSepConv<float>(const float*, const float*, const float*, float*, int, int, int, int, int, int, cudaStream_t);
extern template cudaError_t launchAdaptiveSepConv<__half>(const __half*, const __half*, const __half*, __half*, int, int, int, int, int, int, cudaStream_t);
extern template cudaError_t launchAdaptiveSepConvBlend<float>(const float*, const float*, const float*, const float*, const float*, const float*, const float*, float*, int, int, int, int, int, int, cudaStream_t);
extern template cudaError_t launchAdaptiveSepConvBlend<__half>(const __half*, const __half*, const __half*, const __half*, const __half*, const __half*, const __half*, __half*, int, int, int, int, int, int, cudaStream_t);

}  // namespace fmsmi

#endif  // FMSMI_CUDA_SEPCONV_LAUNCH_H
