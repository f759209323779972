// AVX2 + FMA + F16C row kernels. Built with -mavx2 -mfma -mf16c; only called after the
// dispatcher (sepconv_api.cpp) has seen those features at run time.
#include <immintrin.h>

#include "sepconv_kernels.h"
#include "sepconv_math.h"

namespace fmsmi {
namespace cpu {
namespace {

constexpr const char* kIsaName = "avx2";

struct Vec {  // 8 floats
  using R = __m256;
  static constexpr int L = 8;
  static R zero() { return _mm256_setzero_ps(); }
  static R set1(float v) { return _mm256_set1_ps(v); }
  static R load(const float* p) { return _mm256_loadu_ps(p); }
  static R load(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static void store(float* p, R v) { _mm256_storeu_ps(p, v); }
  static void store(uint16_t* p, R v) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
  }
  static R add(R a, R b) { return _mm256_add_ps(a, b); }
  static R sub(R a, R b) { return _mm256_sub_ps(a, b); }
  static R mul(R a, R b) { return _mm256_mul_ps(a, b); }
  static R fma(R a, R b, R c) { return _mm256_fmadd_ps(a, b, c); }
  static R div(R a, R b) { return _mm256_div_ps(a, b); }
  static R min(R a, R b) { return _mm256_min_ps(a, b); }
  static R max(R a, R b) { return _mm256_max_ps(a, b); }
  static R pow2i(R n) {  // 2^n for integral n in [-126, 127]
    const __m256i biased = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
    return _mm256_castsi256_ps(_mm256_slli_epi32(biased, 23));
  }
  using Lanes = __m256i;  // lane indices for permute
  static Lanes lanes(const int32_t* index, int32_t base) {
    return _mm256_sub_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(index)), _mm256_set1_epi32(base));
  }
  static R permute(R v, Lanes lanes) { return _mm256_permutevar8x32_ps(v, lanes); }
};

struct Vec1 {  // one float, for column tails
  using R = float;
  static constexpr int L = 1;
  static R zero() { return 0.0f; }
  static R set1(float v) { return v; }
  static R load(const float* p) { return *p; }
  static R load(const uint16_t* p) { return _cvtsh_ss(*p); }
  static void store(float* p, R v) { *p = v; }
  static void store(uint16_t* p, R v) {
    *p = static_cast<uint16_t>(_cvtss_sh(v, _MM_FROUND_TO_NEAREST_INT));
  }
  static R add(R a, R b) { return a + b; }
  static R sub(R a, R b) { return a - b; }
  static R mul(R a, R b) { return a * b; }
  static R fma(R a, R b, R c) { return _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(a), _mm_set_ss(b), _mm_set_ss(c))); }
  static R div(R a, R b) { return a / b; }
  static R min(R a, R b) { return a < b ? a : b; }
  static R max(R a, R b) { return a > b ? a : b; }
  static R pow2i(R n) { return bits_to_float(static_cast<uint32_t>(static_cast<int>(n) + 127) << 23); }
};

#include "sepconv_kernels_impl.h"

}  // namespace

const KernelTable& avx2_kernels() { return kKernelTable; }

}  // namespace cpu
}  // namespace fmsmi
