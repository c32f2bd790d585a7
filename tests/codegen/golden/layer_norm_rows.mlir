// EMIT: cpp-rowwise host {"isa": "avx2"}
// A residual add then a LayerNorm over the last axis: the prologue is computed a vector at a time into the
// output row, which the row helper then normalises in place; rows run in parallel.
module {
  func @main(%x: tensor<6x32xf32>, %r: tensor<6x32xf32>, %g: tensor<32xf32>, %b: tensor<32xf32>) -> (tensor<6x32xf32>) attributes {input_names = ["x", "r", "g", "b"], output_names = ["y"]} {
    %y = graph.fused %x, %r, %g, %b {kind = "layer_norm", name = "k0"} ({
      ^bb0(%x1: tensor<6x32xf32>, %r1: tensor<6x32xf32>, %g1: tensor<32xf32>, %b1: tensor<32xf32>):
        %s = graph.add %x1, %r1 : (tensor<6x32xf32>, tensor<6x32xf32>) -> tensor<6x32xf32>
        %y0 = graph.layer_norm %s, %g1, %b1 {axis = -1, epsilon = 1e-05} : (tensor<6x32xf32>, tensor<32xf32>, tensor<32xf32>) -> tensor<6x32xf32>
        graph.yield %y0 : (tensor<6x32xf32>) -> ()
    }) : (tensor<6x32xf32>, tensor<6x32xf32>, tensor<32xf32>, tensor<32xf32>) -> tensor<6x32xf32>
    func.return %y : (tensor<6x32xf32>) -> ()
  }
}

// CHECK-LABEL: static void k(const void *const *in, void *const *out, int num_threads) {
// CHECK-NEXT:    namespace V = lpfc_avx2;
// CHECK-NEXT:    const long N = 32, R = 6;
// CHECK-NEXT:    float *Y = (float *)out[0];
// CHECK-NEXT:    const float *p0 = (const float *)in[0];
// CHECK-NEXT:    const float *p1 = (const float *)in[1];
// CHECK:         lpfc_parallel::parallel_for(threads, R, 8, [&](long m, int) {
// CHECK:             const V::vf l0 = V::load(p0 + m * N + n);
// CHECK-NEXT:        const V::vf l1 = V::load(p1 + m * N + n);
// CHECK-NEXT:        const V::vf t1 = V::add(l0, l1);
// CHECK-NEXT:        V::store(Y + m * N + n, t1);
// CHECK:             V::store_partial(Y + m * N + n, t1, cnt);
// CHECK:         lpfc_avx2_row::layer_norm(Y + m * N, N, 1e-05f, (const float *)in[2], false, (const float *)in[3], false);
// CHECK-NEXT:    });
// CHECK-NEXT:  }
