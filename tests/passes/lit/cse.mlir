// PIPELINE: cse
// Identical computations merge; different attributes or operands keep them apart.
module {
  func @main(%x: tensor<4xf32>, %y: tensor<4xf32>) -> (tensor<4xf32>) attributes {input_names = ["x", "y"], output_names = ["o"]} {
    %c1 = graph.constant {value = dense<2.0> : tensor<f32>} : () -> tensor<f32>
    %c2 = graph.constant {value = dense<2.0> : tensor<f32>} : () -> tensor<f32>
    %c3 = graph.constant {value = dense<3.0> : tensor<f32>} : () -> tensor<f32>
    %a = graph.mul %x, %c1 : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
    %b = graph.mul %x, %c2 : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
    %c = graph.mul %x, %c3 : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
    %d = graph.mul %y, %c1 : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
    %s1 = graph.add %a, %b : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %s2 = graph.add %c, %d : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %o = graph.add %s1, %s2 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    func.return %o : (tensor<4xf32>) -> ()
  }
}
// CHECK:      %c1 = graph.constant {value = dense<2.0>
// CHECK-NEXT: %c3 = graph.constant {value = dense<3.0>
// CHECK-NEXT: %a = graph.mul %x, %c1
// CHECK-NEXT: %c = graph.mul %x, %c3
// CHECK-NEXT: %d = graph.mul %y, %c1
// CHECK-NEXT: %s1 = graph.add %a, %a
// CHECK-NEXT: %s2 = graph.add %c, %d
