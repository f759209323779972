// fmsmi_planar_to_packed_u8: a synthesized frame (planar fp32) to the packed uint8 pixels the
// display and the encoder take, in one pass. The PyTorch composition (mul, add, clamp, cast,
// permute + contiguous copy, then an RGBA copy for the display) reads and writes the frame
// five to six times.
#include <stdint.h>

#include <algorithm>

#include "fmsmi_sepconv.h"

namespace {

inline uint8_t to_u8(float x) {
  const float scaled = x * 255.0f + 0.5f;
  // clamp as torch.clamp_(0, 255) (NaN stays NaN and is sent to 0), then truncate
  return static_cast<uint8_t>(scaled >= 255.0f ? 255.0f : (scaled > 0.0f ? scaled : 0.0f));
}

}  // namespace

int fmsmi_planar_to_packed_u8(const float* planar, uint8_t* packed, int64_t c, int64_t h, int64_t w,
                              int64_t k) {
  if (!planar || !packed || c < 1 || h < 1 || w < 1 || (k != c && k != c + 1)) return FMSMI_SEPCONV_INVALID_ARGUMENT;
  const int64_t plane = h * w;
  if (c == 3) {
    const float* r = planar;
    const float* g = planar + plane;
    const float* b = planar + 2 * plane;
    if (k == 4) {
      for (int64_t i = 0; i < plane; ++i) {
        uint8_t* out = packed + 4 * i;
        out[0] = to_u8(r[i]);
        out[1] = to_u8(g[i]);
        out[2] = to_u8(b[i]);
        out[3] = 255;
      }
    } else {
      for (int64_t i = 0; i < plane; ++i) {
        uint8_t* out = packed + 3 * i;
        out[0] = to_u8(r[i]);
        out[1] = to_u8(g[i]);
        out[2] = to_u8(b[i]);
      }
    }
    return FMSMI_SEPCONV_OK;
  }
  for (int64_t i = 0; i < plane; ++i) {
    uint8_t* out = packed + k * i;
    for (int64_t channel = 0; channel < c; ++channel) out[channel] = to_u8(planar[channel * plane + i]);
    if (k > c) out[c] = 255;
  }
  return FMSMI_SEPCONV_OK;
}
