// AdaptiveSepConv CUDA kernels: one thread per output pixel (x fastest, so every tap load of a
// warp is coalesced along x), all channels per thread in chunks of 4 so V and H are read once
// per pixel for RGB. The arithmetic is the shared header's (sepconv_math.h), also run and
// tested on the CPU.
//
// Not done (no GPU here to measure it): a shared-memory tile of the image rows for small F.
// The image taps of neighbouring threads overlap almost entirely, so they already hit L1.
#include "sepconv_launch.h"
#include "sepconv_math.h"

namespace fmsmi {
namespace {

constexpr int kBlockX = 32;
constexpr int kBlockY = 8;
constexpr int kMaxGridZ = 65535;

template <typename T>
__global__ void __launch_bounds__(kBlockX * kBlockY)
adaptive_sepconv_kernel(const T* __restrict__ img, const T* __restrict__ kernel_v,
                        const T* __restrict__ kernel_h, T* __restrict__ out, int n, int c,
                        int h, int w, int taps, int dilation) {
  const int x = blockIdx.x * kBlockX + threadIdx.x;
  const int y = blockIdx.y * kBlockY + threadIdx.y;
  if (x >= w || y >= h) return;
  const int64_t plane = static_cast<int64_t>(h) * w;
  for (int64_t b = blockIdx.z; b < n; b += gridDim.z) {
    sepconv_pixel(img + b * c * plane, kernel_v + b * taps * plane, kernel_h + b * taps * plane,
                  out + b * c * plane, c, h, w, taps, dilation, y, x);
  }
}

template <typename T>
__global__ void __launch_bounds__(kBlockX * kBlockY)
adaptive_sepconv_blend_kernel(const T* __restrict__ frame0, const T* __restrict__ kernel_v0,
                              const T* __restrict__ kernel_h0, const T* __restrict__ frame1,
                              const T* __restrict__ kernel_v1, const T* __restrict__ kernel_h1,
                              const T* __restrict__ occlusion, T* __restrict__ out, int n, int c,
                              int h, int w, int taps, int dilation) {
  const int x = blockIdx.x * kBlockX + threadIdx.x;
  const int y = blockIdx.y * kBlockY + threadIdx.y;
  if (x >= w || y >= h) return;
  const int64_t plane = static_cast<int64_t>(h) * w;
  for (int64_t b = blockIdx.z; b < n; b += gridDim.z) {
    const int64_t image = b * c * plane;
    const int64_t kernels = b * taps * plane;
    sepconv_blend_pixel(frame0 + image, kernel_v0 + kernels, kernel_h0 + kernels, frame1 + image,
                        kernel_v1 + kernels, kernel_h1 + kernels, occlusion + b * plane,
                        out + image, c, h, w, taps, dilation, y, x);
  }
}

bool valid_shape(int n, int c, int h, int w, int taps, int dilation) {
  if (n < 1 || c < 1 || h < 1 || w < 1 || taps < 1 || taps % 2 == 0 || dilation < 1) return false;
  const long long reach = static_cast<long long>(dilation) * ((taps - 1) / 2);
  // Pixel coordinates (y + d*(i - r)) stay in int; grid.y is at most 65535 blocks.
  return reach < (1 << 30) - h && reach < (1 << 30) - w &&
         (h + kBlockY - 1) / kBlockY <= 65535;
}

dim3 grid_for(int n, int h, int w) {
  return dim3((w + kBlockX - 1) / kBlockX, (h + kBlockY - 1) / kBlockY,
              n < kMaxGridZ ? n : kMaxGridZ);
}

}  // namespace

template <typename T>
cudaError_t launchAdaptiveSepConv(const T* img, const T* kernel_v, const T* kernel_h, T* out,
                                  int n, int c, int h, int w, int taps, int dilation,
                                  cudaStream_t stream) {
  if (!img || !kernel_v || !kernel_h || !out || !valid_shape(n, c, h, w, taps, dilation)) {
    return cudaErrorInvalidValue;
  }
  adaptive_sepconv_kernel<T><<<grid_for(n, h, w), dim3(kBlockX, kBlockY), 0, stream>>>(
      img, kernel_v, kernel_h, out, n, c, h, w, taps, dilation);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launchAdaptiveSepConvBlend(const T* frame0, const T* kernel_v0, const T* kernel_h0,
                                       const T* frame1, const T* kernel_v1, const T* kernel_h1,
                                       const T* occlusion, T* out, int n, int c, int h, int w,
                                       int taps, int dilation, cudaStream_t stream) {
  if (!frame0 || !kernel_v0 || !kernel_h0 || !frame1 || !kernel_v1 || !kernel_h1 || !occlusion ||
      !out || !valid_shape(n, c, h, w, taps, dilation)) {
    return cudaErrorInvalidValue;
  }
  adaptive_sepconv_blend_kernel<T><<<grid_for(n, h, w), dim3(kBlockX, kBlockY), 0, stream>>>(
      frame0, kernel_v0, kernel_h0, frame1, kernel_v1, kernel_h1, occlusion, out, n, c, h, w,
      taps, dilation);
  return cudaGetLastError();
}

template cudaError_t launchAdaptiveSepConv<float>(const float*, const float*, const float*, float*, int, int, int, int, int, int, cudaStream_t);
template cudaError_t launchAdaptiveSepConv<__half>(const __half*, const __half*, const __half*, __half*, int, int, int, int, int, int, cudaStream_t);
template cudaError_t launchAdaptiveSepConvBlend<float>(const float*, const float*, const float*, const float*, const float*, const float*, const float*, float*, int, int, int, int, int, int, cudaStream_t);
template cudaError_t launchAdaptiveSepConvBlend<__half>(const __half*, const __half*, const __half*, const __half*, const __half*, const __half*, const __half*, __half*, int, int, int, int, int, int, cudaStream_t);

}  // namespace fmsmi
