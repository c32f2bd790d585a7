// EMIT: cpp-attention host {"isa": "avx2"}
// Attention over a fused QKV tensor [1, 8, 3*2*4] (2 heads of 4): the head split and merge are strides
// printed into the kernel (no transpose is materialised); the default schedule is the flash one.
module {
  func @main(%qkv: tensor<1x8x24xf32>, %m: tensor<1x1x1x8xf32>) -> (tensor<1x8x8xf32>) attributes {input_names = ["qkv", "m"], output_names = ["y"]} {
    %y = graph.fused %qkv, %m {kind = "attention", name = "k0"} ({
      ^bb0(%a: tensor<1x8x24xf32>, %m1: tensor<1x1x1x8xf32>):
        %q, %k, %v = graph.split %a {axis = 2, sizes = [8, 8, 8]} : (tensor<1x8x24xf32>) -> (tensor<1x8x8xf32>, tensor<1x8x8xf32>, tensor<1x8x8xf32>)
        %q1 = graph.reshape %q {shape = [1, 8, 2, 4]} : (tensor<1x8x8xf32>) -> tensor<1x8x2x4xf32>
        %q2 = graph.transpose %q1 {perm = [0, 2, 1, 3]} : (tensor<1x8x2x4xf32>) -> tensor<1x2x8x4xf32>
        %k1 = graph.reshape %k {shape = [1, 8, 2, 4]} : (tensor<1x8x8xf32>) -> tensor<1x8x2x4xf32>
        %k2 = graph.transpose %k1 {perm = [0, 2, 3, 1]} : (tensor<1x8x2x4xf32>) -> tensor<1x2x4x8xf32>
        %v1 = graph.reshape %v {shape = [1, 8, 2, 4]} : (tensor<1x8x8xf32>) -> tensor<1x8x2x4xf32>
        %v2 = graph.transpose %v1 {perm = [0, 2, 1, 3]} : (tensor<1x8x2x4xf32>) -> tensor<1x2x8x4xf32>
        %s = graph.matmul %q2, %k2 : (tensor<1x2x8x4xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x8x8xf32>
        %s1 = graph.add %s, %m1 : (tensor<1x2x8x8xf32>, tensor<1x1x1x8xf32>) -> tensor<1x2x8x8xf32>
        %p = graph.softmax %s1 {axis = -1} : (tensor<1x2x8x8xf32>) -> tensor<1x2x8x8xf32>
        %o = graph.matmul %p, %v2 : (tensor<1x2x8x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x8x4xf32>
        %o1 = graph.transpose %o {perm = [0, 2, 1, 3]} : (tensor<1x2x8x4xf32>) -> tensor<1x8x2x4xf32>
        %o2 = graph.reshape %o1 {shape = [1, 8, 8]} : (tensor<1x8x2x4xf32>) -> tensor<1x8x8xf32>
        graph.yield %o2 : (tensor<1x8x8xf32>) -> ()
    }) : (tensor<1x8x24xf32>, tensor<1x1x1x8xf32>) -> tensor<1x8x8xf32>
    func.return %y : (tensor<1x8x8xf32>) -> ()
  }
}

// The head split: Q, K and V of head bi1 start 4 floats apart in the row of 24 (offsets 0, 8, 16); the
// merge writes rows of 8.
// CHECK-LABEL: static void k(const void *const *in, void *const *out, int num_threads) {
// CHECK:         const long S = 8, D = 4, T = 8, DV = 4, BT = 2, IB = 48, KB = 16;
// CHECK:         lpfc_parallel::parallel_for(threads, BT, 1, [&](long b, int worker) {
// CHECK:           const float *Q = p0 + 0 + bi1 * 4L;
// CHECK-NEXT:      const float *K = p0 + 8 + bi1 * 4L;
// CHECK-NEXT:      const float *Vs = p0 + 16 + bi1 * 4L;
// CHECK-NEXT:      float *Ob = O + 0 + bi1 * 4L;
// CHECK:           const float *M0 = p1 + 0;
// CHECK:           kp[j0 * D + k * NR + jj] = j0 + jj < T ? K[k * 1L + (j0 + jj) * 24L] : 0.0f;
// CHECK:           vp[c0 * T + t * NR + cc] = c0 + cc < DV ? Vs[t * 24L + (c0 + cc) * 1L] : 0.0f;
// CHECK:           lpfc_avx2_gemm::tile<24L>(rows, cols, D, Q + (i0 + ii) * 24L, kp + j0 * D, P + ii * KB + (j0 - t0), KB, false);
// The mask, added to each block of scores before the online softmax:
// CHECK:           for (; j + V::W <= kb; j += V::W) V::store(s + j, V::add(V::load(s + j), V::load(M0 + i * 0L + t0 + j)));
// CHECK:           const float m_new = lpfc_avx2_row::block_max(s, kb, m_old);
// CHECK:           lpfc_avx2_gemm::tile<16L>(rows, cols, kb, P + ii * KB, vp + c0 * T + t0 * NR, Ob + (i0 + ii) * 8L + c0, 8L, t0 > 0);
// CHECK:           for (long c = 0; c < DV; ++c) o[c] = false ? 0.0f : NAN;
// CHECK:         free(scratch);
