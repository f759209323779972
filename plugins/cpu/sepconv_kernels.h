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

}  // namespace

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
};

const KernelTable& generic_kernels();
#if defined(__x86_64__) || defined(__i386__)
const KernelTable& avx2_kernels();
#endif

// Per-thread scratch sizes in floats.
int64_t forward_scratch_floats(const Dims& dims);  // forward_layout(dims).total
int64_t backward_scratch_floats(const Dims& dims);

}  // namespace cpu
}  // namespace fmsmi

#endif  // FMSMI_CPU_SEPCONV_KERNELS_H
