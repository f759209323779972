// Motion pre-alignment on the CPU (fmsmi_motion_align_f32): the function of
// engine/network/motion.py's align(), computed without PyTorch's intermediate tensors.
//
// The PyTorch composition spends most of its time in the block means (cumsum, gathers and
// divisions over K candidate maps) and in materializing full-resolution grids; here each
// level is a few passes over small single-channel maps with running sums, and the final warp
// reads the fine field bilinearly per output pixel. Float arithmetic follows the PyTorch ops
// (same formulas, same order where it matters); block means are running sums, not cumsums, so
// a candidate whose cost ties another's to the last bit may be chosen differently (tests
// compare the fields and the aligned frames, not bits).
#include <math.h>
#include <stdint.h>

#include <algorithm>
#include <new>
#include <vector>

#include "fmsmi_sepconv.h"
#include "sepconv_kernels.h"

namespace {

// motion.TIE_BREAK: a cost per pixel of refinement step that only decides ties.
constexpr float kTieBreak = 1e-4f;

struct Map {
  int64_t h = 0, w = 0;
  std::vector<float> v;
  Map() = default;
  Map(int64_t height, int64_t width) : h(height), w(width), v(static_cast<size_t>(height * width)) {}
  float& at(int64_t y, int64_t x) { return v[static_cast<size_t>(y * w + x)]; }
  float at(int64_t y, int64_t x) const { return v[static_cast<size_t>(y * w + x)]; }
  float clamped(int64_t y, int64_t x) const {
    y = std::min(std::max<int64_t>(y, 0), h - 1);
    x = std::min(std::max<int64_t>(x, 0), w - 1);
    return at(y, x);
  }
};

// grey = 0.299 R + 0.587 G + 0.114 B (motion.grey)
Map grey(const float* frame, int64_t h, int64_t w) {
  Map out(h, w);
  const int64_t plane = h * w;
  for (int64_t i = 0; i < plane; ++i) {
    float value = 0.299f * frame[i];
    value = value + 0.587f * frame[plane + i];
    out.v[static_cast<size_t>(i)] = value + 0.114f * frame[2 * plane + i];
  }
  return out;
}

// 2x2 area average, sizes rounded down (motion.halve: pairs of rows, then pairs of columns)
Map halve(const Map& in) {
  Map out(in.h / 2, in.w / 2);
  for (int64_t y = 0; y < out.h; ++y) {
    for (int64_t x = 0; x < out.w; ++x) {
      const float left = in.at(2 * y, 2 * x) + in.at(2 * y + 1, 2 * x);
      const float right = in.at(2 * y, 2 * x + 1) + in.at(2 * y + 1, 2 * x + 1);
      out.at(y, x) = (left + right) * 0.25f;
    }
  }
  return out;
}

// Mean over the window x window neighbourhood inside the map (motion.box), in place, as
// PyTorch computes it: prefix sums accumulated in double and stored as float (torch.cumsum),
// the difference of two prefixes divided by the count, in float; rows first, then columns.
// ``prefix`` and ``rows`` are scratch.
void box(Map& map, int64_t window, std::vector<float>& prefix, Map& rows) {
  const int64_t half = window / 2;
  const int64_t h = map.h, w = map.w;
  rows.h = h;
  rows.w = w;
  rows.v.resize(map.v.size());
  prefix.assign(static_cast<size_t>((h + 1) * std::max(w, int64_t{1})), 0.0f);
  {
    std::vector<double> running(static_cast<size_t>(w), 0.0);
    for (int64_t y = 0; y < h; ++y) {
      const float* row = &map.v[static_cast<size_t>(y * w)];
      float* out = &prefix[static_cast<size_t>((y + 1) * w)];
      for (int64_t x = 0; x < w; ++x) {
        running[static_cast<size_t>(x)] += row[x];
        out[x] = static_cast<float>(running[static_cast<size_t>(x)]);
      }
    }
  }
  for (int64_t y = 0; y < h; ++y) {
    const int64_t low = std::max<int64_t>(y - half, 0), high = std::min(y + half + 1, h);
    const float count = static_cast<float>(high - low);
    const float* top = &prefix[static_cast<size_t>(low * w)];
    const float* bottom = &prefix[static_cast<size_t>(high * w)];
    float* out = &rows.v[static_cast<size_t>(y * w)];
    for (int64_t x = 0; x < w; ++x) out[x] = (bottom[x] - top[x]) / count;
  }
  // Columns whose window lies inside the row: [half, w - half); the others are clipped.
  // kRows rows at a time: each row's prefix is a chain of dependent double additions, and
  // interleaving independent rows keeps the adder busy (the same sums, in the same order).
  constexpr int64_t kRows = 4;
  std::vector<float> lines(static_cast<size_t>(kRows * (w + 1)));
  const int64_t inner_begin = std::min(half, w), inner_end = std::max(inner_begin, w - half);
  const float full = static_cast<float>(window);
  for (int64_t y0 = 0; y0 < h; y0 += kRows) {
    const int64_t count = std::min(kRows, h - y0);
    const float* row[kRows];
    float* line[kRows];
    double running[kRows];
    for (int64_t r = 0; r < kRows; ++r) {
      row[r] = &rows.v[static_cast<size_t>((y0 + std::min(r, count - 1)) * w)];  // a short block repeats its last row
      line[r] = &lines[static_cast<size_t>(r * (w + 1))];
      line[r][0] = 0.0f;
      running[r] = 0.0;
    }
    for (int64_t x = 0; x < w; ++x) {
      for (int64_t r = 0; r < kRows; ++r) {
        running[r] += row[r][x];
        line[r][x + 1] = static_cast<float>(running[r]);
      }
    }
    for (int64_t r = 0; r < count; ++r) {
      float* out = &map.v[static_cast<size_t>((y0 + r) * w)];
      const float* sums = line[r];
      const float* ahead = sums + half + 1;  // sums[x + half + 1]
      const float* behind = sums - half;     // sums[x - half], read for x >= half only
      auto clipped = [&](int64_t x) {
        const int64_t begin = std::max<int64_t>(x - half, 0), end = std::min(x + half + 1, w);
        out[x] = (sums[end] - sums[begin]) / static_cast<float>(end - begin);
      };
      for (int64_t x = 0; x < inner_begin; ++x) clipped(x);
      for (int64_t x = inner_begin; x < inner_end; ++x) out[x] = (ahead[x] - behind[x]) / full;
      for (int64_t x = inner_end; x < w; ++x) clipped(x);
    }
  }
}

// One bilinear axis of F.interpolate(align_corners=False) from `in` to `out` samples: the
// fused synthesis's fmsmi::cpu::bilinear_axis, into arrays of its own.
struct Axis {
  std::vector<int32_t> i0, i1;
  std::vector<float> w0, w1;
  Axis(int64_t in, int64_t out) : i0(out), i1(out), w0(out), w1(out) {
    fmsmi::cpu::BilinearAxis axis;
    fmsmi::cpu::bilinear_axis(in, out, i0.data(), i1.data(), w0.data(), w1.data(), &axis);
  }
};

// F.interpolate(map, bilinear, align_corners=False) to rows x cols, times ``scale``, a row at
// a time: each map row is resampled along x once (``columns``), and an output row is the
// blend of the two it falls between -- upsample_bilinear2d's arithmetic and order (x, then
// y), in loops the compiler vectorizes.
class Upsampled {
 public:
  Upsampled(const Map& map, const Axis& rows, const Axis& cols, float scale)
      : rows_(rows), scale_(scale), columns_(map.h, static_cast<int64_t>(cols.i0.size())) {
    const int64_t w = columns_.w;
    for (int64_t y = 0; y < map.h; ++y) {
      const float* in = &map.v[static_cast<size_t>(y * map.w)];
      float* out = &columns_.v[static_cast<size_t>(y * w)];
      for (int64_t x = 0; x < w; ++x) out[x] = cols.w0[x] * in[cols.i0[x]] + cols.w1[x] * in[cols.i1[x]];
    }
  }
  // Output row y into out[0, width of the upsampled map).
  void row(int64_t y, float* out) const {
    const float* top = &columns_.v[static_cast<size_t>(rows_.i0[y] * columns_.w)];
    const float* bottom = &columns_.v[static_cast<size_t>(rows_.i1[y] * columns_.w)];
    const float w0 = rows_.w0[y], w1 = rows_.w1[y], scale = scale_;
    for (int64_t x = 0; x < columns_.w; ++x) out[x] = (w0 * top[x] + w1 * bottom[x]) * scale;
  }

 private:
  const Axis& rows_;
  float scale_;
  Map columns_;
};

// grid_sample(align_corners=True, padding "border", bilinear) at pixel position (py, px),
// through the normalisation motion.sample() applies (p * (2 / (size - 1)) - 1) and back, in
// float as PyTorch does. ``at`` gives the four taps and their weights, ``read`` applies them.
struct Sampler {
  int64_t h, w;
  float ny, nx;  // 2 / (size - 1), rounded from double as PyTorch rounds the Python float
  Sampler(int64_t height, int64_t width)
      : h(height), w(width),
        ny(static_cast<float>(2.0 / static_cast<double>(std::max<int64_t>(height - 1, 1)))),
        nx(static_cast<float>(2.0 / static_cast<double>(std::max<int64_t>(width - 1, 1)))) {}
  static float source(float position, float normaliser, int64_t size) {
    const float normalised = position * normaliser - 1.0f;
    const float unnormalised = ((normalised + 1.0f) / 2.0f) * static_cast<float>(size - 1);
    return std::min(static_cast<float>(size - 1), std::max(unnormalised, 0.0f));
  }
  struct Taps {
    int64_t i00, i01, i10, i11;
    float nw, ne, sw, se;
  };
  Taps at(float py, float px) const {
    const float iy = source(py, ny, h), ix = source(px, nx, w);
    const int64_t y0 = static_cast<int64_t>(iy), x0 = static_cast<int64_t>(ix);  // >= 0: floor
    const float fy = iy - static_cast<float>(y0), fx = ix - static_cast<float>(x0);
    const int64_t y1 = std::min(y0 + 1, h - 1), x1 = std::min(x0 + 1, w - 1);
    return {y0 * w + x0, y0 * w + x1, y1 * w + x0, y1 * w + x1,
            (1.0f - fx) * (1.0f - fy), fx * (1.0f - fy), (1.0f - fx) * fy, fx * fy};
  }
  static float read(const float* plane, const Taps& t) {
    return plane[t.i00] * t.nw + plane[t.i01] * t.ne + plane[t.i10] * t.sw + plane[t.i11] * t.se;
  }
  float operator()(const float* plane, float py, float px) const { return read(plane, at(py, px)); }
};

struct Workspace {
  std::vector<float> sums;
  Map rows;
};

struct Field {
  Map dy, dx;
};

// The field's smoothing between levels, in place: box 3 (motion.half_motion).
void smooth(Field& field, Workspace& work) {
  box(field.dy, 3, work.sums, work.rows);
  box(field.dx, 3, work.sums, work.rows);
}

// A field upsampled to h x w times ``scale`` (motion.half_motion's F.interpolate), a row at
// a time: the next level's starting field in refine() and the final field of the warp.
class FieldUpsampler {
 public:
  FieldUpsampler(const Field& field, int64_t h, int64_t w, float scale)
      : rows_(field.dy.h, h), cols_(field.dy.w, w),
        dy_(field.dy, rows_, cols_, scale), dx_(field.dx, rows_, cols_, scale) {}
  FieldUpsampler(const FieldUpsampler&) = delete;  // dy_ and dx_ refer to rows_
  FieldUpsampler& operator=(const FieldUpsampler&) = delete;

  // Row y of the upsampled field into dy[0, w) and dx[0, w).
  void row(int64_t y, float* dy, float* dx) const {
    dy_.row(y, dy);
    dx_.row(y, dx);
  }

 private:
  Axis rows_, cols_;
  Upsampled dy_, dx_;
};

// cost(y, x) = |a(y - dy, x - dx) - b(y + dy, x + dx)|, replicate border; the columns whose
// reads stay inside the map run without clamping (a loop the compiler vectorizes).
void difference(const Map& a, const Map& b, int64_t dy, int64_t dx, Map& cost) {
  const int64_t w = a.w;
  const int64_t reach = dx < 0 ? -dx : dx;
  const int64_t begin = std::min(reach, w), end = std::max(begin, w - reach);
  for (int64_t y = 0; y < a.h; ++y) {
    const float* row_a = &a.v[static_cast<size_t>(std::min(std::max<int64_t>(y - dy, 0), a.h - 1) * w)];
    const float* row_b = &b.v[static_cast<size_t>(std::min(std::max<int64_t>(y + dy, 0), b.h - 1) * w)];
    float* out = &cost.v[static_cast<size_t>(y * w)];
    for (int64_t x = 0; x < begin; ++x) out[x] = fabsf(a.clamped(y - dy, x - dx) - b.clamped(y + dy, x + dx));
    for (int64_t x = begin; x < end; ++x) out[x] = fabsf(row_a[x - dx] - row_b[x + dx]);
    for (int64_t x = end; x < w; ++x) out[x] = fabsf(a.clamped(y - dy, x - dx) - b.clamped(y + dy, x + dx));
  }
}

// Per pixel, the step (dy, dx) within +-radius whose block-mean cost
// |a(x - step) - b(x + step)| plus penalty * |step| is lowest (the first on ties): the
// exhaustive search of the coarse level and the residual search of each finer one.
Field best_steps(const Map& a, const Map& b, int64_t radius, int64_t window, float penalty, Workspace& work) {
  Field steps{Map(a.h, a.w), Map(a.h, a.w)};
  Map best(a.h, a.w), cost(a.h, a.w);
  bool first = true;
  for (int64_t dy = -radius; dy <= radius; ++dy) {
    for (int64_t dx = -radius; dx <= radius; ++dx) {
      difference(a, b, dy, dx, cost);
      box(cost, window, work.sums, work.rows);
      const float extra = penalty * sqrtf(static_cast<float>(dy * dy + dx * dx));
      const float step_y = static_cast<float>(dy), step_x = static_cast<float>(dx);
      const size_t size = cost.v.size();
      const float* costs = cost.v.data();
      float* best_costs = best.v.data();
      float* best_y = steps.dy.v.data();
      float* best_x = steps.dx.v.data();
      if (first) {
        for (size_t i = 0; i < size; ++i) {
          best_costs[i] = costs[i] + extra;
          best_y[i] = step_y;
          best_x[i] = step_x;
        }
        first = false;
        continue;
      }
      for (size_t i = 0; i < size; ++i) {  // selects, not branches: the loop vectorizes
        const float value = costs[i] + extra;
        const bool better = value < best_costs[i];
        best_costs[i] = better ? value : best_costs[i];
        best_y[i] = better ? step_y : best_y[i];
        best_x[i] = better ? step_x : best_x[i];
      }
    }
  }
  return steps;
}

// Exhaustive bilateral search at the coarse level (motion.coarse_search).
Field coarse_search(const Map& g0, const Map& g1, int64_t radius, int64_t window, float bias,
                    Workspace& work) {
  return best_steps(g0, g1, radius, window, bias, work);
}

// The field upsampled to the next level (box 3, bilinear, x2), then the best residual in
// {-1,0,1}^2 over the window after warping both levels by it (motion.refine).
Field refine(const Map& g0, const Map& g1, Field coarse, int64_t window, Workspace& work) {
  smooth(coarse, work);
  const FieldUpsampler upsampled(coarse, g0.h, g0.w, 2.0f);
  Field field{Map(g0.h, g0.w), Map(g0.h, g0.w)};
  for (int64_t y = 0; y < g0.h; ++y) upsampled.row(y, &field.dy.at(y, 0), &field.dx.at(y, 0));
  const Sampler sampler(g0.h, g0.w);
  Map warped0(g0.h, g0.w), warped1(g0.h, g0.w);
  for (int64_t y = 0; y < g0.h; ++y) {
    for (int64_t x = 0; x < g0.w; ++x) {
      const float my = field.dy.at(y, x), mx = field.dx.at(y, x);
      warped0.at(y, x) = sampler(g0.v.data(), static_cast<float>(y) - my, static_cast<float>(x) - mx);
      warped1.at(y, x) = sampler(g1.v.data(), static_cast<float>(y) + my, static_cast<float>(x) + mx);
    }
  }
  const Field steps = best_steps(warped0, warped1, 1, window, kTieBreak, work);
  for (size_t i = 0; i < field.dy.v.size(); ++i) {
    field.dy.v[i] += steps.dy.v[i];
    field.dx.v[i] += steps.dx.v[i];
  }
  return field;
}

}  // namespace

int fmsmi_motion_align_f32(
    const float* frame0, const float* frame1, float* aligned0, float* aligned1, int64_t n, int64_t c,
    int64_t h, int64_t w, int64_t coarse_level, int64_t radius, int64_t fine_level, int64_t window,
    float bias) {
  if (!frame0 || !frame1 || !aligned0 || !aligned1) return FMSMI_SEPCONV_INVALID_ARGUMENT;
  if (n < 1 || c < 3 || h < 1 || w < 1 || radius < 1 || window < 1 || window % 2 == 0 || fine_level < 0 ||
      coarse_level < fine_level || (std::min(h, w) >> coarse_level) < 1 || bias < 0.0f)
    return FMSMI_SEPCONV_INVALID_ARGUMENT;
  try {
    Workspace work;
    const int64_t frame_size = c * h * w;
    for (int64_t item = 0; item < n; ++item) {
      const float* f0 = frame0 + item * frame_size;
      const float* f1 = frame1 + item * frame_size;
      std::vector<Map> levels0{grey(f0, h, w)}, levels1{grey(f1, h, w)};
      for (int64_t level = 1; level <= coarse_level; ++level) {
        levels0.push_back(halve(levels0.back()));
        levels1.push_back(halve(levels1.back()));
      }
      Field field = coarse_search(levels0[coarse_level], levels1[coarse_level], radius, window, bias, work);
      for (int64_t level = coarse_level - 1; level >= fine_level; --level)
        field = refine(levels0[level], levels1[level], std::move(field), window, work);
      smooth(field, work);
      const FieldUpsampler upsampled(field, h, w, static_cast<float>(int64_t{1} << fine_level));
      const Sampler sampler(h, w);
      std::vector<float> row_dy(static_cast<size_t>(w)), row_dx(static_cast<size_t>(w));
      float* out0 = aligned0 + item * frame_size;
      float* out1 = aligned1 + item * frame_size;
      for (int64_t y = 0; y < h; ++y) {
        upsampled.row(y, row_dy.data(), row_dx.data());
        int64_t x = 0;
        while (x < w) {
          // a run of pixels without motion (most of a frame in most video): the pixels
          // themselves, which grid_sample's round trip reproduces up to ~1e-7
          int64_t still = x;
          while (still < w && row_dy[static_cast<size_t>(still)] == 0.0f && row_dx[static_cast<size_t>(still)] == 0.0f)
            ++still;
          if (still > x) {
            for (int64_t channel = 0; channel < c; ++channel) {
              const int64_t at = channel * h * w + y * w + x;
              std::copy(f0 + at, f0 + at + (still - x), out0 + at);
              std::copy(f1 + at, f1 + at + (still - x), out1 + at);
            }
            x = still;
            continue;
          }
          const float my = row_dy[static_cast<size_t>(x)], mx = row_dx[static_cast<size_t>(x)];
          const Sampler::Taps behind = sampler.at(static_cast<float>(y) - my, static_cast<float>(x) - mx);
          const Sampler::Taps ahead = sampler.at(static_cast<float>(y) + my, static_cast<float>(x) + mx);
          for (int64_t channel = 0; channel < c; ++channel) {
            const int64_t offset = channel * h * w;
            out0[offset + y * w + x] = Sampler::read(f0 + offset, behind);
            out1[offset + y * w + x] = Sampler::read(f1 + offset, ahead);
          }
          ++x;
        }
      }
    }
  } catch (const std::bad_alloc&) {
    return FMSMI_SEPCONV_OUT_OF_MEMORY;
  } catch (...) {
    return FMSMI_SEPCONV_INTERNAL_ERROR;
  }
  return FMSMI_SEPCONV_OK;
}
