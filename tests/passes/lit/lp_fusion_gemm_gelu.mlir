// PIPELINE: lp-fusion{algebra=false}
// GEMM + bias + GELU is one block, whether GELU is one op or spelled with erf
// (TorchScript export before canonicalize): one-to-one ops join their
// producer's epilogue.  The next GEMM starts a block of its own.
module {
  func @main(%x: tensor<2x4xf32>) -> (tensor<2x4xf32>) attributes {input_names = ["x"], output_names = ["y"]} {
    %W = graph.constant {value = dense<0.25> : tensor<4x8xf32>} : () -> tensor<4x8xf32>
    %b = graph.constant {value = dense<0.5> : tensor<8xf32>} : () -> tensor<8xf32>
    %W2 = graph.constant {value = dense<-0.125> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
    %sqrt2 = graph.constant {value = dense<1.4142135> : tensor<f32>} : () -> tensor<f32>
    %one = graph.constant {value = dense<1.0> : tensor<f32>} : () -> tensor<f32>
    %half = graph.constant {value = dense<0.5> : tensor<f32>} : () -> tensor<f32>
    %mm = graph.matmul %x, %W : (tensor<2x4xf32>, tensor<4x8xf32>) -> tensor<2x8xf32> loc("fc1/MatMul", "MatMul")
    %h = graph.add %b, %mm : (tensor<8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32> loc("fc1/Add", "Add")
    %d = graph.div %h, %sqrt2 : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32> loc("act/Div", "Div")
    %e = graph.erf %d : (tensor<2x8xf32>) -> tensor<2x8xf32> loc("act/Erf", "Erf")
    %e1 = graph.add %e, %one : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32> loc("act/Add", "Add")
    %m = graph.mul %h, %e1 : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32> loc("act/Mul", "Mul")
    %g = graph.mul %m, %half : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32> loc("act/Mul_1", "Mul")
    %mm2 = graph.matmul %g, %W2 : (tensor<2x8xf32>, tensor<8x4xf32>) -> tensor<2x4xf32> loc("fc2/MatMul", "MatMul")
    %y = graph.gelu %mm2 : (tensor<2x4xf32>) -> tensor<2x4xf32> loc("act2", "Gelu")
    func.return %y : (tensor<2x4xf32>) -> ()
  }
}
// CHECK:      graph.fused %x, %W, %b, %sqrt2, %one, %half {kind = "gemm", name = "k0"} ({
// CHECK-NEXT:   ^bb0(
// CHECK-NEXT:     graph.matmul
// CHECK-NEXT:     graph.add
// CHECK-NEXT:     graph.div
// CHECK-NEXT:     graph.erf
// CHECK-NEXT:     graph.add
// CHECK-NEXT:     graph.mul
// CHECK-NEXT:     graph.mul
// CHECK-NEXT:     graph.yield
// CHECK-NEXT: })
// CHECK:      graph.fused %{{.*}}, %W2 {kind = "gemm", name = "k1"} ({
// CHECK-NEXT:   ^bb0(
// CHECK-NEXT:     graph.matmul
// CHECK-NEXT:     graph.gelu
// CHECK-NEXT:     graph.yield
// CHECK-NOT:  graph.fused
// CHECK:      func.return
