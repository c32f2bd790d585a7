// PIPELINE: canonicalize
// GELU written out, in the association orders the exporters use, becomes graph.gelu:
// TorchScript's (x * (1 + erf(x / sqrt2))) * 0.5, dynamo opset 18's x * (0.5 * (erf(x * (1/sqrt2)) + 1)),
// and GPT-2's tanh form with pow(x, 3) or x * x * x.
module {
  func @main(%x: tensor<2x8xf32>) -> (tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>) attributes {input_names = ["x"], output_names = ["ts", "dynamo", "tanh_pow", "tanh_cube"]} {
    %sqrt2 = graph.constant {value = dense<1.4142135> : tensor<f32>} : () -> tensor<f32>
    %one = graph.constant {value = dense<1.0> : tensor<f32>} : () -> tensor<f32>
    %half = graph.constant {value = dense<0.5> : tensor<f32>} : () -> tensor<f32>
    %a1 = graph.div %x, %sqrt2 : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
    %a2 = graph.erf %a1 : (tensor<2x8xf32>) -> tensor<2x8xf32>
    %a3 = graph.add %a2, %one : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
    %a4 = graph.mul %x, %a3 : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
    %ts = graph.mul %a4, %half : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
    %isqrt2 = graph.constant {value = dense<0.70710677> : tensor<f32>} : () -> tensor<f32>
    %b1 = graph.mul %isqrt2, %x : (tensor<f32>, tensor<2x8xf32>) -> tensor<2x8xf32>
    %b2 = graph.erf %b1 : (tensor<2x8xf32>) -> tensor<2x8xf32>
    %b3 = graph.add %one, %b2 : (tensor<f32>, tensor<2x8xf32>) -> tensor<2x8xf32>
    %b4 = graph.mul %half, %b3 : (tensor<f32>, tensor<2x8xf32>) -> tensor<2x8xf32>
    %dynamo = graph.mul %x, %b4 : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
    %three = graph.constant {value = dense<3.0> : tensor<f32>} : () -> tensor<f32>
    %k = graph.constant {value = dense<0.044715> : tensor<f32>} : () -> tensor<f32>
    %s = graph.constant {value = dense<0.7978846> : tensor<f32>} : () -> tensor<f32>
    %c1 = graph.mul %x, %half : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
    %c2 = graph.pow %x, %three : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
    %c3 = graph.mul %c2, %k : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
    %c4 = graph.add %x, %c3 : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
    %c5 = graph.mul %c4, %s : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
    %c6 = graph.tanh %c5 : (tensor<2x8xf32>) -> tensor<2x8xf32>
    %c7 = graph.add %c6, %one : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
    %tanh_pow = graph.mul %c1, %c7 : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
    %d1 = graph.mul %x, %x : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
    %d2 = graph.mul %d1, %x : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
    %d3 = graph.mul %k, %d2 : (tensor<f32>, tensor<2x8xf32>) -> tensor<2x8xf32>
    %d4 = graph.add %d3, %x : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
    %d5 = graph.mul %s, %d4 : (tensor<f32>, tensor<2x8xf32>) -> tensor<2x8xf32>
    %d6 = graph.tanh %d5 : (tensor<2x8xf32>) -> tensor<2x8xf32>
    %d7 = graph.add %d6, %one : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
    %d8 = graph.mul %x, %d7 : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
    %tanh_cube = graph.mul %half, %d8 : (tensor<f32>, tensor<2x8xf32>) -> tensor<2x8xf32>
    func.return %ts, %dynamo, %tanh_pow, %tanh_cube : (tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>) -> ()
  }
}
// CHECK-NOT:  graph.erf
// CHECK-NOT:  graph.tanh
// CHECK:      %ts = graph.gelu %x : (tensor<2x8xf32>) -> tensor<2x8xf32>
// CHECK-NEXT: %dynamo = graph.gelu %x : (tensor<2x8xf32>) -> tensor<2x8xf32>
// CHECK-NEXT: %tanh_pow = graph.gelu %x {approximate = "tanh"}
// CHECK-NEXT: %tanh_cube = graph.gelu %x {approximate = "tanh"}
// CHECK-NEXT: func.return %ts, %dynamo, %tanh_pow, %tanh_cube
