// C ABI of the CPU library: argument checks, ISA dispatch, work split over the thread pool.
#include "fmsmi_sepconv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <new>
#include <string>
#include <vector>

#include "sepconv_kernels.h"
#include "sepconv_math.h"
#include "thread_pool.h"

namespace fmsmi {
namespace cpu {
namespace {

constexpr int kVersion = 1;
constexpr int64_t kMaxCoordinate = int64_t{1} << 30;  // keeps int pixel math far from overflow

thread_local std::string t_last_error;

int fail(int code, std::string message) {
  t_last_error = std::move(message);
  return code;
}

// ---- dispatch ---------------------------------------------------------------------------

const KernelTable& select_kernels() {
  const char* forced = getenv("FMSMI_SEPCONV_ISA");
  if (forced != nullptr && strcmp(forced, "generic") == 0) return generic_kernels();
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
      __builtin_cpu_supports("f16c")) {
    return avx2_kernels();
  }
#endif
  return generic_kernels();
}

const KernelTable& kernels() {
  static const KernelTable& table = select_kernels();
  return table;
}

// ---- arguments --------------------------------------------------------------------------

struct Pointer {
  const char* name;
  const void* value;
};

int check(std::initializer_list<Pointer> pointers, int64_t n, int64_t c, int64_t h, int64_t w,
          int64_t taps, int64_t dilation, int threads, Dims* dims) {
  t_last_error.clear();
  char message[256];
  for (const Pointer& p : pointers) {
    if (p.value == nullptr) {
      snprintf(message, sizeof message, "%s=NULL: expected a pointer to a contiguous tensor", p.name);
      return fail(FMSMI_SEPCONV_INVALID_ARGUMENT, message);
    }
  }
  const struct {
    const char* name;
    int64_t value;
  } sizes[] = {{"n", n}, {"c", c}, {"h", h}, {"w", w}};
  for (const auto& s : sizes) {
    if (s.value < 1 || s.value > kMaxCoordinate) {
      snprintf(message, sizeof message, "%s=%lld: expected 1 <= %s <= %lld", s.name,
               static_cast<long long>(s.value), s.name, static_cast<long long>(kMaxCoordinate));
      return fail(FMSMI_SEPCONV_INVALID_ARGUMENT, message);
    }
  }
  if (taps < 1 || taps % 2 == 0 || taps > 4095) {
    snprintf(message, sizeof message, "taps=%lld: expected an odd kernel size, 1 <= taps <= 4095",
             static_cast<long long>(taps));
    return fail(FMSMI_SEPCONV_INVALID_ARGUMENT, message);
  }
  if (dilation < 1 || dilation > 65535) {
    snprintf(message, sizeof message, "dilation=%lld: expected 1 <= dilation <= 65535",
             static_cast<long long>(dilation));
    return fail(FMSMI_SEPCONV_INVALID_ARGUMENT, message);
  }
  if (threads < 0) {
    snprintf(message, sizeof message, "threads=%d: expected >= 0 (0 = all hardware threads)", threads);
    return fail(FMSMI_SEPCONV_INVALID_ARGUMENT, message);
  }
  const int64_t reach = dilation * ((taps - 1) / 2);
  int64_t elements = 0;
  if (h + 4 * reach > kMaxCoordinate || w + 4 * reach > kMaxCoordinate ||
      __builtin_mul_overflow(n * std::max(c, taps), h * w, &elements)) {
    snprintf(message, sizeof message,
             "n=%lld c=%lld h=%lld w=%lld taps=%lld dilation=%lld: tensor too large",
             static_cast<long long>(n), static_cast<long long>(c), static_cast<long long>(h),
             static_cast<long long>(w), static_cast<long long>(taps),
             static_cast<long long>(dilation));
    return fail(FMSMI_SEPCONV_INVALID_ARGUMENT, message);
  }
  *dims = Dims{n, c, h, w, static_cast<int>(taps), static_cast<int>(dilation),
               static_cast<int>(reach)};
  return FMSMI_SEPCONV_OK;
}

// The synthesis' low-resolution prediction (N, 4F+1, raw_h, raw_w); n and taps already checked.
int check_raw(int64_t n, int64_t raw_h, int64_t raw_w, int64_t taps) {
  char message[256];
  const struct {
    const char* name;
    int64_t value;
  } sizes[] = {{"raw_h", raw_h}, {"raw_w", raw_w}};
  for (const auto& s : sizes) {
    if (s.value < 1 || s.value > kMaxCoordinate) {
      snprintf(message, sizeof message, "%s=%lld: expected 1 <= %s <= %lld", s.name,
               static_cast<long long>(s.value), s.name, static_cast<long long>(kMaxCoordinate));
      return fail(FMSMI_SEPCONV_INVALID_ARGUMENT, message);
    }
  }
  int64_t elements = 0;
  if (__builtin_mul_overflow(n * (4 * taps + 1), raw_h * raw_w, &elements)) {
    snprintf(message, sizeof message, "n=%lld taps=%lld raw_h=%lld raw_w=%lld: raw too large",
             static_cast<long long>(n), static_cast<long long>(taps),
             static_cast<long long>(raw_h), static_cast<long long>(raw_w));
    return fail(FMSMI_SEPCONV_INVALID_ARGUMENT, message);
  }
  return FMSMI_SEPCONV_OK;
}

// Per-thread scratch, grown on demand and kept between calls.
float* thread_scratch(int64_t floats) {
  thread_local std::vector<float> scratch;
  if (static_cast<int64_t>(scratch.size()) < floats) scratch.resize(static_cast<size_t>(floats));
  return scratch.data();
}

// Splits N*H rows into blocks of whole rows for `threads` threads (about 8 blocks each).
struct RowBlocks {
  int64_t rows, block, count;
  RowBlocks(const Dims& dims, int threads) {
    rows = dims.n * dims.h;
    block = std::max<int64_t>(1, (rows + threads * 8 - 1) / (threads * 8));
    count = (rows + block - 1) / block;
  }
  // Calls body(n, y0, y1) for the rows of block `item`, split at image boundaries.
  template <class F>
  void visit(const Dims& dims, int64_t item, F&& body) const {
    int64_t first = item * block;
    const int64_t last = std::min(rows, first + block);
    while (first < last) {
      const int64_t n = first / dims.h;
      const int64_t y0 = first % dims.h;
      const int64_t y1 = std::min<int64_t>(dims.h, y0 + (last - first));
      body(n, static_cast<int>(y0), static_cast<int>(y1));
      first += y1 - y0;
    }
  }
};

template <class F>
int run_rows(const Dims& dims, int threads, F&& body) {
  const int count = resolve_threads(threads);
  const RowBlocks blocks(dims, count);
  bool ok;
  try {
    ok = ThreadPool::instance().parallel_for(count, blocks.count, [&](int64_t item, int) {
      blocks.visit(dims, item, body);
    });
  } catch (const std::bad_alloc&) {
    return fail(FMSMI_SEPCONV_OUT_OF_MEMORY, "out of memory");
  } catch (const std::exception& error) {
    return fail(FMSMI_SEPCONV_INTERNAL_ERROR, error.what());
  }
  if (!ok) return fail(FMSMI_SEPCONV_OUT_OF_MEMORY, "out of memory (scratch buffer)");
  return FMSMI_SEPCONV_OK;
}

template <class T, class RowsFn>
int forward(const T* img, const T* kernel_v, const T* kernel_h, T* out, int64_t n, int64_t c,
            int64_t h, int64_t w, int64_t taps, int64_t dilation, int threads, RowsFn rows_fn) {
  Dims dims;
  const int status = check({{"img", img}, {"kernel_v", kernel_v}, {"kernel_h", kernel_h}, {"out", out}},
                           n, c, h, w, taps, dilation, threads, &dims);
  if (status != FMSMI_SEPCONV_OK) return status;
  const int64_t scratch_floats = forward_scratch_floats(dims);
  return run_rows(dims, threads, [&](int64_t image, int y0, int y1) {
    rows_fn(img, kernel_v, kernel_h, out, dims, image, y0, y1, thread_scratch(scratch_floats));
  });
}

// The shared header's per-pixel function over rows [y0, y1) of image n.
template <class T>
void scalar_rows(const T* img, const T* kernel_v, const T* kernel_h, T* out, const Dims& dims,
                 int64_t n, int y0, int y1, float*) {
  const int64_t plane = dims.h * dims.w;
  const T* image = img + n * dims.c * plane;
  const T* v = kernel_v + n * dims.taps * plane;
  const T* hk = kernel_h + n * dims.taps * plane;
  T* o = out + n * dims.c * plane;
  for (int y = y0; y < y1; ++y) {
    for (int x = 0; x < static_cast<int>(dims.w); ++x) {
      sepconv_pixel(image, v, hk, o, static_cast<int>(dims.c), static_cast<int>(dims.h),
                    static_cast<int>(dims.w), dims.taps, dims.dilation, y, x);
    }
  }
}

// ---- backward ---------------------------------------------------------------------------

// padded[c][Y][X] = img[c][clamp(Y - reach)][clamp(X - reach)] for padded rows [r0, r1).
void pad_rows(const float* img, float* padded, const Dims& dims, int64_t channel, int64_t r0,
              int64_t r1) {
  const int64_t pcols = padded_cols(dims);
  const int h = static_cast<int>(dims.h);
  const int w = static_cast<int>(dims.w);
  const float* src_plane = img + channel * dims.h * dims.w;
  float* dst_plane = padded + channel * padded_rows(dims) * pcols;
  for (int64_t row = r0; row < r1; ++row) {
    const float* src = src_plane + static_cast<int64_t>(clamp_index(static_cast<int>(row) - dims.reach, h)) * w;
    float* dst = dst_plane + row * pcols;
    const float left = src[0];
    const float right = src[w - 1];
    for (int k = 0; k < dims.reach; ++k) dst[k] = left;
    memcpy(dst + dims.reach, src, sizeof(float) * static_cast<size_t>(w));
    for (int64_t k = dims.reach + w; k < pcols; ++k) dst[k] = right;
  }
}

// grad_img row yy of one channel = clamp adjoint of the padded gradients (summed over
// `buffers` per-thread copies, each (C, padded rows, cols)); the rows read are zeroed.
void fold_row(float* const* buffers, int buffer_count, float* grad_img, const Dims& dims,
              int64_t channel, int yy, float* row_sum) {
  const int64_t pcols = padded_cols(dims);
  const int64_t prows = padded_rows(dims);
  const int64_t pplane = prows * pcols;
  const int64_t first = yy == 0 ? 0 : yy + dims.reach;
  const int64_t last = yy == dims.h - 1 ? prows : yy + dims.reach + 1;
  for (int64_t k = 0; k < pcols; ++k) row_sum[k] = 0.0f;
  for (int b = 0; b < buffer_count; ++b) {
    for (int64_t row = first; row < last; ++row) {
      float* src = buffers[b] + channel * pplane + row * pcols;
      for (int64_t k = 0; k < pcols; ++k) row_sum[k] += src[k];
      memset(src, 0, sizeof(float) * static_cast<size_t>(pcols));
    }
  }
  const int w = static_cast<int>(dims.w);
  float* dst = grad_img + channel * dims.h * dims.w + static_cast<int64_t>(yy) * w;
  for (int x = 0; x < w; ++x) dst[x] = row_sum[x + dims.reach];
  for (int k = 0; k < dims.reach; ++k) dst[0] += row_sum[k];
  for (int64_t k = dims.reach + w; k < pcols; ++k) dst[w - 1] += row_sum[k];
}

int backward(const float* img, const float* kernel_v, const float* kernel_h,
             const float* grad_out, float* grad_img, float* grad_kernel_v,
             float* grad_kernel_h, const Dims& dims, int threads) {
  const KernelTable& table = kernels();
  const int count = resolve_threads(threads);
  const int64_t pplane = padded_rows(dims) * padded_cols(dims);
  const int64_t image_floats = dims.c * pplane;
  const int64_t plane = dims.h * dims.w;
  const int64_t scratch_floats = backward_scratch_floats(dims) + padded_cols(dims);
  ThreadPool& pool = ThreadPool::instance();
  bool ok = true;
  if (dims.n >= count && (dims.n % count == 0 || dims.n >= 3 * count)) {
    // Whole images per task: padded image and its gradient are private to the thread.
    std::vector<float> buffers(static_cast<size_t>(2 * image_floats * count), 0.0f);
    ok = pool.parallel_for(count, dims.n, [&](int64_t n, int t) {
      float* padded = buffers.data() + 2 * image_floats * t;
      float* grad_padded = padded + image_floats;
      float* scratch = thread_scratch(scratch_floats);
      for (int64_t ch = 0; ch < dims.c; ++ch) pad_rows(img + n * dims.c * plane, padded, dims, ch, 0, padded_rows(dims));
      table.backward_rows(padded, kernel_v, kernel_h, grad_out, grad_kernel_v, grad_kernel_h,
                          grad_padded, dims, n, 0, static_cast<int>(dims.h), scratch);
      float* image_grad = grad_img + n * dims.c * plane;
      float* const list[1] = {grad_padded};
      for (int64_t ch = 0; ch < dims.c; ++ch)
        for (int yy = 0; yy < dims.h; ++yy)
          fold_row(list, 1, image_grad, dims, ch, yy, scratch + backward_scratch_floats(dims));
    });
    return ok ? FMSMI_SEPCONV_OK : fail(FMSMI_SEPCONV_OUT_OF_MEMORY, "out of memory (scratch buffer)");
  }
  // Few images: per image, rows split over threads, one padded gradient per thread, summed.
  std::vector<float> padded(static_cast<size_t>(image_floats));
  std::vector<float> grads(static_cast<size_t>(image_floats * count), 0.0f);
  std::vector<float*> grad_list(static_cast<size_t>(count));
  for (int t = 0; t < count; ++t) grad_list[t] = grads.data() + image_floats * t;
  const int64_t prows = padded_rows(dims);
  for (int64_t n = 0; n < dims.n && ok; ++n) {
    ok = pool.parallel_for(count, dims.c * prows, [&](int64_t item, int) {
      pad_rows(img + n * dims.c * plane, padded.data(), dims, item / prows, item % prows, item % prows + 1);
    });
    const int64_t block = std::max<int64_t>(1, dims.h / (count * 8));
    const int64_t blocks = (dims.h + block - 1) / block;
    ok = ok && pool.parallel_for(count, blocks, [&](int64_t item, int t) {
      const int y0 = static_cast<int>(item * block);
      const int y1 = static_cast<int>(std::min<int64_t>(dims.h, y0 + block));
      table.backward_rows(padded.data(), kernel_v, kernel_h, grad_out, grad_kernel_v,
                          grad_kernel_h, grad_list[t], dims, n, y0, y1,
                          thread_scratch(scratch_floats));
    });
    ok = ok && pool.parallel_for(count, dims.c * dims.h, [&](int64_t item, int) {
      fold_row(grad_list.data(), count, grad_img + n * dims.c * plane, dims, item / dims.h,
               static_cast<int>(item % dims.h),
               thread_scratch(scratch_floats) + backward_scratch_floats(dims));
    });
  }
  return ok ? FMSMI_SEPCONV_OK : fail(FMSMI_SEPCONV_OUT_OF_MEMORY, "out of memory (scratch buffer)");
}

}  // namespace
}  // namespace cpu
}  // namespace fmsmi

using fmsmi::cpu::Dims;

extern "C" {

int fmsmi_sepconv_forward_f32(const float* img, const float* kernel_v, const float* kernel_h,
                              float* out, int64_t n, int64_t c, int64_t h, int64_t w,
                              int64_t taps, int64_t dilation, int threads) {
  return fmsmi::cpu::forward(img, kernel_v, kernel_h, out, n, c, h, w, taps, dilation, threads,
                             fmsmi::cpu::kernels().forward_f32);
}

int fmsmi_sepconv_forward_f16(const uint16_t* img, const uint16_t* kernel_v,
                              const uint16_t* kernel_h, uint16_t* out, int64_t n, int64_t c,
                              int64_t h, int64_t w, int64_t taps, int64_t dilation, int threads) {
  return fmsmi::cpu::forward(img, kernel_v, kernel_h, out, n, c, h, w, taps, dilation, threads,
                             fmsmi::cpu::kernels().forward_f16);
}

int fmsmi_sepconv_forward_scalar_f32(const float* img, const float* kernel_v,
                                     const float* kernel_h, float* out, int64_t n, int64_t c,
                                     int64_t h, int64_t w, int64_t taps, int64_t dilation,
                                     int threads) {
  return fmsmi::cpu::forward(img, kernel_v, kernel_h, out, n, c, h, w, taps, dilation, threads,
                             fmsmi::cpu::scalar_rows<float>);
}

int fmsmi_sepconv_forward_scalar_f16(const uint16_t* img, const uint16_t* kernel_v,
                                     const uint16_t* kernel_h, uint16_t* out, int64_t n,
                                     int64_t c, int64_t h, int64_t w, int64_t taps,
                                     int64_t dilation, int threads) {
  return fmsmi::cpu::forward(img, kernel_v, kernel_h, out, n, c, h, w, taps, dilation, threads,
                             fmsmi::cpu::scalar_rows<uint16_t>);
}

int fmsmi_sepconv_blend_forward_f32(const float* frame0, const float* kernel_v0,
                                    const float* kernel_h0, const float* frame1,
                                    const float* kernel_v1, const float* kernel_h1,
                                    const float* occlusion, float* out, int64_t n, int64_t c,
                                    int64_t h, int64_t w, int64_t taps, int64_t dilation,
                                    int threads) {
  using namespace fmsmi::cpu;
  Dims dims;
  const int status = check({{"frame0", frame0}, {"kernel_v0", kernel_v0}, {"kernel_h0", kernel_h0},
                            {"frame1", frame1}, {"kernel_v1", kernel_v1}, {"kernel_h1", kernel_h1},
                            {"occlusion", occlusion}, {"out", out}},
                           n, c, h, w, taps, dilation, threads, &dims);
  if (status != FMSMI_SEPCONV_OK) return status;
  const int64_t scratch_floats = 2 * forward_scratch_floats(dims) + dims.c * dims.w;
  const KernelTable& table = kernels();
  return run_rows(dims, threads, [&](int64_t image, int y0, int y1) {
    table.blend_f32(frame0, kernel_v0, kernel_h0, frame1, kernel_v1, kernel_h1, occlusion, out,
                    dims, image, y0, y1, thread_scratch(scratch_floats));
  });
}

int fmsmi_synthesis_forward_f32(const float* frame0, const float* frame1, const float* raw,
                                float* out, int64_t n, int64_t c, int64_t h, int64_t w,
                                int64_t raw_h, int64_t raw_w, int64_t taps, int64_t dilation,
                                int threads) {
  using namespace fmsmi::cpu;
  Dims dims;
  int status = check({{"frame0", frame0}, {"frame1", frame1}, {"raw", raw}, {"out", out}}, n, c,
                     h, w, taps, dilation, threads, &dims);
  if (status != FMSMI_SEPCONV_OK) return status;
  status = check_raw(n, raw_h, raw_w, taps);
  if (status != FMSMI_SEPCONV_OK) return status;
  SynthesisArgs args{frame0, frame1, raw, out, dims, raw_h, raw_w, {}, {}};
  try {
    // Resampling geometry of every output row and column, computed once.
    std::vector<int32_t> indices(static_cast<size_t>(2 * (h + w)));
    std::vector<float> weights(static_cast<size_t>(2 * (h + w)));
    bilinear_axis(raw_h, h, indices.data(), indices.data() + h, weights.data(),
                  weights.data() + h, &args.rows);
    bilinear_axis(raw_w, w, indices.data() + 2 * h, indices.data() + 2 * h + w,
                  weights.data() + 2 * h, weights.data() + 2 * h + w, &args.cols);
    const int64_t scratch_floats = synthesis_scratch_floats(dims);
    const KernelTable& table = kernels();
    return run_rows(dims, threads, [&](int64_t image, int y0, int y1) {
      table.synthesis_f32(args, image, y0, y1, thread_scratch(scratch_floats));
    });
  } catch (const std::bad_alloc&) {
    return fail(FMSMI_SEPCONV_OUT_OF_MEMORY, "out of memory");
  }
}

int fmsmi_sepconv_backward_f32(const float* img, const float* kernel_v, const float* kernel_h,
                               const float* grad_out, float* grad_img, float* grad_kernel_v,
                               float* grad_kernel_h, int64_t n, int64_t c, int64_t h, int64_t w,
                               int64_t taps, int64_t dilation, int threads) {
  using namespace fmsmi::cpu;
  Dims dims;
  const int status = check({{"img", img}, {"kernel_v", kernel_v}, {"kernel_h", kernel_h},
                            {"grad_out", grad_out}, {"grad_img", grad_img},
                            {"grad_kernel_v", grad_kernel_v}, {"grad_kernel_h", grad_kernel_h}},
                           n, c, h, w, taps, dilation, threads, &dims);
  if (status != FMSMI_SEPCONV_OK) return status;
  try {
    return backward(img, kernel_v, kernel_h, grad_out, grad_img, grad_kernel_v, grad_kernel_h,
                    dims, threads);
  } catch (const std::bad_alloc&) {
    return fail(FMSMI_SEPCONV_OUT_OF_MEMORY, "out of memory");
  } catch (const std::exception& error) {
    return fail(FMSMI_SEPCONV_INTERNAL_ERROR, error.what());
  }
}

const char* fmsmi_sepconv_last_error(void) { return fmsmi::cpu::t_last_error.c_str(); }

const char* fmsmi_sepconv_build_info(void) {
  static const std::string info = [] {
    char text[160];
    snprintf(text, sizeof text, "fmsmi_sepconv_cpu %d (%s dispatch, %d threads)",
             fmsmi::cpu::kVersion, fmsmi::cpu::kernels().name,
             fmsmi::cpu::resolve_threads(0));
    return std::string(text);
  }();
  return info.c_str();
}

}  // extern "C"
