// EMIT: ocl-gemm opencl {}
// The same GEMM block for the opencl target: one kernel, RM float4 accumulators per work-item, the
// epilogue in scalar OpenCL C on the accumulators before each store.
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

// CHECK:       __kernel __attribute__((reqd_work_group_size(8, 4, 1)))
// CHECK-NEXT:  void k(__global uchar *a_buf, uint a_off, __global uchar *b_buf, uint b_off, __global uchar *p2_buf, uint p2_off, __global uchar *o0_buf, uint o0_off) {
// CHECK-NEXT:    const int M = 4, N = 16, K = 8;
// CHECK:         float4 accv[8];
// CHECK:         for (int k = 0; k < K; ++k) {
// CHECK-NEXT:        const float4 bv = vload4(0, bp + (size_t)k * 32);
// CHECK-NEXT:        for (int i = 0; i < 8; ++i) accv[i] += (float4)(a[i][k]) * bv;
// CHECK:             const float acc = r[c];
// CHECK-NEXT:        const float l0 = p2[n];
// CHECK-NEXT:        const float t1 = ((acc) + (l0));
// CHECK-NEXT:        const float t2 = lpfc_gelu(t1);
// CHECK-NEXT:        o0[m * N + n] = t2;
