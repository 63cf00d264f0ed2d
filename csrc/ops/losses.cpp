// Glue for the fused ops: dense (GEMM + bias + activation), softmax cross-entropy (dense and sparse
// labels), and the pointwise losses (MSE, Huber, binary cross-entropy). Each is one forward kernel
// that saves what backward needs, one backward kernel, and one tape entry. Under a recording outer tape
// (second order) the backward pass is the derivative of the same composition of primitive ops.
#include <omp.h>

#include "ops.h"

namespace pft {
namespace ops {

bool outer_tape_records(const TapeEntry& e, const TensorPtr& dout) {
  if (!any_tape_active()) return false;
  int64_t ids[kMaxOpInputs + 2];
  int n = 0;
  ids[n++] = dout->id;
  if (e.out) ids[n++] = e.out->id;
  for (int k = 0; k < e.n_in; k++)
    if (e.in[k]) ids[n++] = e.in[k]->id;
  return should_record(ids, n);
}

static void check_float_same(const char* op, const TensorPtr& a, const char* an, const TensorPtr& b, const char* bn) {
  if (!is_floating(a->dtype))
    throw TypeError(std::string(op) + ": " + an + " must be float32 or float64, got " + describe(*a));
  if (a->dtype != b->dtype)
    throw InvalidArgument(std::string(op) + ": dtype mismatch, " + an + " is " + describe(*a) + " and " + bn + " is " +
                          describe(*b) + "; cast one with tf.cast");
}

// Rows of x (..., D): the product of its leading dimensions (not numel / D, which fails for D == 0).
static int64_t leading_rows(const TensorPtr& x) {
  int64_t n = 1;
  for (int i = 0; i + 1 < x->ndim(); i++) n *= x->shape.d[i];
  return n;
}

static Shape drop_last(const Shape& s) {
  Shape o;
  for (int i = 0; i + 1 < s.ndim; i++) o.push_back(s.d[i]);
  return o;
}

// ---- dense -------------------------------------------------------------------------------------------
static TensorPtr dense_composed(const TensorPtr& x, const TensorPtr& W, const TensorPtr& b, Activation act) {
  const int64_t D = W->shape.d[0], K = W->shape.d[1];
  Shape os = drop_last(x->shape);
  os.push_back(K);
  TensorPtr z = matmul(reshape(x, Shape{leading_rows(x), D}), W, false, false);
  if (b) z = add(z, b);
  switch (act) {
    case Activation::Linear: break;
    case Activation::Relu: z = unary(UnaryOp::Relu, z); break;
    case Activation::Sigmoid: z = unary(UnaryOp::Sigmoid, z); break;
    case Activation::Tanh: z = unary(UnaryOp::Tanh, z); break;
    case Activation::Softmax: z = softmax(z, -1, false); break;
  }
  return reshape(z, os);
}

static void dense_backward(const TapeEntry& e, const TensorPtr* dout, TensorPtr* din) {
  const TensorPtr &x = e.in[0], &W = e.in[1], &b = e.in[2];
  const Activation act = Activation(e.attr[0]);
  if (outer_tape_records(e, dout[0])) {
    backward_by_composition(e, dout[0], din, [&] { return dense_composed(x, W, b, act); });
    return;
  }
  const int64_t D = W->shape.d[0], K = W->shape.d[1], N = leading_rows(x);
  const bool gpu = on_gpu(x->device());  // the CUDA kernel sums dbias without per-thread partials
  const int threads = gpu ? 0 : intra_op_threads();
  TensorPtr dx = e.need(0) ? empty(x->dtype, x->shape, x->device()) : nullptr;
  TensorPtr dW = e.need(1) ? empty(W->dtype, W->shape, W->device()) : nullptr;
  TensorPtr db = (b && e.need(2)) ? empty(b->dtype, b->shape, b->device()) : nullptr;
  TensorPtr dz = act != Activation::Linear ? empty(x->dtype, Shape{N, K}, x->device()) : nullptr;
  TensorPtr partials = (db && act != Activation::Linear && !gpu) ? empty(x->dtype, Shape{threads, K}, x->device()) : nullptr;
  dispatch_float(x->dtype, "dense", [&](auto tag) {
    using T = decltype(tag);
    auto p = [](const TensorPtr& t) { return t ? t->data<T>() : nullptr; };
    GILRelease nogil(double(N) * double(D) * double(K) >= double(kReleaseGILWork));
    PFT_KERNEL_FOR(x->device(), dense_backward<T>)(p(dx), p(dW), p(db), p(dz), p(partials), threads, dout[0]->data<T>(), x->data<T>(),
                           W->data<T>(), e.out->data<T>(), N, D, K, act);
  });
  din[0] = dx;
  din[1] = dW;
  din[2] = db;
}
static const OpDef kDense = {"dense", dense_backward};

TensorPtr dense(const TensorPtr& x, const TensorPtr& W, const TensorPtr& b, Activation act) {
  if (misplaced({x.get(), W.get(), b.get()})) {
    const Device d = op_device("dense", {x.get(), W.get(), b.get()});
    return dense(to_device(x, d), to_device(W, d), b ? to_device(b, d) : b, act);
  }
  if (int(act) < 0 || int(act) >= kNumActivations)
    throw InvalidArgument("dense: activation code " + std::to_string(int(act)) +
                          " is not one of _core.ACTIVATIONS (0.." + std::to_string(kNumActivations - 1) + ")");
  check_float_same("dense", x, "x", W, "kernel");
  if (W->ndim() != 2) throw InvalidArgument("dense: kernel must have rank 2, got " + describe(*W));
  if (x->ndim() < 1 || x->shape.d[x->ndim() - 1] != W->shape.d[0])
    throw InvalidArgument("dense: the last dimension of x " + describe(*x) + " must equal the kernel's first dimension " +
                          describe(*W));
  const int64_t D = W->shape.d[0], K = W->shape.d[1], N = leading_rows(x);
  if (b) {
    check_float_same("dense", x, "x", b, "bias");
    if (b->ndim() != 1 || b->shape.d[0] != K)
      throw InvalidArgument("dense: bias must have shape [" + std::to_string(K) + "], got " + describe(*b));
  }
  Shape os = drop_last(x->shape);
  os.push_back(K);
  auto out = empty(x->dtype, os, x->device());
  dispatch_float(x->dtype, "dense", [&](auto tag) {
    using T = decltype(tag);
    GILRelease nogil(double(N) * double(D) * double(K) >= double(kReleaseGILWork));
    PFT_KERNEL_FOR(out->device(), dense_forward<T>)(out->data<T>(), x->data<T>(), W->data<T>(), b ? b->data<T>() : nullptr, N, D, K, act);
  });
  int64_t attr = int64_t(act);
  finish_op(&kDense, "dense", {x, W, b}, out, &attr, 1);
  return out;
}

// ---- softmax cross-entropy -----------------------------------------------------------------------------
static TensorPtr xent_composed(const TensorPtr& labels, const TensorPtr& logits, double smoothing) {
  TensorPtr y = labels;
  if (smoothing != 0) {
    const double C = double(logits->shape.d[logits->ndim() - 1]);
    y = add_scalar(mul_scalar(labels, 1.0 - smoothing), smoothing / C);
  }
  uint32_t last = 1u << (logits->ndim() - 1);
  return neg(reduce(ReduceOp::Sum, mul(y, softmax(logits, -1, true)), last, false));
}

static void xent_backward(const TapeEntry& e, const TensorPtr* dout, TensorPtr* din) {
  const TensorPtr &labels = e.in[0], &logits = e.in[1];
  const double s = e.fattr;
  // The labels' gradient (rarely wanted) and every higher-order case go through the composition.
  if (e.need(0) || outer_tape_records(e, dout[0])) {
    backward_by_composition(e, dout[0], din, [&] { return xent_composed(labels, logits, s); });
    return;
  }
  const int64_t C = logits->shape.d[logits->ndim() - 1], N = C ? logits->numel / C : 0;
  auto dz = empty(logits->dtype, logits->shape, logits->device());
  dispatch_float(logits->dtype, "softmax_cross_entropy", [&](auto tag) {
    using T = decltype(tag);
    GILRelease nogil(N * C >= kReleaseGILWork);
    PFT_KERNEL_FOR(dz->device(), softmax_xent_backward<T>)(dz->data<T>(), dout[0]->data<T>(), logits->data<T>(), e.saved->data<T>(),
                                  labels->data<T>(), N, C, T(s));
  });
  din[1] = dz;
}
static const OpDef kSoftmaxXent = {"softmax_cross_entropy", xent_backward};

TensorPtr softmax_cross_entropy(const TensorPtr& labels, const TensorPtr& logits, double smoothing) {
  if (misplaced({labels.get(), logits.get()})) {
    const Device d = op_device("softmax_cross_entropy", {labels.get(), logits.get()});
    return softmax_cross_entropy(to_device(labels, d), to_device(logits, d), smoothing);
  }
  check_float_same("softmax_cross_entropy", logits, "logits", labels, "labels");
  if (logits->ndim() < 1 || labels->shape != logits->shape)
    throw InvalidArgument("softmax_cross_entropy: labels " + describe(*labels) + " and logits " + describe(*logits) +
                          " must have the same shape [..., num_classes]");
  const int64_t C = logits->shape.d[logits->ndim() - 1], N = C ? logits->numel / C : 0;
  if (C == 0) throw InvalidArgument("softmax_cross_entropy: logits " + describe(*logits) + " have no classes");
  auto loss = empty(logits->dtype, drop_last(logits->shape), logits->device());
  auto lse = empty(logits->dtype, Shape{N, 2}, logits->device());  // {row max, log sum exp(z - max)}
  dispatch_float(logits->dtype, "softmax_cross_entropy", [&](auto tag) {
    using T = decltype(tag);
    GILRelease nogil(N * C >= kReleaseGILWork);
    PFT_KERNEL_FOR(loss->device(), softmax_xent_forward<T>)(loss->data<T>(), lse->data<T>(), logits->data<T>(), labels->data<T>(), N, C,
                                 T(smoothing));
  });
  finish_op(&kSoftmaxXent, "softmax_cross_entropy", {labels, logits}, loss, nullptr, 0, smoothing, lse);
  return loss;
}

static TensorPtr sparse_xent_composed(const TensorPtr& labels, const TensorPtr& logits) {
  const int64_t C = logits->shape.d[logits->ndim() - 1];
  auto onehot = one_hot(labels, C, 1.0, 0.0, -1, logits->dtype);
  return xent_composed(onehot, logits, 0.0);
}

static void sparse_xent_backward(const TapeEntry& e, const TensorPtr* dout, TensorPtr* din) {
  const TensorPtr &labels = e.in[0], &logits = e.in[1];
  if (outer_tape_records(e, dout[0])) {
    backward_by_composition(e, dout[0], din, [&] { return sparse_xent_composed(labels, logits); });
    return;
  }
  const int64_t C = logits->shape.d[logits->ndim() - 1], N = C ? logits->numel / C : 0;
  auto dz = empty(logits->dtype, logits->shape, logits->device());
  dispatch_float(logits->dtype, "sparse_softmax_cross_entropy", [&](auto tag) {
    using T = decltype(tag);
    GILRelease nogil(N * C >= kReleaseGILWork);
    if (labels->dtype == DType::Int32)
      PFT_KERNEL_FOR(dz->device(), sparse_softmax_xent_backward<T, int32_t>)(dz->data<T>(), dout[0]->data<T>(), logits->data<T>(),
                                                    e.saved->data<T>(), labels->data<int32_t>(), N, C);
    else
      PFT_KERNEL_FOR(dz->device(), sparse_softmax_xent_backward<T, int64_t>)(dz->data<T>(), dout[0]->data<T>(), logits->data<T>(),
                                                    e.saved->data<T>(), labels->data<int64_t>(), N, C);
  });
  din[1] = dz;
}
static const OpDef kSparseSoftmaxXent = {"sparse_softmax_cross_entropy", sparse_xent_backward};

// Checks the inputs of both sparse cross-entropies: float logits [..., C > 0], integer labels [...] in [0, C).
static void check_sparse(const char* op, const TensorPtr& labels, const TensorPtr& logits) {
  if (!is_floating(logits->dtype)) throw TypeError(std::string(op) + ": logits must be float32 or float64, got " + describe(*logits));
  if (!is_integer(labels->dtype))
    throw TypeError(std::string(op) + ": labels must be int32 or int64 class indices, got " + describe(*labels) +
                    " (for one-hot or probability labels use the dense cross-entropy)");
  if (logits->ndim() < 1 || labels->shape != drop_last(logits->shape))
    throw InvalidArgument(std::string(op) + ": labels " + describe(*labels) + " must have the shape of logits " +
                          describe(*logits) + " without the last (class) dimension");
  const int64_t C = logits->shape.d[logits->ndim() - 1], N = C ? logits->numel / C : 0;
  if (C == 0) throw InvalidArgument(std::string(op) + ": logits " + describe(*logits) + " have no classes");
  const TensorPtr hl = host_copy(labels);  // the range check reads the labels on the host
  for (int64_t n = 0; n < N; n++) {
    int64_t l = hl->dtype == DType::Int32 ? hl->data<int32_t>()[n] : hl->data<int64_t>()[n];
    if (l < 0 || l >= C)
      throw InvalidArgument(std::string(op) + ": received a label value of " + std::to_string(l) +
                            " which is outside the valid range of [0, " + std::to_string(C) + ") (labels " +
                            describe(*labels) + ", logits " + describe(*logits) + ")");
  }
}

TensorPtr sparse_softmax_cross_entropy(const TensorPtr& labels, const TensorPtr& logits) {
  const char* op = "sparse_softmax_cross_entropy";
  if (misplaced({labels.get(), logits.get()})) {
    const Device d = op_device(op, {labels.get(), logits.get()});
    return sparse_softmax_cross_entropy(to_device(labels, d), to_device(logits, d));
  }
  check_sparse(op, labels, logits);
  const int64_t C = logits->shape.d[logits->ndim() - 1], N = logits->numel / C;
  auto loss = empty(logits->dtype, labels->shape, logits->device());
  auto lse = empty(logits->dtype, Shape{N, 2}, logits->device());  // {row max, log sum exp(z - max)}
  dispatch_float(logits->dtype, op, [&](auto tag) {
    using T = decltype(tag);
    GILRelease nogil(N * C >= kReleaseGILWork);
    if (labels->dtype == DType::Int32)
      PFT_KERNEL_FOR(loss->device(), sparse_softmax_xent_forward<T, int32_t>)(loss->data<T>(), lse->data<T>(), logits->data<T>(),
                                                   labels->data<int32_t>(), N, C);
    else
      PFT_KERNEL_FOR(loss->device(), sparse_softmax_xent_forward<T, int64_t>)(loss->data<T>(), lse->data<T>(), logits->data<T>(),
                                                   labels->data<int64_t>(), N, C);
  });
  finish_op(&kSparseSoftmaxXent, op, {labels, logits}, loss, nullptr, 0, 0.0, lse);
  return loss;
}

// ---- sparse softmax cross-entropy with the batch mean fused in ---------------------------------------------
// loss = sum_n xent_n / N, Keras's 'sum_over_batch_size' reduction of the per-row losses. When a tape
// watches the logits the forward kernel also writes dlogits = (softmax - onehot) / N (TF's kernel likewise
// computes its backprop in the forward pass): the backward pass is then nothing for the usual upstream
// gradient of 1 (the saved tensor is the gradient; tensors are immutable) and one scaling otherwise.
// CPU kernel only: on a GPU the op is the composition of the per-row op and the mean.
static TensorPtr sparse_xent_mean_composed(const TensorPtr& labels, const TensorPtr& logits) {
  auto rows = sparse_softmax_cross_entropy(labels, logits);
  const uint32_t all = rows->ndim() ? (1u << rows->ndim()) - 1 : 0u;
  return div(reduce(ReduceOp::Sum, rows, all, false), full(logits->dtype, Shape{}, double(rows->numel), logits->device()));
}

static void sparse_xent_mean_backward(const TapeEntry& e, const TensorPtr* dout, TensorPtr* din) {
  const TensorPtr &labels = e.in[0], &logits = e.in[1];
  if (!e.saved || outer_tape_records(e, dout[0])) {
    backward_by_composition(e, dout[0], din, [&] { return sparse_xent_mean_composed(labels, logits); });
    return;
  }
  const TensorPtr& g = dout[0];
  bool one = false;
  if (g->device().type == DeviceType::CPU && g->numel == 1)
    dispatch_float(g->dtype, "sparse_softmax_cross_entropy", [&](auto tag) {
      using T = decltype(tag);
      one = *g->data<T>() == T(1);
    });
  din[1] = one ? e.saved : mul(e.saved, g);
}
static const OpDef kSparseSoftmaxXentMean = {"sparse_softmax_cross_entropy_mean", sparse_xent_mean_backward};

TensorPtr sparse_softmax_cross_entropy_mean(const TensorPtr& labels, const TensorPtr& logits) {
  const char* op = "sparse_softmax_cross_entropy";
  if (misplaced({labels.get(), logits.get()})) {
    const Device d = op_device(op, {labels.get(), logits.get()});
    return sparse_softmax_cross_entropy_mean(to_device(labels, d), to_device(logits, d));
  }
  check_sparse(op, labels, logits);
  const int64_t C = logits->shape.d[logits->ndim() - 1], N = logits->numel / C;
  if (N == 0)  // Keras's divide_no_nan: an empty batch's mean is 0 (and its gradient an empty tensor)
    return mul_scalar(reduce(ReduceOp::Sum, sparse_softmax_cross_entropy(labels, logits),
                             (1u << (logits->ndim() - 1)) - 1, false), 0.0);
  if (logits->device().type != DeviceType::CPU) return sparse_xent_mean_composed(labels, logits);
  const int64_t lid = logits->id;
  TensorPtr grad = any_tape_active() && should_record(&lid, 1) ? empty(logits->dtype, logits->shape) : nullptr;
  auto loss = empty(logits->dtype, Shape{});
  dispatch_float(logits->dtype, op, [&](auto tag) {
    using T = decltype(tag);
    T* dz = grad ? grad->data<T>() : nullptr;
    T v;
    {
      GILRelease nogil(N * C >= kReleaseGILWork);
      if (labels->dtype == DType::Int32)
        v = cpu::sparse_softmax_xent_mean<T, int32_t>(dz, logits->data<T>(), labels->data<int32_t>(), N, C);
      else
        v = cpu::sparse_softmax_xent_mean<T, int64_t>(dz, logits->data<T>(), labels->data<int64_t>(), N, C);
    }
    *loss->data<T>() = v;
  });
  finish_op(&kSparseSoftmaxXentMean, op, {labels, logits}, loss, nullptr, 0, 0.0, grad);
  return loss;
}

// ---- pointwise losses ------------------------------------------------------------------------------------
static TensorPtr pointwise_composed(PointwiseLoss kind, const TensorPtr& target, const TensorPtr& pred, double p) {
  const uint32_t last = pred->ndim() ? 1u << (pred->ndim() - 1) : 0u;
  TensorPtr l;
  switch (kind) {
    case PointwiseLoss::MeanSquaredError: l = unary(UnaryOp::Square, sub(pred, target)); break;
    case PointwiseLoss::Huber: {  // where(|e| <= d, 0.5 e^2, d |e| - 0.5 d^2)
      auto err = sub(pred, target);
      auto a = unary(UnaryOp::Abs, err);
      auto d = full(pred->dtype, Shape{}, p, pred->device());
      l = where(binary(BinaryOp::LessEqual, a, d), mul_scalar(unary(UnaryOp::Square, err), 0.5),
                add_scalar(mul(d, a), -0.5 * p * p));
      break;
    }
    case PointwiseLoss::BinaryCrossentropy: {  // -(z log(p) + (1 - z) log(1 - p)), p clipped to [eps, 1 - eps]
      auto pc = binary(BinaryOp::Minimum, binary(BinaryOp::Maximum, pred, full(pred->dtype, Shape{}, p, pred->device())),
                       full(pred->dtype, Shape{}, 1.0 - p, pred->device()));
      auto one = full(pred->dtype, Shape{}, 1.0, pred->device());
      l = neg(add(mul(target, unary(UnaryOp::Log, pc)), mul(sub(one, target), unary(UnaryOp::Log, sub(one, pc)))));
      break;
    }
    case PointwiseLoss::BinaryCrossentropyFromLogits: {  // max(x, 0) - x z + log(1 + exp(-|x|))
      auto one = full(pred->dtype, Shape{}, 1.0, pred->device());
      l = add(sub(unary(UnaryOp::Relu, pred), mul(pred, target)),
              unary(UnaryOp::Log, add(one, unary(UnaryOp::Exp, neg(unary(UnaryOp::Abs, pred))))));
      break;
    }
    case PointwiseLoss::LogCosh: {  // log cosh e = |e| + log1p(exp(-2|e|)) - log 2 (even: its gradient at 0 is 0)
      auto a = unary(UnaryOp::Abs, sub(pred, target));
      l = add_scalar(add(a, unary(UnaryOp::Log1p, unary(UnaryOp::Exp, mul_scalar(a, -2.0)))), -0.6931471805599453);
      break;
    }
  }
  return reduce_mean(l, last, false);
}

static void pointwise_backward(const TapeEntry& e, const TensorPtr* dout, TensorPtr* din) {
  const TensorPtr &target = e.in[0], &pred = e.in[1];
  const PointwiseLoss kind = PointwiseLoss(e.attr[0]);
  const double p = e.fattr;
  if (e.need(0) || outer_tape_records(e, dout[0])) {
    backward_by_composition(e, dout[0], din, [&] { return pointwise_composed(kind, target, pred, p); });
    return;
  }
  const int64_t D = pred->ndim() ? pred->shape.d[pred->ndim() - 1] : 1, N = D ? pred->numel / D : 0;
  auto dpred = empty(pred->dtype, pred->shape, pred->device());
  dispatch_float(pred->dtype, pointwise_loss_name(kind), [&](auto tag) {
    using T = decltype(tag);
    GILRelease nogil(N * D >= kReleaseGILWork);
    PFT_KERNEL_FOR(dpred->device(), pointwise_loss_backward<T>)(kind, dpred->data<T>(), dout[0]->data<T>(), pred->data<T>(), target->data<T>(), N,
                                    D, T(p));
  });
  din[1] = dpred;
}
static const OpDef kPointwiseLoss[] = {
#define PFT_ROW(E, stem) {#stem, pointwise_backward},
    PFT_POINTWISE_LOSSES(PFT_ROW)
#undef PFT_ROW
};

TensorPtr pointwise_loss(PointwiseLoss kind, const TensorPtr& target, const TensorPtr& pred, double param) {
  if (int(kind) < 0 || int(kind) >= kNumPointwiseLosses)
    throw InvalidArgument("pointwise_loss: unknown kind " + std::to_string(int(kind)));
  const char* op = pointwise_loss_name(kind);
  if (misplaced({target.get(), pred.get()})) {
    const Device d = op_device(op, {target.get(), pred.get()});
    return pointwise_loss(kind, to_device(target, d), to_device(pred, d), param);
  }
  check_float_same(op, pred, "y_pred", target, "y_true");
  if (target->shape != pred->shape)
    throw InvalidArgument(std::string(op) + ": y_true " + describe(*target) + " and y_pred " + describe(*pred) +
                          " must have the same shape");
  if (kind == PointwiseLoss::Huber && !(param >= 0)) throw InvalidArgument("huber: delta must be non-negative, got " + std::to_string(param));
  const int64_t D = pred->ndim() ? pred->shape.d[pred->ndim() - 1] : 1, N = D ? pred->numel / D : 0;
  auto loss = empty(pred->dtype, drop_last(pred->shape), pred->device());
  if (D == 0) {  // mean over an empty axis: NaN, as Keras/NumPy give
    dispatch_float(pred->dtype, op, [&](auto tag) {
      using T = decltype(tag);
      PFT_KERNEL_FOR(loss->device(), fill_forward<T>)(loss->data<T>(), T(NAN), loss->numel);
    });
  } else {
    dispatch_float(pred->dtype, op, [&](auto tag) {
      using T = decltype(tag);
      GILRelease nogil(N * D >= kReleaseGILWork);
      PFT_KERNEL_FOR(loss->device(), pointwise_loss_forward<T>)(kind, loss->data<T>(), pred->data<T>(), target->data<T>(), N, D, T(param));
    });
  }
  int64_t attr = int64_t(kind);
  finish_op(&kPointwiseLoss[int(kind)], op, {target, pred}, loss, &attr, 1, param);
  return loss;
}

}  // namespace ops
}  // namespace pft
