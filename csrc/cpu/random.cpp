// Random fills from a counter-free 64-bit generator seeded per call (the glue derives the seed from
// tf.random.set_seed's global seed and the op seed, so a seeded program repeats).
#include <cmath>
#include <random>

#include "kernels.h"

namespace pft {
namespace cpu {

template <class T>
void random_normal_forward(T* out, int64_t n, double mean, double stddev, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> dist(mean, stddev);
  for (int64_t i = 0; i < n; i++) out[i] = static_cast<T>(dist(gen));
}

template <class T>
void random_uniform_forward(T* out, int64_t n, double lo, double hi, uint64_t seed) {
  std::mt19937_64 gen(seed);
  if constexpr (std::is_integral<T>::value) {
    // Integers: [lo, hi) as in TF's uniform with integer dtype.
    std::uniform_int_distribution<int64_t> dist(int64_t(lo), int64_t(hi) - 1);
    for (int64_t i = 0; i < n; i++) out[i] = static_cast<T>(dist(gen));
  } else {
    std::uniform_real_distribution<double> dist(lo, hi);
    for (int64_t i = 0; i < n; i++) {
      T v = static_cast<T>(dist(gen));
      if (v >= T(hi)) v = T(lo);  // rounding to float32 may reach hi; keep the half-open interval
      out[i] = v;
    }
  }
}

#define PFT_INST(T)                                                              \
  template void random_normal_forward<T>(T*, int64_t, double, double, uint64_t); \
  template void random_uniform_forward<T>(T*, int64_t, double, double, uint64_t);
PFT_INST(float) PFT_INST(double)
#undef PFT_INST
template void random_uniform_forward<int32_t>(int32_t*, int64_t, double, double, uint64_t);
template void random_uniform_forward<int64_t>(int64_t*, int64_t, double, double, uint64_t);

}  // namespace cpu
}  // namespace pft
