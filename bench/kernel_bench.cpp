// Native kernel workbench: each kernel is first checked against a plain double-precision
// loop on random data, then timed beside the machine's own limit measured in the same run:
//   fused MSE / Huber / softmax-CE forward+backward  -> GB/s against memcpy and a triad
//   fused dense forward+backward                     -> GFLOP/s against raw sgemm of the same shapes
//   one op recorded on the tape                      -> ns per op (inside an active tape and outside)
// Build: cmake -DPYFAST_TAPE_BENCH=ON ... && ./kernel_bench [--quick]
#include <Python.h>
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "cpu/kernels.h"
#include "math.h"
#include "ops/ops.h"
#include "tape.h"

using namespace pft;
using Clock = std::chrono::steady_clock;

static double time_min(const std::function<void()>& f, int reps, double budget_s = 2.0) {
  f();  // warm-up
  double best = 1e30, total = 0;
  for (int i = 0; i < reps && total < budget_s; i++) {
    auto t0 = Clock::now();
    f();
    double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    best = std::min(best, dt);
    total += dt;
  }
  return best;
}

static std::vector<float> randv(size_t n, float lo, float hi, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

static int g_fail = 0;
static void check(const char* what, double got, double want, double rtol) {
  double err = std::abs(got - want) / std::max(1e-12, std::abs(want));
  if (!(err <= rtol)) {
    std::printf("CHECK FAILED %s: got %.9g want %.9g (rel err %.2e)\n", what, got, want, err);
    g_fail++;
  }
}

// ---- checks against plain double loops ---------------------------------------------------------------
static void check_kernels() {
  const int64_t N = 37, D = 53, C = 11;
  auto p = randv(N * D, -2, 2, 1), t = randv(N * D, -2, 2, 2);
  std::vector<float> loss(N), dpred(N * D), dl(N, 1.0f);
  for (PointwiseLoss kind : {PointwiseLoss::MeanSquaredError, PointwiseLoss::Huber}) {
    const bool mse = kind == PointwiseLoss::MeanSquaredError;
    const float delta = 1.0f;
    cpu::pointwise_loss_forward<float>(kind, loss.data(), p.data(), t.data(), N, D, delta);
    cpu::pointwise_loss_backward<float>(kind, dpred.data(), dl.data(), p.data(), t.data(), N, D, delta);
    for (int64_t n = 0; n < N; n++) {
      double s = 0;
      for (int64_t d = 0; d < D; d++) {
        double e = double(p[n * D + d]) - t[n * D + d];
        s += mse ? e * e : (std::abs(e) <= delta ? 0.5 * e * e : delta * std::abs(e) - 0.5 * delta * delta);
        double g = mse ? 2 * e : std::max(-double(delta), std::min(double(delta), e));
        check(mse ? "mse backward" : "huber backward", dpred[n * D + d], g / D, 1e-5);
      }
      check(mse ? "mse forward" : "huber forward", loss[n], s / D, 1e-5);
    }
  }
  auto z = randv(N * C, -30, 30, 3);
  std::vector<int32_t> lab(N);
  for (int64_t n = 0; n < N; n++) lab[n] = int32_t((n * 7) % C);
  std::vector<float> l(N), lse(2 * N), dz(N * C);
  cpu::sparse_softmax_xent_forward<float, int32_t>(l.data(), lse.data(), z.data(), lab.data(), N, C);
  cpu::sparse_softmax_xent_backward<float, int32_t>(dz.data(), dl.data(), z.data(), lse.data(), lab.data(), N, C);
  for (int64_t n = 0; n < N; n++) {
    double m = -1e300, s = 0;
    for (int64_t c = 0; c < C; c++) m = std::max(m, double(z[n * C + c]));
    for (int64_t c = 0; c < C; c++) s += std::exp(z[n * C + c] - m);
    check("softmax-CE forward", l[n], m + std::log(s) - z[n * C + lab[n]], 1e-5);
    for (int64_t c = 0; c < C; c++)
      check("softmax-CE backward", dz[n * C + c] + 1e-3, std::exp(z[n * C + c] - m) / s - (c == lab[n]) + 1e-3, 1e-4);
  }
  {  // the fused batch mean: loss = mean of the rows above, gradient (softmax - onehot) / N written in one pass
    std::vector<float> dzm(N * C);
    double mean = 0;
    for (int64_t n = 0; n < N; n++) mean += l[n];
    mean /= double(N);
    check("softmax-CE mean forward", cpu::sparse_softmax_xent_mean<float, int32_t>(dzm.data(), z.data(), lab.data(), N, C),
          mean, 1e-5);
    for (int64_t i = 0; i < N * C; i++) check("softmax-CE mean backward", dzm[i] * float(N), dz[i], 1e-4);
  }
  // dense relu: forward and dW against double loops
  const int64_t B = 19, Din = 23, K = 17;
  auto x = randv(B * Din, -1, 1, 4), w = randv(Din * K, -1, 1, 5), b = randv(K, -1, 1, 6), dy = randv(B * K, -1, 1, 7);
  std::vector<float> y(B * K), dx(B * Din), dw(Din * K), db(K), scratch(B * K), partial(64 * K);
  cpu::dense_forward<float>(y.data(), x.data(), w.data(), b.data(), B, Din, K, Activation::Relu);
  cpu::dense_backward<float>(dx.data(), dw.data(), db.data(), scratch.data(), partial.data(), 64, dy.data(), x.data(),
                             w.data(), y.data(), B, Din, K, Activation::Relu);
  std::vector<double> zref(B * K);
  for (int64_t i = 0; i < B; i++)
    for (int64_t k = 0; k < K; k++) {
      double s = b[k];
      for (int64_t d = 0; d < Din; d++) s += double(x[i * Din + d]) * w[d * K + k];
      zref[i * K + k] = s;
      check("dense forward", y[i * K + k] + 1.0, std::max(0.0, s) + 1.0, 1e-5);
    }
  for (int64_t d = 0; d < Din; d++)
    for (int64_t k = 0; k < K; k++) {
      double s = 0;
      for (int64_t i = 0; i < B; i++) s += double(x[i * Din + d]) * (zref[i * K + k] > 0 ? dy[i * K + k] : 0.0);
      check("dense backward dW", dw[d * K + k] + 1.0, s + 1.0, 1e-5);
    }
  std::printf("%s\n", g_fail ? "SOME CHECKS FAILED" : "all results match (fused losses, softmax-CE, dense vs double loops)");
}

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::string(argv[1]) == "--quick";
  Py_Initialize();  // the tape keeps Python references (variables, custom gradients)
  std::printf("threads: %d (OMP_NUM_THREADS)\n", omp_get_max_threads());
  check_kernels();

  // ---- memory-bound: fused losses against copy and triad -------------------------------------------
  const int64_t n = quick ? (1 << 20) : (1 << 24);
  const int reps = quick ? 5 : 20;
  auto a = randv(n, -2, 2, 11), b = randv(n, -2, 2, 12);
  std::vector<float> c(n), loss(1), dl(1, 1.0f);
  const double MB = 1e-9;
  double t_copy = time_min([&] { std::memcpy(c.data(), a.data(), n * sizeof(float)); }, reps);
  double t_triad = time_min(
      [&] {
        float* cc = c.data();
        const float *aa = a.data(), *bb = b.data();
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < n; i++) cc[i] = aa[i] + 0.5f * bb[i];
      },
      reps);
  const double copy_gbs = 2.0 * n * 4 * MB / t_copy, triad_gbs = 3.0 * n * 4 * MB / t_triad;
  std::printf("\n%-38s %10s %10s %12s\n", quick ? "memory-bound (2^20 float32, quick)" : "memory-bound (2^24 float32)",
              "ms", "GB/s", "vs triad");
  std::printf("%-38s %10.3f %10.1f %12s\n", "memcpy (read+write)", t_copy * 1e3, copy_gbs, "");
  std::printf("%-38s %10.3f %10.1f %12s\n", "triad a = b + s*c (2 reads, 1 write)", t_triad * 1e3, triad_gbs, "1.00");
  for (PointwiseLoss kind : {PointwiseLoss::MeanSquaredError, PointwiseLoss::Huber}) {
    double t = time_min(
        [&] {
          cpu::pointwise_loss_forward<float>(kind, loss.data(), a.data(), b.data(), 1, n, 1.0f);
          cpu::pointwise_loss_backward<float>(kind, c.data(), dl.data(), a.data(), b.data(), 1, n, 1.0f);
        },
        reps);
    double gbs = 5.0 * n * 4 * MB / t;  // forward reads 2 arrays; backward reads 2, writes 1
    std::printf("%-38s %10.3f %10.1f %12.2f\n", kind == PointwiseLoss::MeanSquaredError ? "fused MSE fwd+bwd (5 arrays)" : "fused Huber fwd+bwd (5 arrays)",
                t * 1e3, gbs, gbs / triad_gbs);
  }
  {
    const int64_t N = quick ? 8192 : 65536, C = 256;
    auto z = randv(N * C, -5, 5, 13);
    std::vector<int32_t> lab(N);
    for (int64_t i = 0; i < N; i++) lab[i] = int32_t(i % C);
    std::vector<float> l(N), lse(2 * N), dz(N * C), dln(N, 1.0f / N);
    double t = time_min(
        [&] {
          cpu::sparse_softmax_xent_forward<float, int32_t>(l.data(), lse.data(), z.data(), lab.data(), N, C);
          cpu::sparse_softmax_xent_backward<float, int32_t>(dz.data(), dln.data(), z.data(), lse.data(), lab.data(), N, C);
        },
        reps);
    double gbs = 3.0 * N * C * 4 * MB / t;  // logits read twice, dlogits written once
    std::printf("%-38s %10.3f %10.1f %12.2f\n", "softmax-CE fwd+bwd 65536x256 (3 arr)", t * 1e3, gbs, gbs / triad_gbs);
    // the batch mean fused in (Keras's default reduction): logits read once, dlogits written once
    t = time_min([&] { cpu::sparse_softmax_xent_mean<float, int32_t>(dz.data(), z.data(), lab.data(), N, C); }, reps);
    gbs = 2.0 * N * C * 4 * MB / t;
    std::printf("%-38s %10.3f %10.1f %12.2f\n", "softmax-CE mean fwd+bwd (2 arrays)", t * 1e3, gbs, gbs / triad_gbs);
  }

  // ---- compute-bound: dense forward+backward against sgemm --------------------------------------------
  {
    const int64_t B = quick ? 1024 : 4096, D = 784, K = 2048;
    auto x = randv(B * D, -1, 1, 21), w = randv(D * K, -0.05f, 0.05f, 22), bias = randv(K, -0.1f, 0.1f, 23);
    auto dy = randv(B * K, -1, 1, 24);
    std::vector<float> y(B * K), dw(D * K), db(K), dz(B * K), partial(size_t(intra_op_threads()) * K), dx(B * D);
    const double gemm_flops = 2.0 * B * D * K;
    double t_gemm = time_min(
        [&] {
          scipy_cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)B, (blasint)K, (blasint)D, 1.0f, x.data(),
                            (blasint)D, w.data(), (blasint)K, 0.0f, y.data(), (blasint)K);
        },
        quick ? 3 : 10);
    double t_fwd = time_min([&] { cpu::dense_forward<float>(y.data(), x.data(), w.data(), bias.data(), B, D, K, Activation::Relu); },
                            quick ? 3 : 10);
    double t_bwd = time_min(
        [&] {
          cpu::dense_backward<float>(nullptr, dw.data(), db.data(), dz.data(), partial.data(), intra_op_threads(),
                                     dy.data(), x.data(), w.data(), y.data(), B, D, K, Activation::Relu);
        },
        quick ? 3 : 10);
    double t_bwd_dx = time_min(
        [&] {
          cpu::dense_backward<float>(dx.data(), dw.data(), db.data(), dz.data(), partial.data(), intra_op_threads(),
                                     dy.data(), x.data(), w.data(), y.data(), B, D, K, Activation::Relu);
        },
        quick ? 3 : 10);
    const double gf = 1e-9;
    std::printf("\n%-44s %10s %10s %10s\n", ("dense relu " + std::to_string(B) + "x784 -> 2048").c_str(), "ms", "GFLOP/s",
                "vs sgemm");
    std::printf("%-44s %10.3f %10.1f %10s\n", "raw sgemm (same shape)", t_gemm * 1e3, gemm_flops * gf / t_gemm, "1.00");
    std::printf("%-44s %10.3f %10.1f %10.2f\n", "dense forward (GEMM + bias + relu)", t_fwd * 1e3, gemm_flops * gf / t_fwd,
                t_gemm / t_fwd);
    std::printf("%-44s %10.3f %10.1f %10.2f\n", "dense backward, dW + db (input layer)", t_bwd * 1e3,
                gemm_flops * gf / t_bwd, t_gemm / t_bwd);
    std::printf("%-44s %10.3f %10.1f %10.2f\n", "dense backward, dX + dW + db", t_bwd_dx * 1e3,
                2 * gemm_flops * gf / t_bwd_dx, 2 * t_gemm / t_bwd_dx);
  }

  // ---- the tape: one recorded op ---------------------------------------------------------------------
  {
    auto x = full(DType::Float32, Shape{1}, 1.0), y = full(DType::Float32, Shape{1}, 2.0);
    const int iters = quick ? 100000 : 1000000;
    double t_plain = time_min([&] {
      for (int i = 0; i < iters; i++) ops::add(x, y);
    }, 5) / iters;
    // A fresh tape per 100 ops, as in a training step (a tape of a million entries measures cache misses).
    double t_rec = time_min([&] {
      for (int k = 0; k < iters / 100; k++) {
        Tape tape;
        tape.watch(x->id);
        tape_stack().push_back(&tape);
        for (int i = 0; i < 100; i++) ops::add(x, y);
        tape_stack().pop_back();
      }
    }, 5) / iters;
    std::printf("\n%-44s %10s\n", "one op on 1-element float32 tensors (C++)", "ns/op");
    std::printf("%-44s %10.1f\n", "ops::add, no tape", t_plain * 1e9);
    std::printf("%-44s %10.1f\n", "ops::add recorded on an active tape", t_rec * 1e9);
  }
  Py_Finalize();
  return g_fail ? 1 : 0;
}
