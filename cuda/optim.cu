// Optimizer updates, in place (mirror of csrc/cpu/optim.cpp): Keras 3 SGD and Adam in the CPU's float
// operation order. Every multiply, add and divide is an explicitly rounded intrinsic: nvcc would
// otherwise fuse a*b + c into an FMA, while the CPU is built with -ffp-contract=off, and the GPU would
// drift from the CPU by an ulp per step. The *_many launchers update all variables of one
// apply_gradients in one launch (multi-tensor apply, as in apex / PyTorch's fused optimizers).
#include "common.cuh"

namespace pft {
namespace cuda {

constexpr int kBlock = 256;

// Grid-stride loop over [0, n) with int64 indices (grids are capped by grid_for).
#define PFT_GRID_STRIDE(i, n) \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

// ---- per-element steps -----------------------------------------------------------------------------
__device__ __forceinline__ float add_rn(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ double add_rn(double a, double b) { return __dadd_rn(a, b); }
__device__ __forceinline__ float sub_rn(float a, float b) { return __fsub_rn(a, b); }
__device__ __forceinline__ double sub_rn(double a, double b) { return __dsub_rn(a, b); }
__device__ __forceinline__ float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ double mul_rn(double a, double b) { return __dmul_rn(a, b); }
__device__ __forceinline__ float div_rn(float a, float b) { return __fdiv_rn(a, b); }
__device__ __forceinline__ double div_rn(double a, double b) { return __ddiv_rn(a, b); }
__device__ __forceinline__ float sqrt_rn(float a) { return __fsqrt_rn(a); }
__device__ __forceinline__ double sqrt_rn(double a) { return __dsqrt_rn(a); }

// Keras 3 SGD on element i; m is null when momentum == 0:
//   m = -g*lr + m*momentum;  var += nesterov ? (-g*lr + m*momentum) : m     (momentum != 0)
//   var -= g*lr                                                            (momentum == 0)
template <class T>
__device__ __forceinline__ void sgd_step(T* var, T* m, const T* g, int64_t i, T lr, T momentum, bool nesterov) {
  if (!m) {
    var[i] = sub_rn(var[i], mul_rn(g[i], lr));
    return;
  }
  const T mi = add_rn(mul_rn(-g[i], lr), mul_rn(m[i], momentum));
  m[i] = mi;
  var[i] = add_rn(var[i], nesterov ? add_rn(mul_rn(-g[i], lr), mul_rn(mi, momentum)) : mi);
}

// Keras 3 Adam on element i; vhat is null unless amsgrad. alpha = lr sqrt(1-b2^t)/(1-b1^t):
//   m += (g - m) * (1 - b1);  v += (g^2 - v) * (1 - b2);  [vhat = max(vhat, v); v = vhat]
//   var -= (m * alpha) / (sqrt(v) + eps)
template <class T>
__device__ __forceinline__ void adam_step(T* var, T* m, T* v, T* vhat, const T* g, int64_t i, T alpha, T one_minus_b1,
                                          T one_minus_b2, T epsilon) {
  const T gi = g[i];
  const T mi = add_rn(m[i], mul_rn(sub_rn(gi, m[i]), one_minus_b1));
  T vi = add_rn(v[i], mul_rn(sub_rn(mul_rn(gi, gi), v[i]), one_minus_b2));
  m[i] = mi;
  v[i] = vi;
  if (vhat) {
    vi = vhat[i] > vi ? vhat[i] : vi;
    vhat[i] = vi;
  }
  var[i] = sub_rn(var[i], div_rn(mul_rn(mi, alpha), add_rn(sqrt_rn(vi), epsilon)));
}

// ---- one variable: var, m, v, vhat, grad are (n,), a grid-stride loop -------------------------------
template <class T>
__global__ void sgd_update_kernel(T* var, T* m, const T* g, int64_t n, T lr, T momentum, bool nesterov) {
  PFT_GRID_STRIDE(i, n)
    sgd_step(var, m, g, i, lr, momentum, nesterov);
}

template <class T>
void sgd_update(T* var, T* m, const T* grad, int64_t n, T lr, T momentum, bool nesterov) {
  if (n == 0) return;
  sgd_update_kernel<<<grid_for(n, kBlock), kBlock, 0, current_stream()>>>(var, m, grad, n, lr, momentum, nesterov);
  PFT_LAUNCH_CHECK();
}

template <class T>
__global__ void adam_update_kernel(T* var, T* m, T* v, T* vhat, const T* g, int64_t n, T alpha, T one_minus_b1,
                                   T one_minus_b2, T epsilon) {
  PFT_GRID_STRIDE(i, n)
    adam_step(var, m, v, vhat, g, i, alpha, one_minus_b1, one_minus_b2, epsilon);
}

template <class T>
void adam_update(T* var, T* m, T* v, T* vhat, const T* grad, int64_t n, T alpha, T one_minus_b1, T one_minus_b2,
                 T epsilon) {
  if (n == 0) return;
  adam_update_kernel<<<grid_for(n, kBlock), kBlock, 0, current_stream()>>>(var, m, v, vhat, grad, n, alpha,
                                                                           one_minus_b1, one_minus_b2, epsilon);
  PFT_LAUNCH_CHECK();
}

// ---- many variables: multi-tensor apply --------------------------------------------------------------
// Every tensor is cut into kChunk-element chunks and each block of a launch updates one chunk. The
// tensors' pointers and the block -> (slot, chunk) map travel by value in the kernel arguments (kept
// under the classic 4 KiB parameter limit), so no device-side table is allocated or copied.
constexpr int kMaxTensors = 40;      // tensor slots per launch
constexpr int kMaxBlocks = 320;      // chunks (blocks) per launch
constexpr int64_t kChunk = 1 << 16;  // elements per chunk
constexpr int kManyBlock = 512;      // threads per block: 128 elements each per full chunk

struct ChunkMap {
  int32_t chunk[kMaxBlocks];  // chunk index within its tensor
  uint8_t slot[kMaxBlocks];   // tensor slot of the launch
};

template <class T>
struct SgdTensors {
  T* var[kMaxTensors];
  T* m[kMaxTensors];  // null entries when momentum == 0
  const T* g[kMaxTensors];
  int64_t n[kMaxTensors];
};

template <class T>
struct AdamTensors {
  T* var[kMaxTensors];
  T* m[kMaxTensors];
  T* v[kMaxTensors];
  T* vhat[kMaxTensors];  // null entries unless amsgrad
  const T* g[kMaxTensors];
  int64_t n[kMaxTensors];
};
static_assert(sizeof(AdamTensors<double>) + sizeof(ChunkMap) + 4 * sizeof(double) <= 4096,
              "multi-tensor kernel arguments exceed 4 KiB");

// Element range [begin, end) of this block's chunk in tensor slot s.
struct ChunkRange {
  int s;
  int64_t begin, end;
};
__device__ __forceinline__ ChunkRange block_chunk(const ChunkMap& map, const int64_t* n) {
  ChunkRange c;
  c.s = map.slot[blockIdx.x];
  c.begin = int64_t(map.chunk[blockIdx.x]) * kChunk;
  c.end = c.begin + kChunk < n[c.s] ? c.begin + kChunk : n[c.s];
  return c;
}

template <class T>
__global__ void sgd_update_many_kernel(SgdTensors<T> t, ChunkMap map, T lr, T momentum, bool nesterov) {
  const ChunkRange c = block_chunk(map, t.n);
  for (int64_t i = c.begin + threadIdx.x; i < c.end; i += blockDim.x)
    sgd_step(t.var[c.s], t.m[c.s], t.g[c.s], i, lr, momentum, nesterov);
}

template <class T>
__global__ void adam_update_many_kernel(AdamTensors<T> t, ChunkMap map, T alpha, T one_minus_b1, T one_minus_b2,
                                        T epsilon) {
  const ChunkRange c = block_chunk(map, t.n);
  for (int64_t i = c.begin + threadIdx.x; i < c.end; i += blockDim.x)
    adam_step(t.var[c.s], t.m[c.s], t.v[c.s], t.vhat[c.s], t.g[c.s], i, alpha, one_minus_b1, one_minus_b2, epsilon);
}

// Packs the chunks of tensors 0..count-1 into launches of at most kMaxTensors slots and kMaxBlocks
// chunks: place(slot, t) stores tensor t's pointers in a slot of the kernel's tensor list and
// launch(map, blocks) launches what is packed. A tensor cut by a full launch is placed again in the
// next one. Empty tensors get no chunk.
template <class Place, class Launch>
static void multi_tensor_apply(const int64_t* sizes, int count, Place place, Launch launch) {
  ChunkMap map{};
  int slots = 0, blocks = 0;
  for (int t = 0; t < count; t++) {
    const int64_t chunks = ceil_div(sizes[t], kChunk);
    int slot = -1;  // t's slot in the launch being packed
    for (int64_t c = 0; c < chunks; c++) {
      if (slot < 0) {
        if (slots == kMaxTensors) {  // every slot holds a chunk, so blocks > 0 here
          launch(map, blocks);
          slots = blocks = 0;
        }
        slot = slots++;
        place(slot, t);
      }
      map.slot[blocks] = uint8_t(slot);
      map.chunk[blocks] = int32_t(c);
      if (++blocks == kMaxBlocks) {
        launch(map, blocks);
        slots = blocks = 0;
        slot = -1;
      }
    }
  }
  if (blocks > 0) launch(map, blocks);
}

template <class T>
void sgd_update_many(T* const* vars, T* const* moms, const T* const* grads, const int64_t* sizes, int count, T lr,
                     T momentum, bool nesterov) {
  SgdTensors<T> list{};
  multi_tensor_apply(
      sizes, count,
      [&](int slot, int t) {
        list.var[slot] = vars[t];
        list.m[slot] = moms ? moms[t] : nullptr;
        list.g[slot] = grads[t];
        list.n[slot] = sizes[t];
      },
      [&](const ChunkMap& map, int blocks) {
        sgd_update_many_kernel<<<blocks, kManyBlock, 0, current_stream()>>>(list, map, lr, momentum, nesterov);
        PFT_LAUNCH_CHECK();
      });
}

template <class T>
void adam_update_many(T* const* vars, T* const* ms, T* const* vs, T* const* vhats, const T* const* grads,
                      const int64_t* sizes, int count, T alpha, T one_minus_b1, T one_minus_b2, T epsilon) {
  AdamTensors<T> list{};
  multi_tensor_apply(
      sizes, count,
      [&](int slot, int t) {
        list.var[slot] = vars[t];
        list.m[slot] = ms[t];
        list.v[slot] = vs[t];
        list.vhat[slot] = vhats ? vhats[t] : nullptr;
        list.g[slot] = grads[t];
        list.n[slot] = sizes[t];
      },
      [&](const ChunkMap& map, int blocks) {
        adam_update_many_kernel<<<blocks, kManyBlock, 0, current_stream()>>>(list, map, alpha, one_minus_b1,
                                                                             one_minus_b2, epsilon);
        PFT_LAUNCH_CHECK();
      });
}

// ---- explicit instantiations (the CPU's list) ------------------------------------------------------
PFT_INSTANCES_OPTIM()

#undef PFT_GRID_STRIDE

}  // namespace cuda
}  // namespace pft
