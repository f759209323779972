// Portable row kernels (GCC/Clang vector extensions: SSE2 on x86-64, NEON on arm64), the
// fallback when the CPU lacks AVX2/FMA/F16C. Also home of the ISA-independent helpers.
#include <string.h>

#include "sepconv_kernels.h"
#include "sepconv_math.h"

namespace fmsmi {
namespace cpu {
namespace {

constexpr const char* kIsaName = "generic";

typedef float float4_t __attribute__((vector_size(16)));
typedef int32_t int4_t __attribute__((vector_size(16)));

struct Vec {  // 4 floats
  using R = float4_t;
  static constexpr int L = 4;
  static R zero() { return R{0.0f, 0.0f, 0.0f, 0.0f}; }
  static R set1(float v) { return R{v, v, v, v}; }
  static R load(const float* p) {
    R v;
    memcpy(&v, p, sizeof v);
    return v;
  }
  static R load(const uint16_t* p) {
    return R{half_bits_to_float(p[0]), half_bits_to_float(p[1]), half_bits_to_float(p[2]),
             half_bits_to_float(p[3])};
  }
  static void store(float* p, R v) { memcpy(p, &v, sizeof v); }
  static void store(uint16_t* p, R v) {
    for (int k = 0; k < 4; ++k) p[k] = float_to_half_bits(v[k]);
  }
  static R add(R a, R b) { return a + b; }
  static R sub(R a, R b) { return a - b; }
  static R mul(R a, R b) { return a * b; }
  static R fma(R a, R b, R c) { return a * b + c; }
  static R div(R a, R b) { return a / b; }
  // Lane by lane (subscripts): portable across GCC and Clang vector extensions.
  static R min(R a, R b) {
    return R{a[0] < b[0] ? a[0] : b[0], a[1] < b[1] ? a[1] : b[1], a[2] < b[2] ? a[2] : b[2],
             a[3] < b[3] ? a[3] : b[3]};
  }
  static R max(R a, R b) {
    return R{a[0] > b[0] ? a[0] : b[0], a[1] > b[1] ? a[1] : b[1], a[2] > b[2] ? a[2] : b[2],
             a[3] > b[3] ? a[3] : b[3]};
  }
  static R pow2i(R n) {  // 2^n for integral n in [-126, 127]
    const int4_t bits = (__builtin_convertvector(n, int4_t) + 127) << 23;
    R v;
    memcpy(&v, &bits, sizeof v);
    return v;
  }
  using Lanes = int4_t;  // lane indices for permute
  static Lanes lanes(const int32_t* index, int32_t base) {
    Lanes v;
    memcpy(&v, index, sizeof v);
    return v - base;
  }
  static R permute(R v, Lanes lanes) { return R{v[lanes[0]], v[lanes[1]], v[lanes[2]], v[lanes[3]]}; }
};

struct Vec1 {
  using R = float;
  static constexpr int L = 1;
  static R zero() { return 0.0f; }
  static R set1(float v) { return v; }
  static R load(const float* p) { return *p; }
  static R load(const uint16_t* p) { return half_bits_to_float(*p); }
  static void store(float* p, R v) { *p = v; }
  static void store(uint16_t* p, R v) { *p = float_to_half_bits(v); }
  static R add(R a, R b) { return a + b; }
  static R sub(R a, R b) { return a - b; }
  static R mul(R a, R b) { return a * b; }
  static R fma(R a, R b, R c) { return a * b + c; }
  static R div(R a, R b) { return a / b; }
  static R min(R a, R b) { return a < b ? a : b; }
  static R max(R a, R b) { return a > b ? a : b; }
  static R pow2i(R n) { return bits_to_float(static_cast<uint32_t>(static_cast<int>(n) + 127) << 23); }
};

#include "sepconv_kernels_impl.h"

}  // namespace

const KernelTable& generic_kernels() { return kKernelTable; }

int64_t forward_scratch_floats(const Dims& dims) { return forward_layout(dims).total; }

// Zero-padded kernel_h rows (taps) and V*grad rows (channels), w + 4*reach columns each, then
// the interleaved taps of kernel_v / kernel_h and their gradients for one row.
int64_t backward_scratch_floats(const Dims& dims) {
  const int64_t taps_floats = dims.taps * (dims.w / kBlockFloats * kBlockFloats);
  return (static_cast<int64_t>(dims.taps) + dims.c) * (dims.w + 4 * dims.reach) + 4 * taps_floats + 16;
}

}  // namespace cpu
}  // namespace fmsmi
