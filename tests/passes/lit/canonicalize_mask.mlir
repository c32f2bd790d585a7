// PIPELINE: canonicalize,cse
// The attention mask as TorchScript builds it (cast, flatten, gather with an arange index, two
// reshapes, and with all-true, expand, where) and as dynamo does (cast, gather_nd, and, where) both
// become cast -> reshape -> where on [1, 1, 1, S]; the score add broadcasts it.
module {
  func @main(%scores: tensor<1x2x8x8xf32>, %m: tensor<1x8xi64>) -> (tensor<1x2x8x8xf32>, tensor<1x2x8x8xf32>) attributes {input_names = ["scores", "attention_mask"], output_names = ["ts", "dynamo"]} {
    %c = graph.cast %m {to = i1} : (tensor<1x8xi64>) -> tensor<1x8xi1>
    %flat = graph.reshape %c {shape = [8, 1]} : (tensor<1x8xi1>) -> tensor<8x1xi1>
    %ar = graph.constant {value = dense<[0, 1, 2, 3, 4, 5, 6, 7]> : tensor<1x1x1x8xi64>} : () -> tensor<1x1x1x8xi64>
    %g = graph.gather %flat, %ar {axis = 0} : (tensor<8x1xi1>, tensor<1x1x1x8xi64>) -> tensor<1x1x1x8x1xi1>
    %r1 = graph.reshape %g {shape = [8]} : (tensor<1x1x1x8x1xi1>) -> tensor<8xi1>
    %r2 = graph.reshape %r1 {shape = [1, 1, 1, 8]} : (tensor<8xi1>) -> tensor<1x1x1x8xi1>
    %true = graph.constant {value = dense<true> : tensor<1x1x8x1xi1>} : () -> tensor<1x1x8x1xi1>
    %and = graph.and %true, %r2 : (tensor<1x1x8x1xi1>, tensor<1x1x1x8xi1>) -> tensor<1x1x8x8xi1>
    %e = graph.expand %and {shape = [1, 1, 8, 8]} : (tensor<1x1x8x8xi1>) -> tensor<1x1x8x8xi1>
    %zero = graph.constant {value = dense<0.0> : tensor<1xf32>} : () -> tensor<1xf32>
    %ninf = graph.constant {value = dense<-inf> : tensor<1xf32>} : () -> tensor<1xf32>
    %bias = graph.where %e, %zero, %ninf : (tensor<1x1x8x8xi1>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x1x8x8xf32>
    %ts = graph.add %scores, %bias : (tensor<1x2x8x8xf32>, tensor<1x1x8x8xf32>) -> tensor<1x2x8x8xf32>
    %c2 = graph.cast %m {to = i1} : (tensor<1x8xi64>) -> tensor<1x8xi1>
    %idx = graph.constant {value = dense<[0, 0, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7]> : tensor<1x1x1x8x2xi64>} : () -> tensor<1x1x1x8x2xi64>
    %gnd = graph.gather_nd %c2, %idx : (tensor<1x8xi1>, tensor<1x1x1x8x2xi64>) -> tensor<1x1x1x8xi1>
    %and2 = graph.and %true, %gnd : (tensor<1x1x8x1xi1>, tensor<1x1x1x8xi1>) -> tensor<1x1x8x8xi1>
    %zero2 = graph.constant {value = dense<0.0> : tensor<f32>} : () -> tensor<f32>
    %min = graph.constant {value = dense<-3.4028234663852886e+38> : tensor<f32>} : () -> tensor<f32>
    %bias2 = graph.where %and2, %zero2, %min : (tensor<1x1x8x8xi1>, tensor<f32>, tensor<f32>) -> tensor<1x1x8x8xf32>
    %dynamo = graph.add %scores, %bias2 : (tensor<1x2x8x8xf32>, tensor<1x1x8x8xf32>) -> tensor<1x2x8x8xf32>
    func.return %ts, %dynamo : (tensor<1x2x8x8xf32>, tensor<1x2x8x8xf32>) -> ()
  }
}
// CHECK-NOT:  graph.gather
// CHECK-NOT:  graph.and
// CHECK-NOT:  graph.expand
// CHECK:      %c = graph.cast %m {to = i1}
// CHECK-NEXT: %r2 = graph.reshape %c {shape = [1, 1, 1, 8]} : (tensor<1x8xi1>) -> tensor<1x1x1x8xi1>
// CHECK:      %bias = graph.where %r2, %zero, %ninf : (tensor<1x1x1x8xi1>, tensor<f32>, tensor<f32>) -> tensor<1x1x1x8xf32>
// CHECK-NEXT: %ts = graph.add %scores, %bias
// CHECK:      %bias2 = graph.where %r2, %zero, %min : (tensor<1x1x1x8xi1>, tensor<f32>, tensor<f32>) -> tensor<1x1x1x8xf32>
// CHECK-NEXT: %dynamo = graph.add %scores, %bias2
