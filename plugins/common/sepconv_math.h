// AdaptiveSepConv per-pixel math, written once for the CPU library and the CUDA kernel.
//
//   out[n,c,y,x] = sum_{i<F} sum_{j<F} V[n,i,y,x] * H[n,j,y,x]
//                  * img[n,c, clampY(y + d*(i-r)), clampX(x + d*(j-r))],   r = (F-1)/2
//
// Everything here is FMSMI_HD (host + device under nvcc), so the exact arithmetic the CUDA
// kernel runs is also run, and tested, on the CPU (fmsmi_sepconv_forward_scalar_*).
// Accumulation is always fp32 and index math always integer: fp16 stops representing pixel
// coordinates exactly at 2048.
//
// The functions live in an unnamed namespace on purpose: the CPU library compiles this header
// into translation units built for different instruction sets (generic, AVX2). Internal linkage
// keeps an AVX2-compiled copy from being picked by the linker for the generic path.
#ifndef FMSMI_SEPCONV_MATH_H
#define FMSMI_SEPCONV_MATH_H

#include <stdint.h>
#include <string.h>

#if defined(__CUDACC__)
#include <cuda_fp16.h>
#define FMSMI_HD __host__ __device__
#define FMSMI_UNROLL _Pragma("unroll")
#else
#define FMSMI_HD
#define FMSMI_UNROLL
#endif

namespace fmsmi {
namespace {

// Replicate border: clamp an index to [0, size - 1].
FMSMI_HD inline int clamp_index(int index, int size) {
  return index < 0 ? 0 : (index >= size ? size - 1 : index);
}

FMSMI_HD inline float bits_to_float(uint32_t bits) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(bits);
#else
  float value;
  memcpy(&value, &bits, sizeof value);
  return value;
#endif
}

FMSMI_HD inline uint32_t float_to_bits(float value) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(value);
#else
  uint32_t bits;
  memcpy(&bits, &value, sizeof bits);
  return bits;
#endif
}

// IEEE binary16 bits -> float (exact). The device uses the hardware conversion, which is
// bit-identical; the host path is the portable bit manipulation.
FMSMI_HD inline float half_bits_to_float(uint16_t half) {
#if defined(__CUDA_ARCH__)
  return __half2float(__ushort_as_half(half));
#else
  const uint32_t sign = static_cast<uint32_t>(half & 0x8000u) << 16;
  const uint32_t exponent = (half >> 10) & 0x1fu;
  const uint32_t mantissa = half & 0x3ffu;
  if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24, exact in float
    const float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 31) return bits_to_float(sign | 0x7f800000u | (mantissa << 13));  // inf / nan
  return bits_to_float(sign | ((exponent + 112u) << 23) | (mantissa << 13));
#endif
}

// float -> IEEE binary16 bits, round to nearest even (overflow -> inf, nan stays nan).
FMSMI_HD inline uint16_t float_to_half_bits(float value) {
#if defined(__CUDA_ARCH__)
  return __half_as_ushort(__float2half_rn(value));
#else
  uint32_t bits = float_to_bits(value);
  const uint32_t sign = (bits >> 16) & 0x8000u;
  bits &= 0x7fffffffu;
  uint32_t half;
  if (bits >= 0x47800000u) {  // >= 65536, inf or nan (65520..65536 round up below)
    half = bits > 0x7f800000u ? 0x7e00u : 0x7c00u;
  } else if (bits < 0x38800000u) {  // below 2^-14: subnormal or zero, let the FPU round
    const float denorm_magic = bits_to_float(((127u - 15u) + (23u - 10u) + 1u) << 23);
    half = float_to_bits(bits_to_float(bits) + denorm_magic) - float_to_bits(denorm_magic);
  } else {
    const uint32_t mantissa_odd = (bits >> 13) & 1u;
    bits += 0xc8000fffu;  // rebias exponent (15 - 127) << 23, plus rounding bias 0xfff
    bits += mantissa_odd;
    half = bits >> 13;
  }
  return static_cast<uint16_t>(half | sign);
#endif
}

// Element loads/stores for the storage types: float, IEEE half as raw bits (host and device),
// and __half (device code).
FMSMI_HD inline float to_float(float value) { return value; }
FMSMI_HD inline float to_float(uint16_t bits) { return half_bits_to_float(bits); }
template <typename T> FMSMI_HD inline T from_float(float value);
template <> FMSMI_HD inline float from_float<float>(float value) { return value; }
template <> FMSMI_HD inline uint16_t from_float<uint16_t>(float value) {
  return float_to_half_bits(value);
}
#if defined(__CUDACC__)
FMSMI_HD inline float to_float(__half value) { return __half2float(value); }
template <> FMSMI_HD inline __half from_float<__half>(float value) { return __float2half_rn(value); }
#endif

// Sums CC channels of one output pixel into acc (fp32). img points at channel 0 of the chunk,
// kernel_v / kernel_h at tap 0 of the same image; plane = h * w.
template <int CC, typename T>
FMSMI_HD inline void sepconv_accumulate(const T* img, const T* kernel_v, const T* kernel_h,
                                        int64_t plane, int h, int w, int taps, int dilation,
                                        int y, int x, float* acc) {
  const int radius = (taps - 1) / 2;
  const int64_t pixel = static_cast<int64_t>(y) * w + x;
FMSMI_UNROLL
  for (int c = 0; c < CC; ++c) acc[c] = 0.0f;
  for (int i = 0; i < taps; ++i) {
    const int row = clamp_index(y + dilation * (i - radius), h);
    const T* src = img + static_cast<int64_t>(row) * w;
    float row_sum[CC];
FMSMI_UNROLL
    for (int c = 0; c < CC; ++c) row_sum[c] = 0.0f;
    for (int j = 0; j < taps; ++j) {
      const int col = clamp_index(x + dilation * (j - radius), w);
      const float weight_h = to_float(kernel_h[j * plane + pixel]);
FMSMI_UNROLL
      for (int c = 0; c < CC; ++c) row_sum[c] += weight_h * to_float(src[c * plane + col]);
    }
    const float weight_v = to_float(kernel_v[i * plane + pixel]);
FMSMI_UNROLL
    for (int c = 0; c < CC; ++c) acc[c] += weight_v * row_sum[c];
  }
}

template <int CC, typename T>
FMSMI_HD inline void sepconv_pixel_chunk(const T* img, const T* kernel_v, const T* kernel_h,
                                         T* out, int64_t plane, int h, int w, int taps,
                                         int dilation, int y, int x) {
  float acc[CC];
  sepconv_accumulate<CC>(img, kernel_v, kernel_h, plane, h, w, taps, dilation, y, x, acc);
  const int64_t pixel = static_cast<int64_t>(y) * w + x;
FMSMI_UNROLL
  for (int c = 0; c < CC; ++c) out[c * plane + pixel] = from_float<T>(acc[c]);
}

// One output pixel (y, x), all channels, of one image: img/out at channel 0 of image n,
// kernel_v/kernel_h at tap 0 of image n. Channels go in chunks of up to 4 so the kernels are
// read once per chunk (once per pixel for RGB).
template <typename T>
FMSMI_HD inline void sepconv_pixel(const T* img, const T* kernel_v, const T* kernel_h, T* out,
                                   int channels, int h, int w, int taps, int dilation, int y,
                                   int x) {
  const int64_t plane = static_cast<int64_t>(h) * w;
  int c0 = 0;
  for (; c0 + 4 <= channels; c0 += 4) {
    sepconv_pixel_chunk<4>(img + c0 * plane, kernel_v, kernel_h, out + c0 * plane, plane, h, w,
                           taps, dilation, y, x);
  }
  const T* img_rest = img + c0 * plane;
  T* out_rest = out + c0 * plane;
  switch (channels - c0) {
    case 3: sepconv_pixel_chunk<3>(img_rest, kernel_v, kernel_h, out_rest, plane, h, w, taps, dilation, y, x); break;
    case 2: sepconv_pixel_chunk<2>(img_rest, kernel_v, kernel_h, out_rest, plane, h, w, taps, dilation, y, x); break;
    case 1: sepconv_pixel_chunk<1>(img_rest, kernel_v, kernel_h, out_rest, plane, h, w, taps, dilation, y, x); break;
    default: break;
  }
}

template <int CC, typename T>
FMSMI_HD inline void sepconv_blend_pixel_chunk(const T* frame0, const T* kernel_v0,
                                               const T* kernel_h0, const T* frame1,
                                               const T* kernel_v1, const T* kernel_h1,
                                               float occlusion, T* out, int64_t plane, int h,
                                               int w, int taps, int dilation, int y, int x) {
  float acc0[CC];
  float acc1[CC];
  sepconv_accumulate<CC>(frame0, kernel_v0, kernel_h0, plane, h, w, taps, dilation, y, x, acc0);
  sepconv_accumulate<CC>(frame1, kernel_v1, kernel_h1, plane, h, w, taps, dilation, y, x, acc1);
  const int64_t pixel = static_cast<int64_t>(y) * w + x;
FMSMI_UNROLL
  for (int c = 0; c < CC; ++c) {
    out[c * plane + pixel] = from_float<T>(occlusion * acc0[c] + (1.0f - occlusion) * acc1[c]);
  }
}

// Fused synthesis of one pixel: out = O * sep(frame0, V0, H0) + (1 - O) * sep(frame1, V1, H1).
// occlusion points at image n of the (N, 1, H, W) map.
template <typename T>
FMSMI_HD inline void sepconv_blend_pixel(const T* frame0, const T* kernel_v0, const T* kernel_h0,
                                         const T* frame1, const T* kernel_v1, const T* kernel_h1,
                                         const T* occlusion, T* out, int channels, int h, int w,
                                         int taps, int dilation, int y, int x) {
  const int64_t plane = static_cast<int64_t>(h) * w;
  const float o = to_float(occlusion[static_cast<int64_t>(y) * w + x]);
  int c0 = 0;
  for (; c0 + 4 <= channels; c0 += 4) {
    sepconv_blend_pixel_chunk<4>(frame0 + c0 * plane, kernel_v0, kernel_h0, frame1 + c0 * plane,
                                 kernel_v1, kernel_h1, o, out + c0 * plane, plane, h, w, taps,
                                 dilation, y, x);
  }
  const int64_t rest = c0 * plane;
  switch (channels - c0) {
    case 3: sepconv_blend_pixel_chunk<3>(frame0 + rest, kernel_v0, kernel_h0, frame1 + rest, kernel_v1, kernel_h1, o, out + rest, plane, h, w, taps, dilation, y, x); break;
    case 2: sepconv_blend_pixel_chunk<2>(frame0 + rest, kernel_v0, kernel_h0, frame1 + rest, kernel_v1, kernel_h1, o, out + rest, plane, h, w, taps, dilation, y, x); break;
    case 1: sepconv_blend_pixel_chunk<1>(frame0 + rest, kernel_v0, kernel_h0, frame1 + rest, kernel_v1, kernel_h1, o, out + rest, plane, h, w, taps, dilation, y, x); break;
    default: break;
  }
}

}  // namespace
}  // namespace fmsmi

#endif  // FMSMI_SEPCONV_MATH_H
