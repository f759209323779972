// Row kernels of the CPU library, written once over a SIMD abstraction.
//
// Included by sepconv_kernels_generic.cpp and sepconv_kernels_avx2.cpp inside an unnamed
// namespace after they define:
//   struct Vec   { using R; static constexpr int L; zero, set1, load(float*), load(uint16_t*),
//                  store(float*, R), store(uint16_t*, R), add, sub, mul, fma(a, b, c) = a*b+c,
//                  div, min, max, pow2i(n) = 2^n for integral n in [-126, 127],
//                  Lanes, lanes(int32_t* index, base) = index[0..L) - base, permute(v, lanes) };
//   struct Vec1  the same with L = 1 (column tails), without Lanes/lanes/permute.
// It defines `kKernelTable`.
//
// Forward: source rows are converted once into a ring of replicate-padded fp32 rows, so every
// column is "interior" (contiguous loads, no clamping, any reach) and fp16 input costs one
// conversion per element; kernel taps are interleaved per block of pixels before use.
// Backward works on a replicate-padded copy of the image: gradients of the kernels are
// gathers, the gradient of the padded image is a gather over zero-padded rows, and the caller
// folds the padding back onto the border (the adjoint of the clamp).

#define FMSMI_ALWAYS_INLINE inline __attribute__((always_inline))

static_assert(Vec::L <= kBlockFloats && kBlockFloats % Vec::L == 0, "block size");

struct RingRows {  // padded fp32 source rows of one output row; column index = x + d*j
  const float* const* rows;  // rows[i]: channel 0 of the padded row of tap row i
  int64_t offset;            // x (+ c0 * cstride for a channel chunk)
  int64_t cstride;           // floats between channels of a padded row
  FMSMI_ALWAYS_INLINE const float* row(int i) const { return rows[i] + offset; }
  FMSMI_ALWAYS_INLINE RingRows channel(int c0) const {
    RingRows r = *this;
    r.offset += c0 * cstride;
    return r;
  }
};

// acc[c] = sum_i V_i * sum_j H_j * src(i, c)[j * dilation] for V::L adjacent pixels, where
// tap t of the kernels is at kernel_v / kernel_h + t * kstride. Two partial sums per channel
// (even/odd taps) hide the FMA latency; one pointer per channel keeps the loop in registers.
template <class V, int CC, class TK>
FMSMI_ALWAYS_INLINE void accumulate(const RingRows& rows, const TK* kernel_v, const TK* kernel_h,
                                    int64_t kstride, int taps, int dilation,
                                    typename V::R* acc) {
  using R = typename V::R;
  for (int c = 0; c < CC; ++c) acc[c] = V::zero();
  const TK* vp = kernel_v;
  for (int i = 0; i < taps; ++i, vp += kstride) {
    const float* src[CC];
    src[0] = rows.row(i);
    for (int c = 1; c < CC; ++c) src[c] = src[c - 1] + rows.cstride;
    R even[CC], odd[CC];
    for (int c = 0; c < CC; ++c) even[c] = odd[c] = V::zero();
    const TK* hp = kernel_h;
    for (int pairs = taps >> 1; pairs > 0; --pairs) {
      const R h0 = V::load(hp);
      const R h1 = V::load(hp + kstride);
      hp += 2 * kstride;
      for (int c = 0; c < CC; ++c) {
        even[c] = V::fma(h0, V::load(src[c]), even[c]);
        odd[c] = V::fma(h1, V::load(src[c] + dilation), odd[c]);
        src[c] += 2 * dilation;
      }
    }
    if (taps & 1) {
      const R h0 = V::load(hp);
      for (int c = 0; c < CC; ++c) even[c] = V::fma(h0, V::load(src[c]), even[c]);
    }
    const R v = V::load(vp);
    for (int c = 0; c < CC; ++c) acc[c] = V::fma(v, V::add(even[c], odd[c]), acc[c]);
  }
}

template <class V, int CC, class TK, class TO>
FMSMI_ALWAYS_INLINE void forward_chunk(const RingRows& rows, const TK* kernel_v,
                                       const TK* kernel_h, int64_t kstride, TO* out,
                                       int64_t plane, int taps, int dilation) {
  typename V::R acc[CC];
  accumulate<V, CC>(rows, kernel_v, kernel_h, kstride, taps, dilation, acc);
  for (int c = 0; c < CC; ++c) V::store(out + c * plane, acc[c]);
}

// V::L output pixels, all channels (chunks of up to 4 channels share each kernel load).
template <class V, class TK, class TO>
inline void forward_block(const RingRows& rows, const TK* kernel_v, const TK* kernel_h,
                          int64_t kstride, TO* out, int64_t plane, int channels, int taps,
                          int dilation) {
  int c0 = 0;
  for (; c0 + 4 <= channels; c0 += 4)
    forward_chunk<V, 4>(rows.channel(c0), kernel_v, kernel_h, kstride, out + c0 * plane, plane, taps, dilation);
  TO* o = out + c0 * plane;
  switch (channels - c0) {
    case 3: forward_chunk<V, 3>(rows.channel(c0), kernel_v, kernel_h, kstride, o, plane, taps, dilation); break;
    case 2: forward_chunk<V, 2>(rows.channel(c0), kernel_v, kernel_h, kstride, o, plane, taps, dilation); break;
    case 1: forward_chunk<V, 1>(rows.channel(c0), kernel_v, kernel_h, kstride, o, plane, taps, dilation); break;
    default: break;
  }
}

// The source rows and kernel taps of one output row of one image stream (see ForwardLayout
// in sepconv_kernels.h). Rows are filled as output rows advance; each output row block
// (y0..y1 of one call) starts a fresh ring.
template <class T>
struct RowStream {
  const T* img;       // image n, channel 0
  const T* kernel_v;  // image n, tap 0
  const T* kernel_h;
  const Dims* dims;
  ForwardLayout layout;
  float* ring;
  float* taps_v;  // [block][tap][lane]
  float* taps_h;
  int64_t next_row;  // first source row not in the ring yet

  void init(const T* image, const T* kv, const T* kh, const Dims& d, int64_t n, float* scratch) {
    const int64_t plane = d.h * d.w;
    img = image + n * d.c * plane;
    kernel_v = kv + n * d.taps * plane;
    kernel_h = kh + n * d.taps * plane;
    dims = &d;
    layout = forward_layout(d);
    ring = scratch;
    taps_v = ring + layout.ring_rows * d.c * layout.row_stride;
    taps_h = taps_v + layout.taps_floats;
    next_row = -1;
  }

  float* ring_row(int64_t row) const {
    return ring + (row % layout.ring_rows) * dims->c * layout.row_stride;
  }

  // Makes the source rows of output row y resident and sets rows[i] for each tap row.
  void prepare_rows(int y, const float** rows) {
    const Dims& d = *dims;
    const int h = static_cast<int>(d.h);
    const int w = static_cast<int>(d.w);
    const int64_t lo = clamp_index(y - d.reach, h);
    const int64_t hi = clamp_index(y + d.reach, h);
    for (int64_t row = next_row > lo ? next_row : lo; row <= hi; ++row) {
      for (int64_t c = 0; c < d.c; ++c) {
        const T* src = img + c * d.h * d.w + row * w;
        float* dst = ring_row(row) + c * layout.row_stride;
        const float left = to_float(src[0]);
        const float right = to_float(src[w - 1]);
        for (int k = 0; k < d.reach; ++k) dst[k] = left;
        float* mid = dst + d.reach;
        int x = 0;
        for (; x + Vec::L <= w; x += Vec::L) Vec::store(mid + x, Vec::load(src + x));
        for (; x < w; ++x) mid[x] = to_float(src[x]);
        for (int k = 0; k < d.reach; ++k) mid[w + k] = right;
      }
    }
    if (hi + 1 > next_row) next_row = hi + 1;
    const int radius = (d.taps - 1) / 2;
    for (int i = 0; i < d.taps; ++i) rows[i] = ring_row(clamp_index(y + d.dilation * (i - radius), h));
  }

  // Interleaves the taps of output row y for the full blocks [b0, b1) of kBlockFloats pixels
  // (stored from block 0 of the buffers).
  void prepare_taps(int y, int b0, int b1) {
    const Dims& d = *dims;
    const int64_t plane = d.h * d.w;
    const int64_t first = static_cast<int64_t>(y) * d.w + b0 * kBlockFloats;
    for (int j = 0; j < d.taps; ++j) {
      const T* sv = kernel_v + j * plane + first;
      const T* sh = kernel_h + j * plane + first;
      float* dv = taps_v + j * kBlockFloats;
      float* dh = taps_h + j * kBlockFloats;
      for (int b = b0; b < b1; ++b) {
        for (int l = 0; l < kBlockFloats; l += Vec::L) {
          Vec::store(dv + l, Vec::load(sv + l));
          Vec::store(dh + l, Vec::load(sh + l));
        }
        sv += kBlockFloats;
        sh += kBlockFloats;
        dv += d.taps * kBlockFloats;
        dh += d.taps * kBlockFloats;
      }
    }
  }
};

// Blocks whose interleaved taps are prepared at once: about 8 KiB of taps per image stream,
// so they are still in L1 when the blocks read them.
inline int chunk_blocks(int taps) {
  const int blocks = 8192 / (taps * static_cast<int>(kBlockFloats) * 4 * 2);
  return blocks > 1 ? blocks : 1;
}

constexpr int kMaxTaps = 4095;

// One output row y of one image stream into out (channel stride out_plane).
template <class T, class TO>
void forward_row(RowStream<T>& stream, const float** rows, int y, TO* out, int64_t out_plane) {
  const Dims& dims = *stream.dims;
  const int64_t plane = dims.h * dims.w;
  const int channels = static_cast<int>(dims.c);
  const int w = static_cast<int>(dims.w);
  const int full_blocks = w / static_cast<int>(kBlockFloats);
  const int64_t kblock = dims.taps * kBlockFloats;  // floats per block of interleaved taps
  const int chunk = chunk_blocks(dims.taps);
  const int64_t ro = static_cast<int64_t>(y) * w;
  stream.prepare_rows(y, rows);
  RingRows ring{rows, 0, stream.layout.row_stride};
  for (int b0 = 0; b0 < full_blocks; b0 += chunk) {
    const int b1 = b0 + chunk < full_blocks ? b0 + chunk : full_blocks;
    stream.prepare_taps(y, b0, b1);
    for (int b = b0; b < b1; ++b) {
      const int64_t t = (b - b0) * kblock;
      for (int l = 0; l < kBlockFloats; l += Vec::L) {
        const int x = b * static_cast<int>(kBlockFloats) + l;
        ring.offset = x;
        forward_block<Vec>(ring, stream.taps_v + t + l, stream.taps_h + t + l, kBlockFloats,
                           out + x, out_plane, channels, dims.taps, dims.dilation);
      }
    }
  }
  for (int x = full_blocks * static_cast<int>(kBlockFloats); x < w; ++x) {
    ring.offset = x;
    forward_block<Vec1>(ring, stream.kernel_v + ro + x, stream.kernel_h + ro + x, plane,
                        out + x, out_plane, channels, dims.taps, dims.dilation);
  }
}

template <class T>
void forward_rows(const T* img, const T* kernel_v, const T* kernel_h, T* out, const Dims& dims,
                  int64_t n, int y0, int y1, float* scratch) {
  RowStream<T> stream;
  stream.init(img, kernel_v, kernel_h, dims, n, scratch);
  const int64_t plane = dims.h * dims.w;
  out += n * dims.c * plane;
  const float* rows[kMaxTaps];
  for (int y = y0; y < y1; ++y) forward_row(stream, rows, y, out + y * dims.w, plane);
}

void forward_rows_f32(const float* img, const float* kernel_v, const float* kernel_h, float* out,
                      const Dims& dims, int64_t n, int y0, int y1, float* scratch) {
  forward_rows(img, kernel_v, kernel_h, out, dims, n, y0, y1, scratch);
}

void forward_rows_f16(const uint16_t* img, const uint16_t* kernel_v, const uint16_t* kernel_h,
                      uint16_t* out, const Dims& dims, int64_t n, int y0, int y1,
                      float* scratch) {
  forward_rows(img, kernel_v, kernel_h, out, dims, n, y0, y1, scratch);
}

// Fused at row granularity: both streams of a row are synthesized into L1/L2-resident rows
// and blended before the next row, so no full-size intermediate is written or re-read.
// (Fusing per pixel block was measured slower: two streams of rows and taps at once thrash L1.)
void blend_rows_f32(const float* frame0, const float* kernel_v0, const float* kernel_h0,
                    const float* frame1, const float* kernel_v1, const float* kernel_h1,
                    const float* occlusion, float* out, const Dims& dims, int64_t n, int y0,
                    int y1, float* scratch) {
  RowStream<float> stream0;
  RowStream<float> stream1;
  stream0.init(frame0, kernel_v0, kernel_h0, dims, n, scratch);
  stream1.init(frame1, kernel_v1, kernel_h1, dims, n, scratch + stream0.layout.total);
  float* row1 = scratch + 2 * stream0.layout.total;  // [channel][w]
  const int64_t plane = dims.h * dims.w;
  const int w = static_cast<int>(dims.w);
  out += n * dims.c * plane;
  occlusion += n * plane;
  const float* rows[kMaxTaps];
  for (int y = y0; y < y1; ++y) {
    const int64_t ro = static_cast<int64_t>(y) * w;
    forward_row(stream0, rows, y, out + ro, plane);
    forward_row(stream1, rows, y, row1, dims.w);
    const float* o = occlusion + ro;
    for (int64_t c = 0; c < dims.c; ++c) {
      float* dst = out + c * plane + ro;
      const float* other = row1 + c * dims.w;
      int x = 0;
      for (; x + Vec::L <= w; x += Vec::L) {
        const typename Vec::R weight = Vec::load(o + x);
        Vec::store(dst + x, Vec::add(Vec::mul(weight, Vec::load(dst + x)),
                                     Vec::mul(Vec::sub(Vec::set1(1.0f), weight), Vec::load(other + x))));
      }
      for (; x < w; ++x) dst[x] = o[x] * dst[x] + (1.0f - o[x]) * other[x];
    }
  }
}

// ---- backward ---------------------------------------------------------------------------

struct RowGeometry {
  int64_t plane;
  int channels, h, w, taps, dilation, radius, reach;
};

FMSMI_ALWAYS_INLINE RowGeometry row_geometry(const Dims& dims) {
  RowGeometry g;
  g.plane = dims.h * dims.w;
  g.channels = static_cast<int>(dims.c);
  g.h = static_cast<int>(dims.h);
  g.w = static_cast<int>(dims.w);
  g.taps = dims.taps;
  g.dilation = dims.dilation;
  g.radius = (dims.taps - 1) / 2;
  g.reach = dims.reach;
  return g;
}

// Gradients of the kernels for V::L pixels of one row and CC channels:
//   grad_v[i] (+)= sum_c g_c * sum_j H_j * P_c(y + d*i, x + d*j)
//   grad_h[j] (+)= sum_c g_c * V_i * P_c(y + d*i, x + d*j)   summed over i
// padded points at channel c0, padded row y, column x (tap (0, 0)). first: this is the first
// channel chunk, which overwrites grad_v / grad_h instead of adding.
template <class V, int CC>
FMSMI_ALWAYS_INLINE void grad_kernels_chunk(const float* padded, int64_t pplane, int64_t pcols,
                                            const float* kernel_v, const float* kernel_h,
                                            int64_t plane, const float* grad_out,
                                            int64_t gplane, float* grad_v, float* grad_h,
                                            int taps, int dilation, bool first) {
  using R = typename V::R;
  R g[CC];
  for (int c = 0; c < CC; ++c) g[c] = V::load(grad_out + c * gplane);
  if (first) {
    for (int j = 0; j < taps; ++j) V::store(grad_h + j * plane, V::zero());
  }
  for (int i = 0; i < taps; ++i) {
    const float* s = padded + static_cast<int64_t>(i) * dilation * pcols;
    const R v = V::load(kernel_v + i * plane);
    R weighted[CC], even[CC], odd[CC];
    for (int c = 0; c < CC; ++c) {
      weighted[c] = V::mul(v, g[c]);
      even[c] = odd[c] = V::zero();
    }
    const float* hp = kernel_h;
    float* ghp = grad_h;
    int j = 0;
    for (; j + 2 <= taps; j += 2, hp += 2 * plane, ghp += 2 * plane, s += 2 * dilation) {
      const R h0 = V::load(hp);
      const R h1 = V::load(hp + plane);
      R gh0 = V::load(ghp);
      R gh1 = V::load(ghp + plane);
      for (int c = 0; c < CC; ++c) {
        const R p0 = V::load(s + c * pplane);
        const R p1 = V::load(s + c * pplane + dilation);
        even[c] = V::fma(h0, p0, even[c]);
        odd[c] = V::fma(h1, p1, odd[c]);
        gh0 = V::fma(weighted[c], p0, gh0);
        gh1 = V::fma(weighted[c], p1, gh1);
      }
      V::store(ghp, gh0);
      V::store(ghp + plane, gh1);
    }
    if (j < taps) {
      const R h0 = V::load(hp);
      R gh0 = V::load(ghp);
      for (int c = 0; c < CC; ++c) {
        const R p0 = V::load(s + c * pplane);
        even[c] = V::fma(h0, p0, even[c]);
        gh0 = V::fma(weighted[c], p0, gh0);
      }
      V::store(ghp, gh0);
    }
    R gv = first ? V::zero() : V::load(grad_v + i * plane);
    for (int c = 0; c < CC; ++c) gv = V::fma(g[c], V::add(even[c], odd[c]), gv);
    V::store(grad_v + i * plane, gv);
  }
}

// plane: tap stride of the kernels and their gradients; gplane: channel stride of grad_out.
template <class V>
inline void grad_kernels_block(const float* padded, int64_t pplane, int64_t pcols,
                               const float* kernel_v, const float* kernel_h, int64_t plane,
                               const float* grad_out, int64_t gplane, float* grad_v,
                               float* grad_h, int channels, int taps, int dilation) {
  int c0 = 0;
  for (; c0 + 4 <= channels; c0 += 4)
    grad_kernels_chunk<V, 4>(padded + c0 * pplane, pplane, pcols, kernel_v, kernel_h, plane, grad_out + c0 * gplane, gplane, grad_v, grad_h, taps, dilation, c0 == 0);
  const float* p = padded + c0 * pplane;
  const float* go = grad_out + c0 * gplane;
  const bool first = c0 == 0;
  switch (channels - c0) {
    case 3: grad_kernels_chunk<V, 3>(p, pplane, pcols, kernel_v, kernel_h, plane, go, gplane, grad_v, grad_h, taps, dilation, first); break;
    case 2: grad_kernels_chunk<V, 2>(p, pplane, pcols, kernel_v, kernel_h, plane, go, gplane, grad_v, grad_h, taps, dilation, first); break;
    case 1: grad_kernels_chunk<V, 1>(p, pplane, pcols, kernel_v, kernel_h, plane, go, gplane, grad_v, grad_h, taps, dilation, first); break;
    default: break;
  }
}

// Copies taps [tap][x] of one row (tap stride plane) to [block][tap][lane] (and back).
inline void interleave_taps(const float* src, int64_t plane, float* dst, int taps, int blocks) {
  for (int j = 0; j < taps; ++j) {
    const float* s = src + j * plane;
    float* d = dst + j * kBlockFloats;
    for (int b = 0; b < blocks; ++b, s += kBlockFloats, d += taps * kBlockFloats)
      for (int l = 0; l < kBlockFloats; l += Vec::L) Vec::store(d + l, Vec::load(s + l));
  }
}

inline void deinterleave_taps(const float* src, float* dst, int64_t plane, int taps, int blocks) {
  for (int j = 0; j < taps; ++j) {
    const float* s = src + j * kBlockFloats;
    float* d = dst + j * plane;
    for (int b = 0; b < blocks; ++b, s += taps * kBlockFloats, d += kBlockFloats)
      for (int l = 0; l < kBlockFloats; l += Vec::L) Vec::store(d + l, Vec::load(s + l));
  }
}

// grad_padded(row, X..X+L) += sum_j hpad_j[k - d*j] * upad_c[k - d*j], k = X + 2*reach:
// the adjoint of the horizontal pass for one (source row, tap row) pair, as a gather.
// hpad / upad are zero outside the image, so no column is clamped.
template <class V, int CC>
FMSMI_ALWAYS_INLINE void grad_padded_chunk(const float* hpad, const float* upad, int64_t width,
                                           float* grad_padded, int64_t pplane, int taps,
                                           int dilation) {
  using R = typename V::R;
  R even[CC], odd[CC];
  for (int c = 0; c < CC; ++c) even[c] = odd[c] = V::zero();
  const float* hp = hpad;
  const float* up = upad;
  int j = 0;
  for (; j + 2 <= taps; j += 2, hp += 2 * (width - dilation), up -= 2 * dilation) {
    const R h0 = V::load(hp);
    const R h1 = V::load(hp + width - dilation);
    for (int c = 0; c < CC; ++c) {
      even[c] = V::fma(h0, V::load(up + c * width), even[c]);
      odd[c] = V::fma(h1, V::load(up + c * width - dilation), odd[c]);
    }
  }
  if (j < taps) {
    const R h0 = V::load(hp);
    for (int c = 0; c < CC; ++c) even[c] = V::fma(h0, V::load(up + c * width), even[c]);
  }
  for (int c = 0; c < CC; ++c) {
    float* dst = grad_padded + c * pplane;
    V::store(dst, V::add(V::load(dst), V::add(even[c], odd[c])));
  }
}

template <class V>
inline void grad_padded_block(const float* hpad, const float* upad, int64_t width,
                              float* grad_padded, int64_t pplane, int channels, int taps,
                              int dilation) {
  int c0 = 0;
  for (; c0 + 4 <= channels; c0 += 4)
    grad_padded_chunk<V, 4>(hpad, upad + c0 * width, width, grad_padded + c0 * pplane, pplane, taps, dilation);
  const float* u = upad + c0 * width;
  float* gp = grad_padded + c0 * pplane;
  switch (channels - c0) {
    case 3: grad_padded_chunk<V, 3>(hpad, u, width, gp, pplane, taps, dilation); break;
    case 2: grad_padded_chunk<V, 2>(hpad, u, width, gp, pplane, taps, dilation); break;
    case 1: grad_padded_chunk<V, 1>(hpad, u, width, gp, pplane, taps, dilation); break;
    default: break;
  }
}

void backward_rows_f32(const float* padded, const float* kernel_v, const float* kernel_h,
                       const float* grad_out, float* grad_kernel_v, float* grad_kernel_h,
                       float* grad_padded, const Dims& dims, int64_t n, int y0, int y1,
                       float* scratch) {
  const RowGeometry g = row_geometry(dims);
  const int64_t pcols = padded_cols(dims);
  const int64_t pplane = padded_rows(dims) * pcols;
  const int64_t kernels = n * g.taps * g.plane;
  kernel_v += kernels;
  kernel_h += kernels;
  grad_kernel_v += kernels;
  grad_kernel_h += kernels;
  grad_out += n * g.channels * g.plane;
  // Zero-padded rows of one source row: columns [-2*reach, w + 2*reach).
  const int64_t width = g.w + 4 * g.reach;
  const int lead = 2 * g.reach;
  float* hpad = scratch;                                       // [tap j][width]
  float* upad = scratch + static_cast<int64_t>(g.taps) * width;  // [channel][width]
  // Taps of the current row and their gradients, [block][tap][lane] (see ForwardLayout).
  const int blocks = g.w / static_cast<int>(kBlockFloats);
  const int64_t kblock = g.taps * kBlockFloats;
  float* taps_v = upad + static_cast<int64_t>(g.channels) * width;
  float* taps_h = taps_v + blocks * kblock;
  float* grad_v = taps_h + blocks * kblock;
  float* grad_h = grad_v + blocks * kblock;
  for (int y = y0; y < y1; ++y) {
    const int64_t ro = static_cast<int64_t>(y) * g.w;
    // Kernel gradients: gathers over the padded image.
    const float* prow = padded + static_cast<int64_t>(y) * pcols;
    interleave_taps(kernel_v + ro, g.plane, taps_v, g.taps, blocks);
    interleave_taps(kernel_h + ro, g.plane, taps_h, g.taps, blocks);
    for (int b = 0; b < blocks; ++b) {
      for (int l = 0; l < kBlockFloats; l += Vec::L) {
        const int x = b * static_cast<int>(kBlockFloats) + l;
        const int64_t t = b * kblock + l;
        grad_kernels_block<Vec>(prow + x, pplane, pcols, taps_v + t, taps_h + t, kBlockFloats, grad_out + ro + x, g.plane, grad_v + t, grad_h + t, g.channels, g.taps, g.dilation);
      }
    }
    deinterleave_taps(grad_v, grad_kernel_v + ro, g.plane, g.taps, blocks);
    deinterleave_taps(grad_h, grad_kernel_h + ro, g.plane, g.taps, blocks);
    for (int x = blocks * static_cast<int>(kBlockFloats); x < g.w; ++x)
      grad_kernels_block<Vec1>(prow + x, pplane, pcols, kernel_v + ro + x, kernel_h + ro + x, g.plane, grad_out + ro + x, g.plane, grad_kernel_v + ro + x, grad_kernel_h + ro + x, g.channels, g.taps, g.dilation);

    // Image gradient: row y contributes to padded rows y + d*i.
    for (int j = 0; j < g.taps; ++j) {
      float* dst = hpad + j * width;
      const float* src = kernel_h + j * g.plane + ro;
      for (int k = 0; k < lead; ++k) dst[k] = 0.0f;
      for (int k = 0; k < g.w; ++k) dst[lead + k] = src[k];
      for (int k = lead + g.w; k < width; ++k) dst[k] = 0.0f;
    }
    for (int i = 0; i < g.taps; ++i) {
      const float* v = kernel_v + i * g.plane + ro;
      for (int c = 0; c < g.channels; ++c) {
        float* dst = upad + c * width;
        const float* go = grad_out + c * g.plane + ro;
        for (int k = 0; k < lead; ++k) dst[k] = 0.0f;
        for (int k = 0; k < g.w; ++k) dst[lead + k] = v[k] * go[k];
        for (int k = lead + g.w; k < width; ++k) dst[k] = 0.0f;
      }
      float* grow = grad_padded + static_cast<int64_t>(y + g.dilation * i) * pcols;
      int px = 0;
      // Column px of the padded gradient reads tap j at k = px + 2*reach - d*j.
      for (; px + Vec::L <= pcols; px += Vec::L)
        grad_padded_block<Vec>(hpad + px + lead, upad + px + lead, width, grow + px, pplane, g.channels, g.taps, g.dilation);
      for (; px < pcols; ++px)
        grad_padded_block<Vec1>(hpad + px + lead, upad + px + lead, width, grow + px, pplane, g.channels, g.taps, g.dilation);
    }
  }
}

// ---- fused synthesis --------------------------------------------------------------------

#include "synthesis_kernels_impl.h"

const KernelTable kKernelTable = {kIsaName, forward_rows_f32, forward_rows_f16, blend_rows_f32,
                                  backward_rows_f32, synthesis_rows_f32};
