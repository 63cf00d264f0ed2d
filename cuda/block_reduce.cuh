// Block-wide reductions for the one-block-per-row kernels (dense softmax, cross-entropy, row losses).
// Warp shuffles rather than cub::BlockReduce: cub's headers include <math.h>, which the build's -Icsrc
// resolves to csrc/math.h, and then they do not compile.
#pragma once
#include <cuda_runtime.h>

#include <cstring>

namespace pft {
namespace cuda {

// v as held by lane (lane ^ mask) of the warp; T is any trivially copyable type of whole 32-bit words
// (float, double, a small struct of them).
template <class T>
__device__ __forceinline__ T shfl_xor(T v, int mask) {
  static_assert(sizeof(T) % 4 == 0, "shfl_xor moves 32-bit words");
  unsigned w[sizeof(T) / 4];
  memcpy(w, &v, sizeof(T));
  for (int i = 0; i < int(sizeof(T) / 4); i++) w[i] = __shfl_xor_sync(0xffffffffu, w[i], mask);
  memcpy(&v, w, sizeof(T));
  return v;
}

struct SumOp {
  template <class T>
  __device__ T operator()(T a, T b) const { return a + b; }
};
struct MaxOp {  // the CPU's `y > m ? y : m`: a NaN never becomes the maximum
  template <class T>
  __device__ T operator()(T a, T b) const { return b > a ? b : a; }
};

// op over the v of every thread of a block of BLOCK threads (blockDim.x == BLOCK, a multiple of 32),
// returned to every thread. op must be commutative. Every thread must call it; it ends with a barrier,
// so it can be called again at once. The combining order is fixed: results are deterministic.
template <int BLOCK, class T, class Op>
__device__ T block_all_reduce(T v, Op op) {
  static_assert(BLOCK % 32 == 0 && BLOCK <= 1024, "whole warps");
  __shared__ T warp_result[BLOCK / 32];
  __shared__ T result;
  for (int mask = 16; mask > 0; mask >>= 1) v = op(v, shfl_xor(v, mask));
  if (threadIdx.x % 32 == 0) warp_result[threadIdx.x / 32] = v;
  __syncthreads();
  if (threadIdx.x == 0) {
    T r = warp_result[0];
    for (int w = 1; w < BLOCK / 32; w++) r = op(r, warp_result[w]);
    result = r;
  }
  __syncthreads();
  const T all = result;
  __syncthreads();
  return all;
}

}  // namespace cuda
}  // namespace pft
