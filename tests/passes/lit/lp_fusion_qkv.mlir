// PIPELINE: lp-fusion{algebra=false}
// Horizontal fusion: GEMMs with constant weights on one input become one GEMM
// over the weights concatenated along N (graph.concat of constants, folded),
// then a split; with nothing else to fuse, the split stays inside the block.
// @main: three matmul + bias -> one [4, 12] GEMM + one [12] bias add.
// @mixed: a gemm with trans_b (its weight is transposed at compile time) and
// a matmul without bias: each keeps its own bias (or none) after the split, so
// no zero bias is added and the computation count does not grow.
module {
  func @main(%x: tensor<2x4xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>) attributes {input_names = ["x"], output_names = ["q", "k", "v"]} {
    %Wq = graph.constant {value = dense<1.0> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
    %Wk = graph.constant {value = dense<2.0> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
    %Wv = graph.constant {value = dense<3.0> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
    %bq = graph.constant {value = dense<0.1> : tensor<4xf32>} : () -> tensor<4xf32>
    %bk = graph.constant {value = dense<0.2> : tensor<1x4xf32>} : () -> tensor<1x4xf32>
    %bv = graph.constant {value = dense<0.3> : tensor<4xf32>} : () -> tensor<4xf32>
    %q0 = graph.matmul %x, %Wq : (tensor<2x4xf32>, tensor<4x4xf32>) -> tensor<2x4xf32>
    %q = graph.add %q0, %bq : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
    %k0 = graph.matmul %x, %Wk : (tensor<2x4xf32>, tensor<4x4xf32>) -> tensor<2x4xf32>
    %k = graph.add %bk, %k0 : (tensor<1x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
    %v0 = graph.matmul %x, %Wv : (tensor<2x4xf32>, tensor<4x4xf32>) -> tensor<2x4xf32>
    %v = graph.add %v0, %bv : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
    func.return %q, %k, %v : (tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>) -> ()
  }
  func @mixed(%x: tensor<2x4xf32>) -> (tensor<2x3xf32>, tensor<2x5xf32>) attributes {input_names = ["x"], output_names = ["a", "b"]} {
    %Wa = graph.constant {value = dense<1.0> : tensor<3x4xf32>} : () -> tensor<3x4xf32>
    %ba = graph.constant {value = dense<0.5> : tensor<3xf32>} : () -> tensor<3xf32>
    %Wb = graph.constant {value = dense<2.0> : tensor<4x5xf32>} : () -> tensor<4x5xf32>
    %a = graph.gemm %x, %Wa, %ba {trans_b = true} : (tensor<2x4xf32>, tensor<3x4xf32>, tensor<3xf32>) -> tensor<2x3xf32>
    %b = graph.matmul %x, %Wb : (tensor<2x4xf32>, tensor<4x5xf32>) -> tensor<2x5xf32>
    func.return %a, %b : (tensor<2x3xf32>, tensor<2x5xf32>) -> ()
  }
}
// CHECK-LABEL: func @main
// CHECK:      = graph.fused %x, %{{.*}}, %{{.*}} {kind = "gemm", name = "k0"} ({
// CHECK-NEXT:   ^bb0(%{{.*}}: tensor<2x4xf32>, %{{.*}}: tensor<4x12xf32>, %{{.*}}: tensor<12xf32>):
// CHECK-NEXT:     graph.matmul {{.*}} : (tensor<2x4xf32>, tensor<4x12xf32>) -> tensor<2x12xf32>
// CHECK-NEXT:     graph.add {{.*}} : (tensor<2x12xf32>, tensor<12xf32>) -> tensor<2x12xf32>
// CHECK-NEXT:     graph.split {{.*}} {axis = 1, sizes = [4, 4, 4]}
// CHECK-NEXT:     graph.yield
// CHECK-NOT:  graph.matmul
// CHECK-LABEL: func @mixed
// CHECK:      graph.fused {{.*}} {kind = "gemm", name = "k1"} ({
// CHECK-NEXT:   ^bb0(%{{.*}}: tensor<2x4xf32>, %{{.*}}: tensor<4x8xf32>, %{{.*}}: tensor<3xf32>):
// CHECK-NEXT:     graph.matmul {{.*}} -> tensor<2x8xf32>
// CHECK-NEXT:     graph.split {{.*}} {axis = 1, sizes = [3, 5]}
// CHECK-NEXT:     graph.add {{.*}} : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT:     graph.yield
// CHECK-NOT:  graph.gemm
