// Glue for matmul: 2-D and batched with broadcast batch dimensions; transposes as BLAS flags.
#include <omp.h>

#include "ops.h"

namespace pft {
namespace ops {

static void matmul_backward(const TapeEntry& e, const TensorPtr* dout, TensorPtr* din);
static const OpDef kMatmul = {"matmul", matmul_backward};

TensorPtr matmul(const TensorPtr& a, const TensorPtr& b, bool ta, bool tb) {
  if (misplaced({a.get(), b.get()})) {
    const Device d = op_device("matmul", {a.get(), b.get()});
    return matmul(to_device(a, d), to_device(b, d), ta, tb);
  }
  if (a->dtype != b->dtype)
    throw InvalidArgument("matmul: dtype mismatch, a is " + describe(*a) + " and b is " + describe(*b) +
                          "; cast one with tf.cast so both have the same dtype");
  if (a->dtype == DType::Bool) throw TypeError("matmul: unsupported dtype bool");
  if (a->ndim() < 2 || b->ndim() < 2)
    throw InvalidArgument("matmul: both inputs must have rank >= 2, got a " + describe(*a) + " and b " + describe(*b) +
                          " (reshape a vector to [1, n] or [n, 1])");
  const int ra = a->ndim(), rb = b->ndim();
  const int64_t M = ta ? a->shape.d[ra - 1] : a->shape.d[ra - 2];
  const int64_t Ka = ta ? a->shape.d[ra - 2] : a->shape.d[ra - 1];
  const int64_t Kb = tb ? b->shape.d[rb - 1] : b->shape.d[rb - 2];
  const int64_t N = tb ? b->shape.d[rb - 2] : b->shape.d[rb - 1];
  if (Ka != Kb)
    throw InvalidArgument("matmul: inner dimensions do not match: a " + describe(*a) + (ta ? " (transposed)" : "") +
                          " has " + std::to_string(Ka) + " columns but b " + describe(*b) + (tb ? " (transposed)" : "") +
                          " has " + std::to_string(Kb) + " rows");
  // Batch dims broadcast like elementwise ops.
  Shape ba = Shape::of(a->shape.d, ra - 2), bb = Shape::of(b->shape.d, rb - 2);
  Shape batch = broadcast_shapes("matmul (batch dimensions)", ba, bb);
  Shape out_shape = batch;
  out_shape.push_back(M);
  out_shape.push_back(N);
  checked_nbytes(a->dtype, out_shape, "matmul");  // batch x M x N, checked
  auto out = empty(a->dtype, out_shape, a->device());
  const int64_t nb = batch.numel();
  // An empty output needs no offsets (its batch may still be huge: [2**40, 0, N]).
  std::vector<int64_t> a_off(out->numel ? size_t(std::max<int64_t>(nb, 1)) : 1), b_off(a_off.size());
  if (out->numel) {
    const Shape* ins[2] = {&ba, &bb};
    // Per-batch offsets: a batch index decomposed over the broadcast batch shape.
    int64_t sa[kMaxRank], sb[kMaxRank];
    int64_t st_a = M * Ka, st_b = Ka * N;
    for (int i = batch.ndim - 1; i >= 0; i--) {
      int ia = i - (batch.ndim - ba.ndim), ib = i - (batch.ndim - bb.ndim);
      int64_t da = ia >= 0 ? ba.d[ia] : 1, db = ib >= 0 ? bb.d[ib] : 1;
      sa[i] = da == 1 ? 0 : st_a;
      sb[i] = db == 1 ? 0 : st_b;
      st_a *= da;
      st_b *= db;
    }
    (void)ins;
    for (int64_t k = 0; k < nb; k++) {
      int64_t r = k, oa = 0, ob = 0;
      for (int i = batch.ndim - 1; i >= 0; i--) {
        int64_t c = r % batch.d[i];
        r /= batch.d[i];
        oa += c * sa[i];
        ob += c * sb[i];
      }
      a_off[k] = oa;
      b_off[k] = ob;
    }
  }
  dispatch_numeric(a->dtype, "matmul", [&](auto tag) {
    using T = decltype(tag);
    if (out->numel == 0) return;
    if (Ka == 0) {
      if (on_gpu(out->device()))
        gpu_memset_zero(out->raw(), out->nbytes(), out->device().index);
      else
        std::memset(out->raw(), 0, out->nbytes());
      return;
    }
    GILRelease nogil(double(nb) * double(M) * double(N) * double(Ka) >= double(kReleaseGILWork));
    PFT_KERNEL_FOR(out->device(), matmul_forward<T>)(out->data<T>(), a->data<T>(), b->data<T>(), nb, a_off.data(), b_off.data(), M, N, Ka, ta, tb, T(0));
  });
  int64_t attr[2] = {ta, tb};
  finish_op(&kMatmul, "matmul", {a, b}, out, attr, 2);
  return out;
}

static void matmul_backward(const TapeEntry& e, const TensorPtr* dout, TensorPtr* din) {
  // C = op(A) op(B). Every case is a matmul with transpose flags: no transposed copies.
  const TensorPtr& dc = dout[0];
  const TensorPtr& A = e.in[0];
  const TensorPtr& B = e.in[1];
  const bool ta = e.attr[0], tb = e.attr[1];
  const bool na = e.need(0), nb = e.need(1);  // e.g. no dX GEMM for a network's input batch
  TensorPtr da, db;
  if (!ta && !tb) {         // C = A B:      dA = dC B^T,   dB = A^T dC
    if (na) da = matmul(dc, B, false, true);
    if (nb) db = matmul(A, dc, true, false);
  } else if (!ta && tb) {   // C = A B^T:    dA = dC B,     dB = dC^T A
    if (na) da = matmul(dc, B, false, false);
    if (nb) db = matmul(dc, A, true, false);
  } else if (ta && !tb) {   // C = A^T B:    dA = B dC^T,   dB = A dC
    if (na) da = matmul(B, dc, false, true);
    if (nb) db = matmul(A, dc, false, false);
  } else {                  // C = A^T B^T:  dA = B^T dC^T, dB = dC^T A^T
    if (na) da = matmul(B, dc, true, true);
    if (nb) db = matmul(dc, A, true, true);
  }
  if (da) din[0] = sum_to_shape(da, A->shape);  // broadcast batch dims are summed back
  if (db) din[1] = sum_to_shape(db, B->shape);
}

}  // namespace ops
}  // namespace pft
