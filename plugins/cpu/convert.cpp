// fmsmi_planar_to_packed_u8: a synthesized frame (planar fp32) to the packed uint8 pixels the
// display and the encoder take, in one pass. The PyTorch composition (mul, add, clamp, cast,
// permute + contiguous copy, then an RGBA copy for the display) reads and writes the frame
// five to six times.
#include <stddef.h>
#include <stdint.h>

#include <new>
#include <vector>

#include "fmsmi_sepconv.h"

namespace {

// clamp to [low, high] as minss/maxss compute it (branch-free, so the loops vectorize); NaN
// gives low
__attribute__((always_inline)) inline float clamp(float x, float low, float high) {
  const float above = low < x ? x : low;
  return above < high ? above : high;
}

__attribute__((always_inline)) inline float unit(float x) { return clamp(x, 0.0f, 1.0f); }

// a code value: round half up, clamp to [0, 255] (as torch.clamp_(0, 255) after + 0.5, with
// NaN sent to 0), truncate
__attribute__((always_inline)) inline uint8_t code(float x) {
  return static_cast<uint8_t>(static_cast<int32_t>(clamp(x + 0.5f, 0.0f, 255.0f)));
}

inline uint8_t to_u8(float x) { return code(x * 255.0f); }

// The packing loop; Channels / Packed > 0 fix c / k at compile time (RGB and RGBA, 2.5x
// faster than the runtime loop at 640x360), 0 takes them from the arguments.
template <int64_t Channels, int64_t Packed>
void pack(const float* planar, uint8_t* packed, int64_t c, int64_t k, int64_t plane) {
  if (Channels) c = Channels;
  if (Packed) k = Packed;
  for (int64_t i = 0; i < plane; ++i) {
    uint8_t* out = packed + k * i;
    for (int64_t channel = 0; channel < c; ++channel) out[channel] = to_u8(planar[channel * plane + i]);
    if (k > c) out[c] = 255;
  }
}

}  // namespace

int fmsmi_planar_to_packed_u8(const float* planar, uint8_t* packed, int64_t c, int64_t h, int64_t w,
                              int64_t k) {
  if (!planar || !packed || c < 1 || h < 1 || w < 1 || (k != c && k != c + 1)) return FMSMI_SEPCONV_INVALID_ARGUMENT;
  const int64_t plane = h * w;
  if (c == 3 && k == 3)
    pack<3, 3>(planar, packed, c, k, plane);
  else if (c == 3 && k == 4)
    pack<3, 4>(planar, packed, c, k, plane);
  else
    pack<0, 0>(planar, packed, c, k, plane);
  return FMSMI_SEPCONV_OK;
}

// fmsmi_planar_to_yuv420p_u8: a synthesized frame (planar fp32 RGB in [0,1]) straight to the
// encoder's 8-bit 4:2:0 planes, instead of packed RGB bytes and then swscale: one pass, and
// no rounding to 8-bit RGB on the way.
namespace {

struct YuvCoefficients {
  float kr, kg, kb;                   // luma weights of the matrix
  float y_scale, y_offset, c_scale;   // code values: Y' = y_offset + y_scale * Y, C' = 128 + c_scale * C
  float cb, cr;                       // 1 / (2 (1 - kb)), 1 / (2 (1 - kr))
};

// Rows y and y + 1 of the luma plane (y + 1 when it exists) and row y / 2 of the chroma
// planes, in loops the compiler vectorizes (one clamp per loop: with several, GCC leaves the
// loop scalar): each row's channels are clamped into `clamped` (3 x w floats), luma is
// computed from them and their pairs of columns are summed into `pairs` (3 x chroma width).
void yuv_rows(const float* const* channels, int64_t h, int64_t w, int64_t y, uint8_t* luma,
              int64_t luma_stride, uint8_t* cb_plane, uint8_t* cr_plane, int64_t chroma_stride,
              const YuvCoefficients& k, float* clamped, float* pairs) {
  const int rows = y + 1 < h ? 2 : 1;  // an odd last row pairs with itself
  const int64_t chroma_w = (w + 1) / 2, even_w = w / 2;
  for (int64_t i = 0; i < 3 * chroma_w; ++i) pairs[i] = 0.0f;
  const float kr = k.kr, kg = k.kg, kb = k.kb;
  for (int row = 0; row < 2; ++row) {
    const int64_t source = y + (row < rows ? row : 0);
    for (int c = 0; c < 3; ++c) {
      const float* in = channels[c] + source * w;
      float* out = clamped + c * w;
      for (int64_t x = 0; x < w; ++x) out[x] = unit(in[x]);
    }
    const float* r = clamped;
    const float* g = clamped + w;
    const float* b = clamped + 2 * w;
    if (row < rows) {
      uint8_t* out = luma + source * luma_stride;
      const float offset = k.y_offset, scale = k.y_scale;
      for (int64_t x = 0; x < w; ++x) out[x] = code(offset + scale * (kr * r[x] + kg * g[x] + kb * b[x]));
    }
    for (int c = 0; c < 3; ++c) {
      const float* in = clamped + c * w;
      float* sum = pairs + c * chroma_w;
      for (int64_t cx = 0; cx < even_w; ++cx) sum[cx] += in[2 * cx] + in[2 * cx + 1];
      if (chroma_w > even_w) sum[even_w] += 2.0f * in[w - 1];  // an odd last column pairs with itself
    }
  }
  uint8_t* out_cb = cb_plane + (y / 2) * chroma_stride;
  uint8_t* out_cr = cr_plane + (y / 2) * chroma_stride;
  const float* sum_r = pairs;
  const float* sum_g = pairs + chroma_w;
  const float* sum_b = pairs + 2 * chroma_w;
  const float scale = k.c_scale, to_cb = k.cb, to_cr = k.cr;
  for (int64_t cx = 0; cx < chroma_w; ++cx) {
    const float mr = 0.25f * sum_r[cx], mg = 0.25f * sum_g[cx], mb = 0.25f * sum_b[cx];
    const float value = kr * mr + kg * mg + kb * mb;
    out_cb[cx] = code(128.0f + scale * ((mb - value) * to_cb));
    out_cr[cx] = code(128.0f + scale * ((mr - value) * to_cr));
  }
}

}  // namespace

int fmsmi_planar_to_yuv420p_u8(const float* planar, int64_t h, int64_t w, uint8_t* luma, int64_t luma_stride,
                               uint8_t* cb, uint8_t* cr, int64_t chroma_stride, float kr, float kb,
                               int full_range) {
  if (!planar || !luma || !cb || !cr || h < 1 || w < 1 || luma_stride < w || chroma_stride < (w + 1) / 2 ||
      !(kr > 0.0f && kb > 0.0f && kr + kb < 1.0f))
    return FMSMI_SEPCONV_INVALID_ARGUMENT;
  YuvCoefficients k;
  k.kr = kr;
  k.kb = kb;
  k.kg = 1.0f - kr - kb;
  k.y_scale = full_range ? 255.0f : 219.0f;
  k.y_offset = full_range ? 0.0f : 16.0f;
  k.c_scale = full_range ? 255.0f : 224.0f;
  k.cb = 0.5f / (1.0f - kb);
  k.cr = 0.5f / (1.0f - kr);
  const int64_t plane = h * w;
  const float* channels[3] = {planar, planar + plane, planar + 2 * plane};
  try {
    std::vector<float> scratch(static_cast<size_t>(3 * w + 3 * ((w + 1) / 2)));
    for (int64_t y = 0; y < h; y += 2)
      yuv_rows(channels, h, w, y, luma, luma_stride, cb, cr, chroma_stride, k, scratch.data(),
               scratch.data() + 3 * w);
  } catch (const std::bad_alloc&) {
    return FMSMI_SEPCONV_OUT_OF_MEMORY;
  }
  return FMSMI_SEPCONV_OK;
}
