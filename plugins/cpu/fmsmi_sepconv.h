/* fmsmi AdaptiveSepConv, native CPU library (libfmsmi_sepconv_cpu) — C ABI.
 *
 *   out[n,c,y,x] = sum_{i<F} sum_{j<F} V[n,i,y,x] * H[n,j,y,x]
 *                  * img[n,c, clampY(y + d*(i-r)), clampX(x + d*(j-r))],   r = (F-1)/2
 *
 * img/out (N,C,H,W), kernel_v/kernel_h (N,F,H,W), occlusion (N,1,H,W): contiguous NCHW.
 * taps = F (odd, >= 1), dilation = d (>= 1), clamp = replicate border. fp32 accumulation and
 * integer index math in every variant; f16 entry points take IEEE binary16 bits.
 * threads: 0 = all hardware threads; the library uses its own small std::thread pool.
 * Every function returns 0 on success or an FMSMI_SEPCONV_* code; fmsmi_sepconv_last_error()
 * then describes the failure (thread-local). Outputs are fully overwritten.
 */
#ifndef FMSMI_SEPCONV_H
#define FMSMI_SEPCONV_H

#include <stdint.h>

#if defined(_WIN32)
#define FMSMI_SEPCONV_API __declspec(dllexport)
#else
#define FMSMI_SEPCONV_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

enum {
  FMSMI_SEPCONV_OK = 0,
  FMSMI_SEPCONV_INVALID_ARGUMENT = 1,
  FMSMI_SEPCONV_OUT_OF_MEMORY = 2,
  FMSMI_SEPCONV_INTERNAL_ERROR = 3
};

FMSMI_SEPCONV_API int fmsmi_sepconv_forward_f32(
    const float* img, const float* kernel_v, const float* kernel_h, float* out,
    int64_t n, int64_t c, int64_t h, int64_t w, int64_t taps, int64_t dilation, int threads);

/* IEEE half I/O, fp32 accumulation, output rounded to nearest even. */
FMSMI_SEPCONV_API int fmsmi_sepconv_forward_f16(
    const uint16_t* img, const uint16_t* kernel_v, const uint16_t* kernel_h, uint16_t* out,
    int64_t n, int64_t c, int64_t h, int64_t w, int64_t taps, int64_t dilation, int threads);

/* Exact gradients of the forward: grad_img (N,C,H,W) includes the accumulation on clamped
 * border pixels; grad_kernel_v / grad_kernel_h (N,F,H,W). */
FMSMI_SEPCONV_API int fmsmi_sepconv_backward_f32(
    const float* img, const float* kernel_v, const float* kernel_h, const float* grad_out,
    float* grad_img, float* grad_kernel_v, float* grad_kernel_h,
    int64_t n, int64_t c, int64_t h, int64_t w, int64_t taps, int64_t dilation, int threads);

/* Fused synthesis: out = O * sep(frame0, V0, H0) + (1 - O) * sep(frame1, V1, H1). */
FMSMI_SEPCONV_API int fmsmi_sepconv_blend_forward_f32(
    const float* frame0, const float* kernel_v0, const float* kernel_h0,
    const float* frame1, const float* kernel_v1, const float* kernel_h1,
    const float* occlusion, float* out,
    int64_t n, int64_t c, int64_t h, int64_t w, int64_t taps, int64_t dilation, int threads);

/* Fused synthesis of one scale, reading the kernel head's prediction at its own resolution:
 *
 *   u = bilinear(raw) at (h, w)   (torch.nn.functional.interpolate, mode "bilinear",
 *                                  align_corners=False; u = raw when raw is already (h, w))
 *   out = O * sep(frame0, V0, H0) + (1 - O) * sep(frame1, V1, H1),   with
 *   V0_i = u[i] + (i == r), H0_j = u[F + j] + (j == r), V1_i = u[2F + i] + (i == r),
 *   H1_j = u[3F + j] + (j == r), O = sigmoid(u[4F]),   F = taps, r = (F - 1) / 2.
 *
 * frame0/frame1/out (N,C,H,W) and raw (N, 4F+1, raw_h, raw_w): contiguous fp32. Inference only
 * (no backward); no tensor of the resampled kernels is ever materialized. */
FMSMI_SEPCONV_API int fmsmi_synthesis_forward_f32(
    const float* frame0, const float* frame1, const float* raw, float* out,
    int64_t n, int64_t c, int64_t h, int64_t w, int64_t raw_h, int64_t raw_w,
    int64_t taps, int64_t dilation, int threads);

/* Motion pre-alignment (engine/network/motion.py, align): a bilateral block-matching field
 * u at the middle frame (exhaustive +-radius search at 1/2^coarse_level, +-1 pixel refinement
 * of the warped levels down to 1/2^fine_level, means over window x window blocks, bias per
 * pixel of coarse half-motion), then aligned0 = frame0(x - u), aligned1 = frame1(x + u)
 * (bilinear, border). frame0/frame1/aligned0/aligned1 (N,C,H,W) contiguous fp32, C >= 3 (grey
 * from the first three channels), min(H, W) >= 2^coarse_level. Inference only; one thread. */
FMSMI_SEPCONV_API int fmsmi_motion_align_f32(
    const float* frame0, const float* frame1, float* aligned0, float* aligned1, int64_t n, int64_t c,
    int64_t h, int64_t w, int64_t coarse_level, int64_t radius, int64_t fine_level, int64_t window,
    float bias);

/* A synthesized frame to display/encoder pixels: planar (C,H,W) fp32 in [0,1] -> packed
 * (H,W,K) uint8, K = C (RGB) or C + 1 (RGBA, alpha 255); each value trunc(clamp(x * 255 + 0.5,
 * 0, 255)) in fp32 (engine/frames.py to_uint8's formula). One thread. */
FMSMI_SEPCONV_API int fmsmi_planar_to_packed_u8(const float* planar, uint8_t* packed, int64_t c,
                                                int64_t h, int64_t w, int64_t k);

/* A synthesized frame to an encoder's 8-bit 4:2:0 planes: planar (3,H,W) fp32 RGB, clamped to
 * [0,1], through the matrix with luma weights kr, kb (kg = 1 - kr - kb):
 *   Y = kr R + kg G + kb B,  Cb = (B - Y) / (2 (1 - kb)),  Cr = (R - Y) / (2 (1 - kr)),
 * coded Y' = 16 + 219 Y, C' = 128 + 224 C (limited range) or Y' = 255 Y, C' = 128 + 255 C
 * (full_range != 0), each rounded half up and clamped to [0, 255]. Chroma comes from the mean
 * of each 2x2 block of RGB (an odd last row or column pairs with itself): luma (H rows of
 * luma_stride bytes), cb and cr ((H+1)/2 rows of chroma_stride bytes). One thread. */
FMSMI_SEPCONV_API int fmsmi_planar_to_yuv420p_u8(const float* planar, int64_t h, int64_t w, uint8_t* luma,
                                                 int64_t luma_stride, uint8_t* cb, uint8_t* cr,
                                                 int64_t chroma_stride, float kr, float kb, int full_range);

/* The shared per-pixel header path (the exact math of the CUDA kernel) over every pixel;
 * slow, for testing. */
FMSMI_SEPCONV_API int fmsmi_sepconv_forward_scalar_f32(
    const float* img, const float* kernel_v, const float* kernel_h, float* out,
    int64_t n, int64_t c, int64_t h, int64_t w, int64_t taps, int64_t dilation, int threads);
FMSMI_SEPCONV_API int fmsmi_sepconv_forward_scalar_f16(
    const uint16_t* img, const uint16_t* kernel_v, const uint16_t* kernel_h, uint16_t* out,
    int64_t n, int64_t c, int64_t h, int64_t w, int64_t taps, int64_t dilation, int threads);

/* Message for the last nonzero return on this thread ("" if none). */
FMSMI_SEPCONV_API const char* fmsmi_sepconv_last_error(void);

/* e.g. "fmsmi_sepconv_cpu 1 (avx2 dispatch, 2 threads)". The environment variable
 * FMSMI_SEPCONV_ISA=generic forces the portable kernels (read once, at first use). */
FMSMI_SEPCONV_API const char* fmsmi_sepconv_build_info(void);

#ifdef __cplusplus
}
#endif

#endif /* FMSMI_SEPCONV_H */
