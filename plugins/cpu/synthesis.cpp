// ISA-independent parts of the fused synthesis (fmsmi_synthesis_forward_f32): the bilinear
// resampling geometry, computed once per call for every output row and column, and the
// per-thread scratch size. The row kernels are in synthesis_kernels_impl.h.
#include <math.h>

#include <algorithm>

#include "sepconv_kernels.h"

namespace fmsmi {
namespace cpu {

// PyTorch's upsample_bilinear2d (align_corners=False, no scale_factor), CPU, float:
//   scale = float(in) / out;  src = max(scale * (i + 0.5f) - 0.5f, 0)
//   index0 = min(floor(src), in - 1);  lambda = clamp(src - index0, 0, 1)
//   index1 = index0 + (index0 < in - 1);  weights (1 - lambda, lambda)
// and, for in == out, a plain copy (index0 = index1 = i, weights 1 and 0).
void bilinear_axis(int64_t in_size, int64_t out_size, int32_t* index0, int32_t* index1,
                   float* weight0, float* weight1, BilinearAxis* axis) {
  axis->index0 = index0;
  axis->index1 = index1;
  axis->weight0 = weight0;
  axis->weight1 = weight1;
  axis->identity = in_size == out_size;
  const float scale = static_cast<float>(in_size) / static_cast<float>(out_size);
  for (int64_t i = 0; i < out_size; ++i) {
    if (axis->identity) {
      index0[i] = index1[i] = static_cast<int32_t>(i);
      weight0[i] = 1.0f;
      weight1[i] = 0.0f;
      continue;
    }
    const float source = std::max(scale * (static_cast<float>(i) + 0.5f) - 0.5f, 0.0f);
    const int64_t first = std::min(static_cast<int64_t>(floorf(source)), in_size - 1);
    const float lambda = std::min(std::max(source - static_cast<float>(first), 0.0f), 1.0f);
    index0[i] = static_cast<int32_t>(first);
    index1[i] = static_cast<int32_t>(first + (first < in_size - 1 ? 1 : 0));
    weight0[i] = 1.0f - lambda;
    weight1[i] = lambda;
  }
}

int64_t synthesis_scratch_floats(const Dims& dims) { return synthesis_layout(dims).total; }

}  // namespace cpu
}  // namespace fmsmi
