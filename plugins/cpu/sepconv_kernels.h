// Row kernels of the CPU library, one table per instruction set (generic, AVX2+FMA+F16C).
// The API (sepconv_api.cpp) validates arguments, splits work over the thread pool and picks
// a table at load time; the kernels only compute.
#ifndef FMSMI_CPU_SEPCONV_KERNELS_H
#define FMSMI_CPU_SEPCONV_KERNELS_H

#include <stdint.h>

namespace fmsmi {
namespace cpu {

// Plain data only: this header is compiled into translation units for different instruction
// sets, so it defines no inline functions with external linkage (see sepconv_math.h).
struct Dims {
  int64_t n, c, h, w;
  int taps, dilation;
  int reach;  // dilation * (taps - 1) / 2
};

namespace {

// Backward works on the replicate-padded image: rows h + 2*reach, columns w + 2*reach.
inline int64_t padded_rows(const Dims& d) { return d.h + 2 * d.reach; }
inline int64_t padded_cols(const Dims& d) { return d.w + 2 * d.reach; }

// Forward scratch of one image stream (per thread): a ring of replicate-padded fp32 image
// rows (the source rows of consecutive output rows overlap, so each is converted once per
// row block) and the kernel taps of the current output row, interleaved per block of
// kBlockFloats pixels ([block][tap][lane]) so the tap loop reads contiguous memory. N*F*H*W
// planes are often a multiple of 4 KiB apart (640x360, 1280x720): read in place, the F taps
// of a pixel all fall in one L1 set and evict each other.
constexpr int64_t kBlockFloats = 8;

struct ForwardLayout {
  int64_t ring_rows;    // min(2*reach + 1, h) padded rows, each channels * row_stride floats
  int64_t row_stride;   // floats per padded channel row (>= w + 2*reach, not a 4 KiB multiple)
  int64_t taps_floats;  // taps * (w rounded up to kBlockFloats): one of kernel_v / kernel_h
  int64_t total;        // ring + kernel_v taps + kernel_h taps
};

inline ForwardLayout forward_layout(const Dims& d) {
  ForwardLayout layout;
  layout.ring_rows = 2 * d.reach + 1 < d.h ? 2 * d.reach + 1 : d.h;
  layout.row_stride = (d.w + 2 * d.reach + 15) / 16 * 16 + 16;
  if ((layout.row_stride * 4) % 4096 == 0) layout.row_stride += 16;
  layout.taps_floats = d.taps * ((d.w + kBlockFloats - 1) / kBlockFloats * kBlockFloats);
  layout.total = layout.ring_rows * d.c * layout.row_stride + 2 * layout.taps_floats + 16;
  return layout;
}

// Fused synthesis scratch (per thread): the forward streams of frame0 and frame1 (ring + taps
// each, as above), two rows of `raw` resampled along x (all 4F+1 channels; consecutive output
// rows share them) and one row of frame1's synthesis ([channel][row_stride]).
struct SynthesisLayout {
  int64_t stream;      // forward_layout(d).total
  int64_t row_stride;  // floats per channel of a resampled row or of frame1's row
  int64_t resampled;   // one resampled row: (4 * taps + 1) * row_stride
  int64_t total;       // 2 * stream + 2 * resampled + c * row_stride
};

inline SynthesisLayout synthesis_layout(const Dims& d) {
  SynthesisLayout layout;
  layout.stream = forward_layout(d).total;
  layout.row_stride = (d.w + 15) / 16 * 16 + 16;
  if ((layout.row_stride * 4) % 4096 == 0) layout.row_stride += 16;
  layout.resampled = (4 * static_cast<int64_t>(d.taps) + 1) * layout.row_stride;
  layout.total = 2 * layout.stream + 2 * layout.resampled + d.c * layout.row_stride;
  return layout;
}

}  // namespace

// Bilinear resampling along one axis, as torch.nn.functional.interpolate(mode="bilinear",
// align_corners=False) computes it: out[i] = in[index0[i]] * weight0[i] + in[index1[i]] * weight1[i].
// identity: the sizes are equal (index0 = index1 = i, weights 1 and 0; callers copy instead).
struct BilinearAxis {
  const int32_t* index0;
  const int32_t* index1;
  const float* weight0;
  const float* weight1;
  bool identity;
};

// Fused synthesis (fmsmi_synthesis_forward_f32): frames (N,C,H,W) with dims = {N, C, H, W, F,
// d, reach}, raw (N, 4F+1, raw_h, raw_w) resampled to (H, W) by `rows` (H entries) and `cols`
// (W entries).
struct SynthesisArgs {
  const float* frame0;
  const float* frame1;
  const float* raw;
  float* out;
  Dims dims;
  int64_t raw_h, raw_w;
  BilinearAxis rows, cols;
};

struct KernelTable {
  const char* name;
  // Forward rows [y0, y1) of image n. scratch: forward_scratch_floats(dims) floats.
  void (*forward_f32)(const float* img, const float* kernel_v, const float* kernel_h, float* out,
                      const Dims& dims, int64_t n, int y0, int y1, float* scratch);
  void (*forward_f16)(const uint16_t* img, const uint16_t* kernel_v, const uint16_t* kernel_h,
                      uint16_t* out, const Dims& dims, int64_t n, int y0, int y1, float* scratch);
  // Fused O*sep(frame0) + (1-O)*sep(frame1); scratch: 2 * forward_scratch_floats(dims) + c * w.
  void (*blend_f32)(const float* frame0, const float* kernel_v0, const float* kernel_h0,
                    const float* frame1, const float* kernel_v1, const float* kernel_h1,
                    const float* occlusion, float* out, const Dims& dims, int64_t n, int y0,
                    int y1, float* scratch);
  // Backward source rows [y0, y1) of image n. padded: the replicate-padded image n
  // (C, padded_rows, padded_cols). Writes grad_kernel_v/h of those rows and accumulates
  // (+=) into grad_padded (C, padded_rows, padded_cols). scratch: backward_scratch_floats(dims).
  void (*backward_rows)(const float* padded, const float* kernel_v, const float* kernel_h,
                        const float* grad_out, float* grad_kernel_v, float* grad_kernel_h,
                        float* grad_padded, const Dims& dims, int64_t n, int y0, int y1,
                        float* scratch);
  // Fused synthesis, output rows [y0, y1) of image n. scratch: synthesis_scratch_floats(dims).
  void (*synthesis_f32)(const SynthesisArgs& args, int64_t n, int y0, int y1, float* scratch);
};

const KernelTable& generic_kernels();
#if defined(__x86_64__) || defined(__i386__)
const KernelTable& avx2_kernels();
#endif

// Per-thread scratch sizes in floats.
int64_t forward_scratch_floats(const Dims& dims);  // forward_layout(dims).total
int64_t backward_scratch_floats(const Dims& dims);
int64_t synthesis_scratch_floats(const Dims& dims);  // synthesis.cpp

// Fills `axis` (arrays of out_size entries) for resampling in_size samples to out_size.
void bilinear_axis(int64_t in_size, int64_t out_size, int32_t* index0, int32_t* index1,
                   float* weight0, float* weight1, BilinearAxis* axis);  // synthesis.cpp

}  // namespace cpu
}  // namespace fmsmi

#endif  // FMSMI_CPU_SEPCONV_KERNELS_H
