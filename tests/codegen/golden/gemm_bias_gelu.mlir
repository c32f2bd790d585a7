// EMIT: cpp-gemm host {"isa": "avx2"}
// A GEMM block with a bias and a GELU epilogue: the weight is packed at compile time, the epilogue is a
// vectorised lambda handed to the shared driver.
module {
  func @main(%x: tensor<4x8xf32>, %b: tensor<16xf32>) -> (tensor<4x16xf32>) attributes {input_names = ["x", "b"], output_names = ["y"]} {
    %w = graph.constant {value = dense<0.5> : tensor<8x16xf32>} : () -> tensor<8x16xf32>
    %y = graph.fused %x, %w, %b {kind = "gemm", name = "k0"} ({
      ^bb0(%x1: tensor<4x8xf32>, %w1: tensor<8x16xf32>, %b1: tensor<16xf32>):
        %y0 = graph.matmul %x1, %w1 : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
        %y1 = graph.add %y0, %b1 : (tensor<4x16xf32>, tensor<16xf32>) -> tensor<4x16xf32>
        %y2 = graph.gelu %y1 {approximate = "none"} : (tensor<4x16xf32>) -> tensor<4x16xf32>
        graph.yield %y2 : (tensor<4x16xf32>) -> ()
    }) : (tensor<4x8xf32>, tensor<8x16xf32>, tensor<16xf32>) -> tensor<4x16xf32>
    func.return %y : (tensor<4x16xf32>) -> ()
  }
}

// CHECK-LABEL: static void k(const void *const *in, void *const *out, int num_threads) {
// CHECK-NEXT:    namespace V = lpfc_avx2;
// CHECK-NEXT:    const long N = 16;
// CHECK-NEXT:    const float *A = (const float *)in[0] + 0L;
// CHECK-NEXT:    const float *Bp = (const float *)in[1];
// CHECK-NEXT:    float *C = (float *)out[0];
// CHECK-NEXT:    const float *p2 = (const float *)in[2];
// CHECK-NEXT:    float *o0 = C;
// CHECK-NEXT:    auto epi = [&](long m0, int rows, long n0, int cols) {
// CHECK:           for (; n + V::W <= n0 + cols; n += V::W) {
// CHECK-NEXT:        const V::vf acc = V::load(C + m * N + n);
// CHECK-NEXT:        const V::vf l0 = V::load(p2 + n);
// CHECK-NEXT:        const V::vf t1 = V::add(acc, l0);
// CHECK-NEXT:        const V::vf t2 = V::gelu(t1);
// CHECK-NEXT:        V::store(o0 + m * N + n, t2);
// CHECK:           if (n < n0 + cols) {
// CHECK-NEXT:        const int cnt = (int)(n0 + cols - n);
// CHECK-NEXT:        const V::vf acc = V::load_partial(C + m * N + n, cnt);
// CHECK:             V::store_partial(o0 + m * N + n, t2, cnt);
// CHECK:         auto rows = [](long, long, long, long) {};
// CHECK-NEXT:    lpfc_avx2_gemm::run<8L>(4L, N, 8L, A, Bp, C, N, 6L, 16L, 8L, num_threads, epi, rows);
// CHECK-NEXT:  }
