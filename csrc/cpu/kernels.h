// CPU kernels: plain functions over raw pointers. Outputs first, then inputs, then sizes; gradients take
// a `d` prefix. No allocation, no tape, no Python. The glue in ops/ checks shapes and allocates.
// cuda/<family>.cu mirrors these names and signatures.
#pragma once
#include <cstdint>

#include "../tensor.h"

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

// A broadcast of up to 3 operands onto an output, with dimensions collapsed as far as strides allow.
// stride[k][i] is operand k's element stride along dimension i (0 where it is broadcast).
struct BroadcastPlan {
  int ndim = 0;
  int64_t shape[kMaxRank] = {};
  int64_t stride[3][kMaxRank] = {};
  int64_t numel = 1;
};
// Builds the plan for operands `in[0..k)` broadcast to `out` (shapes already checked compatible).
BroadcastPlan make_broadcast_plan(const Shape& out, const Shape* const* in, int k);

enum class UnaryOp : uint8_t { Neg, Abs, Square, Sqrt, Exp, Log, Tanh, Sigmoid, Relu, Sign, Reciprocal, Rsqrt };
enum class BinaryOp : uint8_t {
  Add, Sub, Mul, Div, Pow, Maximum, Minimum,                      // same dtype out
  Less, LessEqual, Greater, GreaterEqual, Equal, NotEqual,        // bool out
};
inline bool is_comparison(BinaryOp op) { return op >= BinaryOp::Less; }
enum class ReduceOp : uint8_t { Sum, Max, Min, Prod };

namespace cpu {

template <class T>
void fill_forward(T* out, T value, int64_t n);

// ---- elementwise.cpp -------------------------------------------------------------------------------
// out, x are (n,)
template <class T>
void unary_forward(UnaryOp op, T* out, const T* x, int64_t n);
// out is plan.shape; a, b are broadcast through plan.stride[0], plan.stride[1]. R is T or bool.
template <class T, class R>
void binary_forward(BinaryOp op, R* out, const T* a, const T* b, const BroadcastPlan& plan);
// out = cond ? x : y, all broadcast through the plan (cond is stride[0]).
template <class T>
void where_forward(T* out, const bool* cond, const T* x, const T* y, const BroadcastPlan& plan);
// out is out-shape, x broadcast through plan.stride[0] (broadcast_to / gradient expansion).
template <class T>
void broadcast_forward(T* out, const T* x, const BroadcastPlan& plan);
template <class To, class From>
void cast_forward(To* out, const From* x, int64_t n);

// ---- reduce.cpp ------------------------------------------------------------------------------------
// x is (outer, r, inner), out is (outer, inner)
template <class T>
void reduce_forward(ReduceOp op, T* out, const T* x, int64_t outer, int64_t r, int64_t inner);
// x is (outer, r, inner), out is (outer, inner) int64 index of the first maximum (minimum) along r
template <class T>
void argmax_forward(int64_t* out, const T* x, int64_t outer, int64_t r, int64_t inner, bool is_min);
// softmax / log_softmax along r of x (outer, r, inner); out has x's shape. Stable: max subtracted.
template <class T>
void softmax_forward(T* out, const T* x, int64_t outer, int64_t r, int64_t inner, bool log);

// ---- linalg.cpp ------------------------------------------------------------------------------------
// out[b] (M, N) = op(a[b]) (M, K) @ op(b[b]) (K, N), a/b offsets per batch given in elements.
template <class T>
void matmul_forward(T* out, const T* a, const T* b, int64_t batch, const int64_t* a_off, const int64_t* b_off,
                    int64_t M, int64_t N, int64_t K, bool trans_a, bool trans_b, T beta_accumulate = T(0));

// out (N, K) = act(inp (N, D) @ weight (D, K) + bias (K,)); bias may be null.
template <class T>
void dense_forward(T* out, const T* inp, const T* weight, const T* bias, int64_t N, int64_t D, int64_t K, int act);
// From dout (N, K) and the saved inp, weight, out (post-activation): dz = act'(out) * dout (in the dz
// scratch (N, K)) in one pass that also sums dbias (K,) (partials (nthreads, K) scratch), then
// dinp (N, D) = dz W^T and dweight (D, K) = inp^T dz. Any of dinp/dweight/dbias may be null.
template <class T>
void dense_backward(T* dinp, T* dweight, T* dbias, T* dz, T* partials, int partial_rows, const T* dout, const T* inp,
                    const T* weight, const T* out, int64_t N, int64_t D, int64_t K, int act);

// ---- losses.cpp ------------------------------------------------------------------------------------
template <class T>
void softmax_xent_forward(T* loss, T* lse, const T* logits, const T* labels, int64_t N, int64_t C, T smoothing);
template <class T>
void softmax_xent_backward(T* dlogits, const T* dloss, const T* logits, const T* lse, const T* labels, int64_t N,
                           int64_t C, T smoothing);
template <class T, class I>
void sparse_softmax_xent_forward(T* loss, T* lse, const T* logits, const I* labels, int64_t N, int64_t C);
template <class T, class I>
void sparse_softmax_xent_backward(T* dlogits, const T* dloss, const T* logits, const T* lse, const I* labels,
                                  int64_t N, int64_t C);
// kind: 0 mse, 1 huber (param = delta), 2 bce on probabilities (param = epsilon), 3 bce on logits
template <class T>
void pointwise_loss_forward(int kind, T* loss, const T* pred, const T* target, int64_t N, int64_t D, T param);
template <class T>
void pointwise_loss_backward(int kind, T* dpred, const T* dloss, const T* pred, const T* target, int64_t N, int64_t D,
                             T param);

// ---- shape.cpp -------------------------------------------------------------------------------------
// out = x permuted: out dim i is x dim perm[i]; x_strides in elements.
template <class T>
void transpose_forward(T* out, const T* x, const Shape& out_shape, const int64_t* x_strides_permuted);
// indices (n,), out (n, depth) laid out as (outer, depth, inner) with the depth axis at position `axis`
// The backward of a strided gather: out (zeroed by the caller) at the gathered positions = dy.
// The positions are distinct (every step is non-zero), so this is a plain scatter.
template <class T>
void transpose_backward(T* dx, const T* dy, const Shape& dy_shape, const int64_t* x_strides_permuted);
template <class T, class I>
void one_hot_forward(T* out, const I* indices, int64_t outer, int64_t depth, int64_t inner, T on, T off);
template <class T>
void range_forward(T* out, double start, double delta, int64_t n);

// ---- random.cpp ------------------------------------------------------------------------------------
template <class T>
void random_normal_forward(T* out, int64_t n, double mean, double stddev, uint64_t seed);
template <class T>
void random_uniform_forward(T* out, int64_t n, double lo, double hi, uint64_t seed);

// ---- optim.cpp -------------------------------------------------------------------------------------
// Keras 3 SGD on one variable, in place. var, grad, m are (n,); m is null when momentum == 0.
template <class T>
void sgd_update(T* var, T* m, const T* grad, int64_t n, T lr, T momentum, bool nesterov);

// Keras 3 Adam on one variable, in place; vhat is null unless amsgrad. alpha = lr sqrt(1-b2^t)/(1-b1^t).
template <class T>
void adam_update(T* var, T* m, T* v, T* vhat, const T* grad, int64_t n, T alpha, T one_minus_b1, T one_minus_b2,
                 T epsilon);

}  // namespace cpu
}  // namespace pft
