// PIPELINE: canonicalize
// Decomposed LayerNorm (TorchScript's export) becomes graph.layer_norm, with gamma and beta folded in;
// the square may be pow(d, 2) or d * d, the division a multiplication by the reciprocal.
module {
  func @main(%x: tensor<2x4x8xf32>, %y: tensor<2x4x8xf32>, %z: tensor<2x4x8xf32>) -> (tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32>) attributes {input_names = ["x", "y", "z"], output_names = ["ln", "ln_mul", "ln_affine_ones"]} {
    %mean = graph.reduce_mean %x {axes = [-1], keepdims = true} : (tensor<2x4x8xf32>) -> tensor<2x4x1xf32>
    %d = graph.sub %x, %mean : (tensor<2x4x8xf32>, tensor<2x4x1xf32>) -> tensor<2x4x8xf32>
    %two = graph.constant {value = dense<2.0> : tensor<f32>} : () -> tensor<f32>
    %sq = graph.pow %d, %two : (tensor<2x4x8xf32>, tensor<f32>) -> tensor<2x4x8xf32>
    %var = graph.reduce_mean %sq {axes = [2], keepdims = true} : (tensor<2x4x8xf32>) -> tensor<2x4x1xf32>
    %eps = graph.constant {value = dense<1e-12> : tensor<f32>} : () -> tensor<f32>
    %ve = graph.add %var, %eps : (tensor<2x4x1xf32>, tensor<f32>) -> tensor<2x4x1xf32>
    %std = graph.sqrt %ve : (tensor<2x4x1xf32>) -> tensor<2x4x1xf32>
    %n = graph.div %d, %std : (tensor<2x4x8xf32>, tensor<2x4x1xf32>) -> tensor<2x4x8xf32>
    %gamma = graph.constant {value = dense<[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]> : tensor<8xf32>} : () -> tensor<8xf32>
    %beta = graph.constant {value = dense<[0.5, 0.5, 0.5, 0.5, -0.5, -0.5, -0.5, -0.5]> : tensor<8xf32>} : () -> tensor<8xf32>
    %ng = graph.mul %n, %gamma : (tensor<2x4x8xf32>, tensor<8xf32>) -> tensor<2x4x8xf32>
    %ln = graph.add %beta, %ng : (tensor<8xf32>, tensor<2x4x8xf32>) -> tensor<2x4x8xf32>
    // over the last two axes, d * d, reciprocal
    %mean2 = graph.reduce_mean %y {axes = [1, 2], keepdims = true} : (tensor<2x4x8xf32>) -> tensor<2x1x1xf32>
    %d2 = graph.sub %y, %mean2 : (tensor<2x4x8xf32>, tensor<2x1x1xf32>) -> tensor<2x4x8xf32>
    %sq2 = graph.mul %d2, %d2 : (tensor<2x4x8xf32>, tensor<2x4x8xf32>) -> tensor<2x4x8xf32>
    %var2 = graph.reduce_mean %sq2 {axes = [2, 1], keepdims = true} : (tensor<2x4x8xf32>) -> tensor<2x1x1xf32>
    %eps2 = graph.constant {value = dense<1e-05> : tensor<1xf32>} : () -> tensor<1xf32>
    %ve2 = graph.add %eps2, %var2 : (tensor<1xf32>, tensor<2x1x1xf32>) -> tensor<2x1x1xf32>
    %std2 = graph.sqrt %ve2 : (tensor<2x1x1xf32>) -> tensor<2x1x1xf32>
    %inv2 = graph.reciprocal %std2 : (tensor<2x1x1xf32>) -> tensor<2x1x1xf32>
    %ln_mul = graph.mul %inv2, %d2 : (tensor<2x1x1xf32>, tensor<2x4x8xf32>) -> tensor<2x4x8xf32>
    // dynamo's LayerNormalization with a ones scale and a zero bias loses both
    %ones = graph.constant {value = dense<1.0> : tensor<8xf32>} : () -> tensor<8xf32>
    %zeros = graph.constant {value = dense<0.0> : tensor<8xf32>} : () -> tensor<8xf32>
    %ln_affine_ones = graph.layer_norm %z, %ones, %zeros {axis = -1, epsilon = 1e-05} : (tensor<2x4x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<2x4x8xf32>
    func.return %ln, %ln_mul, %ln_affine_ones : (tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32>) -> ()
  }
}
// CHECK-NOT:  graph.reduce_mean
// CHECK-NOT:  graph.sqrt
// CHECK:      %ln = graph.layer_norm %x, %gamma, %beta {axis = 2, epsilon = 1e-12}
// CHECK-NEXT: %ln_mul = graph.layer_norm %y {axis = 1, epsilon = 1e-05}
// CHECK-NEXT: %ln_affine_ones = graph.layer_norm %z {axis = -1, epsilon = 1e-05}
// CHECK-NEXT: func.return %ln, %ln_mul, %ln_affine_ones
