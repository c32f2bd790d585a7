// PIPELINE: canonicalize
// x+0, 0+x, x-0, x*1, x/1, x**1, and(x, true), gemm(a, b, 0) drop the neutral operand; when the constant
// widened the result, a reshape (unit dims only) or an expand stays.  Constants go right in commutative
// ops, and splat constants that do not decide the result shape become rank 0.
module {
  func @main(%x: tensor<2x3xf32>, %b: tensor<1x3xi1>, %a: tensor<4x2xf32>, %w: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<1x2x3xf32>, tensor<4x2x3xf32>, tensor<2x1x3xi1>, tensor<4x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>) attributes {input_names = ["x", "b", "a", "w"], output_names = ["o", "unit", "wide", "mask", "gemm", "right", "scalar"]} {
    %zero = graph.constant {value = dense<0.0> : tensor<3xf32>} : () -> tensor<3xf32>
    %one = graph.constant {value = dense<1.0> : tensor<f32>} : () -> tensor<f32>
    %i1 = graph.add %zero, %x : (tensor<3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
    %i2 = graph.sub %i1, %zero : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
    %i3 = graph.mul %one, %i2 : (tensor<f32>, tensor<2x3xf32>) -> tensor<2x3xf32>
    %i4 = graph.div %i3, %one : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
    %o = graph.pow %i4, %one : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
    %zero3 = graph.constant {value = dense<0.0> : tensor<1x1x3xf32>} : () -> tensor<1x1x3xf32>
    %unit = graph.add %x, %zero3 : (tensor<2x3xf32>, tensor<1x1x3xf32>) -> tensor<1x2x3xf32>
    %ones = graph.constant {value = dense<1.0> : tensor<4x1x1xf32>} : () -> tensor<4x1x1xf32>
    %wide = graph.mul %ones, %x : (tensor<4x1x1xf32>, tensor<2x3xf32>) -> tensor<4x2x3xf32>
    %true = graph.constant {value = dense<true> : tensor<2x1x1xi1>} : () -> tensor<2x1x1xi1>
    %mask = graph.and %true, %b : (tensor<2x1x1xi1>, tensor<1x3xi1>) -> tensor<2x1x3xi1>
    %c0 = graph.constant {value = dense<0.0> : tensor<3xf32>} : () -> tensor<3xf32>
    %gemm = graph.gemm %a, %w, %c0 {beta = 0.5} : (tensor<4x2xf32>, tensor<2x3xf32>, tensor<3xf32>) -> tensor<4x3xf32>
    %two = graph.constant {value = dense<2.0> : tensor<1xf32>} : () -> tensor<1xf32>
    %right = graph.mul %two, %x : (tensor<1xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
    %three = graph.constant {value = dense<3.0> : tensor<1x1xf32>} : () -> tensor<1x1xf32>
    %scalar = graph.sub %x, %three : (tensor<2x3xf32>, tensor<1x1xf32>) -> tensor<2x3xf32>
    func.return %o, %unit, %wide, %mask, %gemm, %right, %scalar : (tensor<2x3xf32>, tensor<1x2x3xf32>, tensor<4x2x3xf32>, tensor<2x1x3xi1>, tensor<4x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>) -> ()
  }
}
// CHECK-NOT:  graph.add
// CHECK-NOT:  graph.div
// CHECK-NOT:  graph.pow
// CHECK:      %unit = graph.reshape %x {shape = [1, 2, 3]}
// CHECK-NEXT: %wide = graph.expand %x {shape = [4, 2, 3]}
// CHECK-NEXT: %mask = graph.expand %b {shape = [2, 1, 3]}
// CHECK-NEXT: %gemm = graph.gemm %a, %w : (tensor<4x2xf32>, tensor<2x3xf32>) -> tensor<4x3xf32>
// CHECK-NEXT: %two = graph.constant {value = dense<2.0> : tensor<f32>}
// CHECK-NEXT: %right = graph.mul %x, %two
// CHECK-NEXT: %three = graph.constant {value = dense<3.0> : tensor<f32>}
// CHECK-NEXT: %scalar = graph.sub %x, %three
// CHECK-NEXT: func.return %x, %unit, %wide, %mask, %gemm, %right, %scalar
