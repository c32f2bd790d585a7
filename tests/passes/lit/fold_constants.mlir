// PIPELINE: fold-constants{max-elements=16}
// Constant subexpressions are evaluated; a broadcast that would grow a constant is not.
module {
  func @main(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<8x2x3xf32>) attributes {input_names = ["x"], output_names = ["o", "p"]} {
    %w = graph.constant {value = dense<[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]> : tensor<3x2xf32>} : () -> tensor<3x2xf32>
    %wt = graph.transpose %w {perm = [1, 0]} : (tensor<3x2xf32>) -> tensor<2x3xf32>
    %s = graph.constant {value = dense<0.5> : tensor<f32>} : () -> tensor<f32>
    %ws = graph.mul %wt, %s : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
    %o = graph.add %x, %ws : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
    %e = graph.expand %ws {shape = [8, 2, 3]} : (tensor<2x3xf32>) -> tensor<8x2x3xf32>
    func.return %o, %e : (tensor<2x3xf32>, tensor<8x2x3xf32>) -> ()
  }
}
// CHECK-NOT: graph.transpose
// CHECK:     %ws = graph.constant {value = dense<[0.5, 1.5, 2.5, 1.0, 2.0, 3.0]> : tensor<2x3xf32>}
// CHECK-NOT: graph.mul
// CHECK:     graph.add %x
// CHECK:     graph.expand
