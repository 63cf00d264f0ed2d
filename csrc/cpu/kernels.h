// CPU kernels: the launchers of csrc/kernel_list.inc (declared in csrc/kernels.h), plus the CPU's
// threading helpers and the random fills (generated on the host for every device, so a seed gives the
// same numbers on the CPU and the GPU).
#pragma once
#include <cstdint>

#include "../kernels.h"

namespace pft {

// Elementwise work below this many elements runs on one thread: an OpenMP fork/join (~1-2 us) costs
// more than the work.
constexpr int64_t kParallelThreshold = 1 << 15;

// The intra-op thread count (tf.config.threading): one process-wide value read by every parallel
// region (omp_set_num_threads would only change the calling thread's default). Starts from
// OMP_NUM_THREADS / the core count; setting it also sets OpenBLAS's thread count.
int intra_op_threads();
void set_intra_op_threads(int n);

// body(i) for i in [0, n): in parallel when `parallel` holds, otherwise a plain loop that never enters
// the OpenMP runtime (even `#pragma omp parallel if(false)` costs a team set-up, most of a tiny op).
template <class F>
inline void parallel_for(int64_t n, bool parallel, F&& body) {
  if (!parallel || intra_op_threads() == 1) {
    for (int64_t i = 0; i < n; i++) body(i);
    return;
  }
#pragma omp parallel for num_threads(intra_op_threads()) schedule(static)
  for (int64_t i = 0; i < n; i++) body(i);
}

namespace cpu {
// ---- random.cpp ------------------------------------------------------------------------------------
template <class T>
void random_normal_forward(T* out, int64_t n, double mean, double stddev, uint64_t seed);
template <class T>
void random_uniform_forward(T* out, int64_t n, double lo, double hi, uint64_t seed);

// ---- losses.cpp, CPU only (the CUDA backend composes this op from the per-row kernels) ---------------
// The batch mean of sparse softmax cross-entropy over logits (N, C), labels (N,) in [0, C). With dlogits,
// also its gradient for an upstream gradient of 1, (softmax - onehot) / N, in the same pass.
template <class T, class I>
T sparse_softmax_xent_mean(T* dlogits, const T* logits, const I* labels, int64_t N, int64_t C);
}  // namespace cpu
}  // namespace pft
