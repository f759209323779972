// Row kernel of the fused synthesis (fmsmi_synthesis_forward_f32), written once over the SIMD
// abstraction. Included by sepconv_kernels_impl.h (so by each ISA translation unit) after the
// forward kernels, whose padded row ring (RowStream), interleaved tap layout and forward_block
// it reuses. For output row y of image n:
//
//   1. the two rows of `raw` that row y interpolates between are resampled along x (all 4F+1
//      channels) into a two-row cache: consecutive output rows share them, so each raw row
//      is resampled about once (x4 upsampling: four output rows per pair);
//   2. per chunk of pixel blocks, the taps u = a * wy0 + b * wy1 (+1 on the centre tap) are
//      written straight into the interleaved [block][tap][lane] layout of forward_block;
//      frame0 is synthesized into the output, frame1 into a row buffer;
//   3. the occlusion logit of the chunk goes through a sigmoid and blends the two.
//
// Nothing image-sized is written but the output. Axes whose sizes match are copied, not
// interpolated (PyTorch's interpolate does the same).

// sigmoid(u) = 1 / (1 + exp(-u)). exp: Cephes' expf (round-to-nearest range reduction,
// degree-6 polynomial, about 1 ulp); its argument is clamped to [-87, 87], beyond which the
// sigmoid is 0 or 1 to float precision anyway.
template <class V>
FMSMI_ALWAYS_INLINE typename V::R sigmoid(typename V::R logit) {
  using R = typename V::R;
  const R one = V::set1(1.0f);
  const R x = V::min(V::max(V::sub(V::zero(), logit), V::set1(-87.0f)), V::set1(87.0f));
  const R magic = V::set1(12582912.0f);  // 1.5 * 2^23: adding it rounds to an integer
  const R n = V::sub(V::fma(x, V::set1(1.44269504088896341f), magic), magic);
  R r = V::fma(n, V::set1(-0.693359375f), x);  // x - n * ln2 in two parts
  r = V::fma(n, V::set1(2.12194440e-4f), r);
  R p = V::set1(1.9875691500e-4f);
  p = V::fma(p, r, V::set1(1.3981999507e-3f));
  p = V::fma(p, r, V::set1(8.3334519073e-3f));
  p = V::fma(p, r, V::set1(4.1665795894e-2f));
  p = V::fma(p, r, V::set1(1.6666665459e-1f));
  p = V::fma(p, r, V::set1(5.0000001201e-1f));
  p = V::fma(p, V::mul(r, r), V::add(r, one));
  return V::div(one, V::add(one, V::mul(p, V::pow2i(n))));
}

// The kernel maps of one output row, resampled: u[k][x] = a[k][x] * wa + b[k][x] * wb, or a
// itself when the rows are not interpolated (copy). a / b: channel strides stride_a / stride_b.
struct KernelRows {
  const float* a;
  const float* b;
  int64_t stride_a, stride_b;
  float wa, wb;
  bool copy;

  template <class V>
  FMSMI_ALWAYS_INLINE typename V::R load(int64_t k, int64_t x) const {
    const typename V::R first = V::load(a + k * stride_a + x);
    if (copy) return first;
    return V::add(V::mul(first, V::set1(wa)), V::mul(V::load(b + k * stride_b + x), V::set1(wb)));
  }
};

// dst[k][x] = src[k][index0[x]] * weight0[x] + src[k][index1[x]] * weight1[x] for the raw
// row src (channel stride src_stride). A block of Vec::L output columns whose sources lie in
// Vec::L consecutive raw columns (every block of an upsampling by more than 8/7, but the
// last few) takes one load and two lane permutes per channel; other columns go one by one.
inline void resample_columns(const float* src, int64_t src_stride, int64_t raw_w, int channels,
                             const BilinearAxis& cols, int w, float* dst, int64_t dst_stride) {
  const int32_t* index0 = cols.index0;
  const int32_t* index1 = cols.index1;
  const float* weight0 = cols.weight0;
  const float* weight1 = cols.weight1;
  auto one_column = [&](int x) {
    for (int k = 0; k < channels; ++k) {
      const float* s = src + k * src_stride;
      dst[k * dst_stride + x] = s[index0[x]] * weight0[x] + s[index1[x]] * weight1[x];
    }
  };
  int x = 0;
  if (raw_w >= Vec::L) {
    const int32_t last_base = static_cast<int32_t>(raw_w - Vec::L);
    for (; x + Vec::L <= w; x += Vec::L) {
      const int32_t base = index0[x] < last_base ? index0[x] : last_base;
      if (index1[x + Vec::L - 1] - base >= Vec::L) {
        for (int l = 0; l < Vec::L; ++l) one_column(x + l);
        continue;
      }
      const typename Vec::Lanes lanes0 = Vec::lanes(index0 + x, base);
      const typename Vec::Lanes lanes1 = Vec::lanes(index1 + x, base);
      const typename Vec::R w0 = Vec::load(weight0 + x);
      const typename Vec::R w1 = Vec::load(weight1 + x);
      const float* s = src + base;
      float* d = dst + x;
      for (int k = 0; k < channels; ++k, s += src_stride, d += dst_stride) {
        const typename Vec::R window = Vec::load(s);
        Vec::store(d, Vec::add(Vec::mul(Vec::permute(window, lanes0), w0),
                               Vec::mul(Vec::permute(window, lanes1), w1)));
      }
    }
  }
  for (; x < w; ++x) one_column(x);
}

// Rows of `raw` (image n) resampled along x, the last two kept. When the column axis is the
// identity the raw rows are used in place.
struct ResampledRows {
  const float* raw;  // image n, channel 0
  int64_t raw_plane, raw_w;
  int channels, w;
  const BilinearAxis* cols;
  float* slots[2];
  int64_t tags[2];
  int64_t stride;  // channel stride of the slots

  // Returns raw row `row` resampled (channel stride: *channel_stride); never evicts `keep`.
  const float* get(int64_t row, int64_t keep, int64_t* channel_stride) {
    if (cols->identity) {
      *channel_stride = raw_plane;
      return raw + row * raw_w;
    }
    *channel_stride = stride;
    for (int s = 0; s < 2; ++s) {
      if (tags[s] == row) return slots[s];
    }
    const int victim = tags[0] == keep ? 1 : tags[1] == keep ? 0 : (tags[0] <= tags[1] ? 0 : 1);
    tags[victim] = row;
    resample_columns(raw + row * raw_w, raw_plane, raw_w, channels, *cols, w, slots[victim], stride);
    return slots[victim];
  }
};

// Interleaves the taps of kernel group `first` (channels first .. first + F - 1 of u) for the
// blocks [b0, b1) into dst ([block - b0][tap][lane]), adding the unit centre tap. Lanes past
// column w are zero.
inline void gather_taps(const KernelRows& u, int64_t first, int taps, int b0, int b1, int w,
                        float* dst) {
  const int radius = (taps - 1) / 2;
  const int full = w / static_cast<int>(kBlockFloats) < b1 ? w / static_cast<int>(kBlockFloats) : b1;
  for (int j = 0; j < taps; ++j) {
    const int64_t k = first + j;
    const float centre = j == radius ? 1.0f : 0.0f;
    float* d = dst + j * kBlockFloats;
    int b = b0;
    if (j == radius) {
      const typename Vec::R one = Vec::set1(1.0f);
      for (; b < full; ++b, d += taps * kBlockFloats) {
        for (int l = 0; l < kBlockFloats; l += Vec::L)
          Vec::store(d + l, Vec::add(u.load<Vec>(k, b * kBlockFloats + l), one));
      }
    } else {
      for (; b < full; ++b, d += taps * kBlockFloats) {
        for (int l = 0; l < kBlockFloats; l += Vec::L) Vec::store(d + l, u.load<Vec>(k, b * kBlockFloats + l));
      }
    }
    for (; b < b1; ++b, d += taps * kBlockFloats) {  // the last, partial block
      const int x = b * static_cast<int>(kBlockFloats);
      int l = 0;
      for (; x + l < w; ++l) d[l] = u.load<Vec1>(k, x + l) + centre;
      for (; l < kBlockFloats; ++l) d[l] = 0.0f;
    }
  }
}

// One image stream over the blocks [b0, b1) of an output row: dst (channel stride
// dst_plane) at column b0 * kBlockFloats; taps as gather_taps wrote them.
inline void synthesize_blocks(const float* const* rows, int64_t row_stride, const float* taps_v,
                              const float* taps_h, int b0, int b1, int w, float* dst,
                              int64_t dst_plane, const Dims& d) {
  RingRows ring{rows, 0, row_stride};
  const int channels = static_cast<int>(d.c);
  for (int b = b0; b < b1; ++b) {
    const int64_t t = (b - b0) * d.taps * kBlockFloats;
    const int x = b * static_cast<int>(kBlockFloats);
    if (x + kBlockFloats <= w) {
      for (int l = 0; l < kBlockFloats; l += Vec::L) {
        ring.offset = x + l;
        forward_block<Vec>(ring, taps_v + t + l, taps_h + t + l, kBlockFloats, dst + x + l,
                           dst_plane, channels, d.taps, d.dilation);
      }
    } else {
      for (int l = 0; x + l < w; ++l) {
        ring.offset = x + l;
        forward_block<Vec1>(ring, taps_v + t + l, taps_h + t + l, kBlockFloats, dst + x + l,
                            dst_plane, channels, d.taps, d.dilation);
      }
    }
  }
}

// out = O * out + (1 - O) * other for the V::L columns at x, O = sigmoid(u[occlusion]).
template <class V>
FMSMI_ALWAYS_INLINE void blend_columns(const KernelRows& u, int64_t occlusion, int x,
                                       float* out, int64_t plane, const float* other,
                                       int64_t other_stride, int channels) {
  using R = typename V::R;
  const R weight = sigmoid<V>(u.load<V>(occlusion, x));
  const R rest = V::sub(V::set1(1.0f), weight);
  for (int c = 0; c < channels; ++c) {
    float* o = out + c * plane + x;
    V::store(o, V::add(V::mul(weight, V::load(o)), V::mul(rest, V::load(other + c * other_stride + x))));
  }
}

RowStream<float> synthesis_stream(const float* frame, const Dims& d, int64_t n, float* scratch) {
  RowStream<float> stream;
  stream.img = frame + n * d.c * d.h * d.w;
  stream.kernel_v = stream.kernel_h = nullptr;  // the taps come from gather_taps
  stream.dims = &d;
  stream.layout = forward_layout(d);
  stream.ring = scratch;
  stream.taps_v = stream.ring + stream.layout.ring_rows * d.c * stream.layout.row_stride;
  stream.taps_h = stream.taps_v + stream.layout.taps_floats;
  stream.next_row = -1;
  return stream;
}

void synthesis_rows_f32(const SynthesisArgs& args, int64_t n, int y0, int y1, float* scratch) {
  const Dims& d = args.dims;
  const SynthesisLayout layout = synthesis_layout(d);
  RowStream<float> stream0 = synthesis_stream(args.frame0, d, n, scratch);
  RowStream<float> stream1 = synthesis_stream(args.frame1, d, n, scratch + layout.stream);
  const int taps = d.taps;
  const int w = static_cast<int>(d.w);
  const int channels = static_cast<int>(d.c);
  const int64_t raw_channels = 4 * static_cast<int64_t>(taps) + 1;
  ResampledRows resampled;
  resampled.raw_plane = args.raw_h * args.raw_w;
  resampled.raw = args.raw + n * raw_channels * resampled.raw_plane;
  resampled.raw_w = args.raw_w;
  resampled.channels = static_cast<int>(raw_channels);
  resampled.w = w;
  resampled.cols = &args.cols;
  resampled.slots[0] = scratch + 2 * layout.stream;
  resampled.slots[1] = resampled.slots[0] + layout.resampled;
  resampled.tags[0] = resampled.tags[1] = -1;
  resampled.stride = layout.row_stride;
  float* row1 = resampled.slots[1] + layout.resampled;  // frame1's synthesis, [channel][row_stride]

  const int64_t plane = d.h * d.w;
  float* out_image = args.out + n * d.c * plane;
  const int blocks = (w + static_cast<int>(kBlockFloats) - 1) / static_cast<int>(kBlockFloats);
  const int chunk = chunk_blocks(taps);
  const float* rows0[kMaxTaps];
  const float* rows1[kMaxTaps];
  for (int y = y0; y < y1; ++y) {
    KernelRows u;
    u.copy = args.rows.identity;
    const int64_t first = u.copy ? y : args.rows.index0[y];
    u.a = resampled.get(first, -2, &u.stride_a);
    if (u.copy) {
      u.b = u.a;
      u.stride_b = u.stride_a;
      u.wa = 1.0f;
      u.wb = 0.0f;
    } else {
      u.b = resampled.get(args.rows.index1[y], first, &u.stride_b);
      u.wa = args.rows.weight0[y];
      u.wb = args.rows.weight1[y];
    }
    stream0.prepare_rows(y, rows0);
    stream1.prepare_rows(y, rows1);
    float* out = out_image + static_cast<int64_t>(y) * w;
    for (int b0 = 0; b0 < blocks; b0 += chunk) {
      const int b1 = b0 + chunk < blocks ? b0 + chunk : blocks;
      gather_taps(u, 0, taps, b0, b1, w, stream0.taps_v);
      gather_taps(u, taps, taps, b0, b1, w, stream0.taps_h);
      synthesize_blocks(rows0, stream0.layout.row_stride, stream0.taps_v, stream0.taps_h, b0, b1,
                        w, out, plane, d);
      gather_taps(u, 2 * taps, taps, b0, b1, w, stream1.taps_v);
      gather_taps(u, 3 * taps, taps, b0, b1, w, stream1.taps_h);
      synthesize_blocks(rows1, stream1.layout.row_stride, stream1.taps_v, stream1.taps_h, b0, b1,
                        w, row1, layout.row_stride, d);
      const int x1 = b1 * static_cast<int>(kBlockFloats) < w ? b1 * static_cast<int>(kBlockFloats) : w;
      int x = b0 * static_cast<int>(kBlockFloats);
      for (; x + Vec::L <= x1; x += Vec::L)
        blend_columns<Vec>(u, 4 * taps, x, out, plane, row1, layout.row_stride, channels);
      for (; x < x1; ++x) blend_columns<Vec1>(u, 4 * taps, x, out, plane, row1, layout.row_stride, channels);
    }
  }
}
