// PIPELINE: lp-fusion{algebra=false}
// Self-attention as exported: Q, K and V projections of one input, head split
// (reshape + transpose), scale, Q.K^T, mask, softmax, .V, head merge.
// The three projections become one GEMM over the concatenated [8, 24] weight
// and bias (horizontal fusion), then a split.  Everything from the split to the
// head merge is one "attention" block: the split, reshapes and transposes are
// access patterns of the block that reads them, Q.K^T -> softmax -> .V is the
// known-legal many-to-many chain, and the head merge is attention's write
// pattern.  The output projection starts a new block.
module {
  func @main(%x: tensor<1x4x8xf32>, %mask: tensor<1x1x4x4xf32>) -> (tensor<1x4x8xf32>) attributes {input_names = ["x", "mask"], output_names = ["y"]} {
    %Wq = graph.constant {value = dense<0.125> : tensor<8x8xf32>} : () -> tensor<8x8xf32>
    %Wk = graph.constant {value = dense<-0.25> : tensor<8x8xf32>} : () -> tensor<8x8xf32>
    %Wv = graph.constant {value = dense<0.5> : tensor<8x8xf32>} : () -> tensor<8x8xf32>
    %Wo = graph.constant {value = dense<0.75> : tensor<8x8xf32>} : () -> tensor<8x8xf32>
    %bq = graph.constant {value = dense<0.1> : tensor<8xf32>} : () -> tensor<8xf32>
    %bk = graph.constant {value = dense<0.2> : tensor<8xf32>} : () -> tensor<8xf32>
    %bv = graph.constant {value = dense<0.3> : tensor<8xf32>} : () -> tensor<8xf32>
    %scale = graph.constant {value = dense<0.5> : tensor<f32>} : () -> tensor<f32>
    %q0 = graph.matmul %x, %Wq : (tensor<1x4x8xf32>, tensor<8x8xf32>) -> tensor<1x4x8xf32> loc("query/MatMul", "MatMul")
    %q1 = graph.add %bq, %q0 : (tensor<8xf32>, tensor<1x4x8xf32>) -> tensor<1x4x8xf32> loc("query/Add", "Add")
    %q2 = graph.reshape %q1 {shape = [1, 4, 2, 4]} : (tensor<1x4x8xf32>) -> tensor<1x4x2x4xf32>
    %q = graph.transpose %q2 {perm = [0, 2, 1, 3]} : (tensor<1x4x2x4xf32>) -> tensor<1x2x4x4xf32>
    %k0 = graph.matmul %x, %Wk : (tensor<1x4x8xf32>, tensor<8x8xf32>) -> tensor<1x4x8xf32> loc("key/MatMul", "MatMul")
    %k1 = graph.add %bk, %k0 : (tensor<8xf32>, tensor<1x4x8xf32>) -> tensor<1x4x8xf32> loc("key/Add", "Add")
    %k2 = graph.reshape %k1 {shape = [1, 4, 2, 4]} : (tensor<1x4x8xf32>) -> tensor<1x4x2x4xf32>
    %kt = graph.transpose %k2 {perm = [0, 2, 3, 1]} : (tensor<1x4x2x4xf32>) -> tensor<1x2x4x4xf32>
    %v0 = graph.matmul %x, %Wv : (tensor<1x4x8xf32>, tensor<8x8xf32>) -> tensor<1x4x8xf32> loc("value/MatMul", "MatMul")
    %v1 = graph.add %bv, %v0 : (tensor<8xf32>, tensor<1x4x8xf32>) -> tensor<1x4x8xf32> loc("value/Add", "Add")
    %v2 = graph.reshape %v1 {shape = [1, 4, 2, 4]} : (tensor<1x4x8xf32>) -> tensor<1x4x2x4xf32>
    %v = graph.transpose %v2 {perm = [0, 2, 1, 3]} : (tensor<1x4x2x4xf32>) -> tensor<1x2x4x4xf32>
    %qs = graph.mul %q, %scale : (tensor<1x2x4x4xf32>, tensor<f32>) -> tensor<1x2x4x4xf32>
    %s = graph.matmul %qs, %kt : (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32> loc("scores", "MatMul")
    %sm = graph.add %s, %mask : (tensor<1x2x4x4xf32>, tensor<1x1x4x4xf32>) -> tensor<1x2x4x4xf32>
    %p = graph.softmax %sm {axis = 3} : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
    %o = graph.matmul %p, %v : (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32> loc("context", "MatMul")
    %ot = graph.transpose %o {perm = [0, 2, 1, 3]} : (tensor<1x2x4x4xf32>) -> tensor<1x4x2x4xf32>
    %om = graph.reshape %ot {shape = [1, 4, 8]} : (tensor<1x4x2x4xf32>) -> tensor<1x4x8xf32>
    %y = graph.matmul %om, %Wo : (tensor<1x4x8xf32>, tensor<8x8xf32>) -> tensor<1x4x8xf32> loc("output/MatMul", "MatMul")
    func.return %y : (tensor<1x4x8xf32>) -> ()
  }
}
// CHECK:      %[[QKV:.+]] = graph.fused %x, %{{.*}}, %{{.*}} {kind = "gemm", name = "k0"} ({
// CHECK-NEXT:   ^bb0(%{{.*}}: tensor<1x4x8xf32>, %{{.*}}: tensor<8x24xf32>, %{{.*}}: tensor<24xf32>):
// CHECK-NEXT:     graph.matmul {{.*}} : (tensor<1x4x8xf32>, tensor<8x24xf32>) -> tensor<1x4x24xf32>
// CHECK-NEXT:     graph.add
// CHECK-NEXT:     graph.yield
// CHECK-NEXT: }) : (tensor<1x4x8xf32>, tensor<8x24xf32>, tensor<24xf32>) -> tensor<1x4x24xf32>
// CHECK-NEXT: %[[ATT:.+]] = graph.fused %[[QKV]], %scale, %mask {kind = "attention", name = "k1"} ({
// CHECK-NEXT:   ^bb0(
// CHECK-NEXT:     graph.split {{.*}} {axis = 2, sizes = [8, 8, 8]}
// CHECK-NEXT:     graph.reshape
// CHECK-NEXT:     graph.transpose
// CHECK-NEXT:     graph.reshape
// CHECK-NEXT:     graph.transpose
// CHECK-NEXT:     graph.reshape
// CHECK-NEXT:     graph.transpose
// CHECK-NEXT:     graph.mul
// CHECK-NEXT:     graph.matmul
// CHECK-NEXT:     graph.add
// CHECK-NEXT:     graph.softmax
// CHECK-NEXT:     graph.matmul
// CHECK-NEXT:     graph.transpose
// CHECK-NEXT:     graph.reshape
// CHECK-NEXT:     graph.yield
// CHECK-NEXT: }) : (tensor<1x4x24xf32>, tensor<f32>, tensor<1x1x4x4xf32>) -> tensor<1x4x8xf32>
// CHECK-NEXT: graph.fused %[[ATT]], %Wo {kind = "gemm", name = "k2"}
// CHECK-NOT:  graph.fused
