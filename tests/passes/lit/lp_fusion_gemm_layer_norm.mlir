// PIPELINE: lp-fusion{algebra=false}
// GEMM + bias + residual add + LayerNorm over the GEMM's full output row is one
// block (many-to-many GEMM -> row-wise many-to-many LayerNorm), both for the
// layer_norm op and for the decomposed form (ReduceMean ... Sqrt, Div) that
// TorchScript exports.  The reshape between GEMM and residual keeps the row.
module {
  func @main(%x: tensor<1x4x8xf32>) -> (tensor<1x4x8xf32>) attributes {input_names = ["x"], output_names = ["y"]} {
    %W = graph.constant {value = dense<0.25> : tensor<8x8xf32>} : () -> tensor<8x8xf32>
    %b = graph.constant {value = dense<0.5> : tensor<8xf32>} : () -> tensor<8xf32>
    %gamma = graph.constant {value = dense<2.0> : tensor<8xf32>} : () -> tensor<8xf32>
    %beta = graph.constant {value = dense<-1.0> : tensor<8xf32>} : () -> tensor<8xf32>
    %x2 = graph.reshape %x {shape = [4, 8]} : (tensor<1x4x8xf32>) -> tensor<4x8xf32>
    %mm = graph.gemm %x2, %W, %b : (tensor<4x8xf32>, tensor<8x8xf32>, tensor<8xf32>) -> tensor<4x8xf32> loc("dense/Gemm", "Gemm")
    %mm3 = graph.reshape %mm {shape = [1, 4, 8]} : (tensor<4x8xf32>) -> tensor<1x4x8xf32>
    %r = graph.add %mm3, %x : (tensor<1x4x8xf32>, tensor<1x4x8xf32>) -> tensor<1x4x8xf32> loc("residual", "Add")
    %y = graph.layer_norm %r, %gamma, %beta {axis = -1, epsilon = 1e-12} : (tensor<1x4x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<1x4x8xf32> loc("LayerNorm", "LayerNormalization")
    func.return %y : (tensor<1x4x8xf32>) -> ()
  }
  func @decomposed(%x: tensor<1x4x8xf32>) -> (tensor<1x4x8xf32>) attributes {input_names = ["x"], output_names = ["y"]} {
    %W = graph.constant {value = dense<0.25> : tensor<8x8xf32>} : () -> tensor<8x8xf32>
    %b = graph.constant {value = dense<0.5> : tensor<8xf32>} : () -> tensor<8xf32>
    %two = graph.constant {value = dense<2.0> : tensor<f32>} : () -> tensor<f32>
    %eps = graph.constant {value = dense<1e-12> : tensor<f32>} : () -> tensor<f32>
    %mm = graph.matmul %x, %W : (tensor<1x4x8xf32>, tensor<8x8xf32>) -> tensor<1x4x8xf32>
    %h = graph.add %b, %mm : (tensor<8xf32>, tensor<1x4x8xf32>) -> tensor<1x4x8xf32>
    %r = graph.add %h, %x : (tensor<1x4x8xf32>, tensor<1x4x8xf32>) -> tensor<1x4x8xf32>
    %mean = graph.reduce_mean %r {axes = [2], keepdims = true} : (tensor<1x4x8xf32>) -> tensor<1x4x1xf32>
    %c = graph.sub %r, %mean : (tensor<1x4x8xf32>, tensor<1x4x1xf32>) -> tensor<1x4x8xf32>
    %sq = graph.pow %c, %two : (tensor<1x4x8xf32>, tensor<f32>) -> tensor<1x4x8xf32>
    %var = graph.reduce_mean %sq {axes = [2], keepdims = true} : (tensor<1x4x8xf32>) -> tensor<1x4x1xf32>
    %ve = graph.add %var, %eps : (tensor<1x4x1xf32>, tensor<f32>) -> tensor<1x4x1xf32>
    %sd = graph.sqrt %ve : (tensor<1x4x1xf32>) -> tensor<1x4x1xf32>
    %y = graph.div %c, %sd : (tensor<1x4x8xf32>, tensor<1x4x1xf32>) -> tensor<1x4x8xf32>
    func.return %y : (tensor<1x4x8xf32>) -> ()
  }
}
// CHECK-LABEL: func @main
// CHECK:      graph.fused %x, %W, %b, %gamma, %beta {kind = "gemm_layer_norm", name = "k0"} ({
// CHECK-NEXT:   ^bb0(
// CHECK-NEXT:     graph.reshape
// CHECK-NEXT:     graph.gemm
// CHECK-NEXT:     graph.reshape
// CHECK-NEXT:     graph.add
// CHECK-NEXT:     graph.layer_norm
// CHECK-NEXT:     graph.yield
// CHECK-NOT:  graph.fused
// CHECK-LABEL: func @decomposed
// CHECK:      graph.fused %x{{[_0-9]*}}, %W{{[_0-9]*}}, %b{{[_0-9]*}}, %two, %eps {kind = "gemm_layer_norm", name = "k1"} ({
// CHECK:          graph.matmul
// CHECK-NEXT:     graph.add
// CHECK-NEXT:     graph.add
// CHECK-NEXT:     graph.reduce_mean
// CHECK-NEXT:     graph.sub
// CHECK-NEXT:     graph.pow
// CHECK-NEXT:     graph.reduce_mean
// CHECK-NEXT:     graph.add
// CHECK-NEXT:     graph.sqrt
// CHECK-NEXT:     graph.div
// CHECK-NEXT:     graph.yield
// CHECK-NOT:  graph.fused
