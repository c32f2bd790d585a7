// PIPELINE: canonicalize,cse
// The attention scale gathers on the left matmul operand: SDPA's q * s1 @ kT * s2 and eager attention's
// (q @ kT) * s both become (q * s) @ kT.
module {
  func @main(%q: tensor<2x4x8xf32>, %kt: tensor<2x8x4xf32>) -> (tensor<2x4x4xf32>, tensor<2x4x4xf32>) attributes {input_names = ["q", "kt"], output_names = ["sdpa", "eager"]} {
    %s1 = graph.constant {value = dense<0.5> : tensor<f32>} : () -> tensor<f32>
    %qs = graph.mul %q, %s1 : (tensor<2x4x8xf32>, tensor<f32>) -> tensor<2x4x8xf32>
    %ks = graph.mul %kt, %s1 : (tensor<2x8x4xf32>, tensor<f32>) -> tensor<2x8x4xf32>
    %sdpa = graph.matmul %qs, %ks : (tensor<2x4x8xf32>, tensor<2x8x4xf32>) -> tensor<2x4x4xf32>
    %raw = graph.matmul %q, %kt : (tensor<2x4x8xf32>, tensor<2x8x4xf32>) -> tensor<2x4x4xf32>
    %s = graph.constant {value = dense<0.25> : tensor<1xf32>} : () -> tensor<1xf32>
    %eager = graph.mul %raw, %s : (tensor<2x4x4xf32>, tensor<1xf32>) -> tensor<2x4x4xf32>
    func.return %sdpa, %eager : (tensor<2x4x4xf32>, tensor<2x4x4xf32>) -> ()
  }
}
// CHECK:      %scale = graph.constant {value = dense<0.25> : tensor<f32>}
// CHECK-NEXT: %q_scaled = graph.mul %q, %scale
// CHECK-NEXT: %sdpa = graph.matmul %q_scaled, %kt
// CHECK-NEXT: func.return %sdpa, %sdpa
