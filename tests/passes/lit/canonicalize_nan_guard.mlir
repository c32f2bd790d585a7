// PIPELINE: canonicalize
// SDPA's guard where(isnan(softmax(x)), 0, softmax(x)):
// * dropped where x is provably finite (scores from embedding constants, masked with finfo.min as dynamo
//   does: -3.4e38 plus a bounded score still rounds to a finite float);
// * folded into softmax {nan_to_zero = true} where x may be all -inf in a row (TorchScript's -inf mask)
//   or is not bounded at all (a float model input).
module {
  func @main(%ids: tensor<1x4xi64>, %m: tensor<1x4xi1>, %x: tensor<1x4x4xf32>) -> (tensor<1x4x4xf32>, tensor<1x4x4xf32>, tensor<1x4x4xf32>) attributes {input_names = ["ids", "mask", "x"], output_names = ["dead", "live_mask", "live_input"]} {
    %table = graph.constant {value = dense<[0.5, -1.0, 2.0, 0.25, 1.0, 1.0, -3.0, 0.0, 0.5, 0.5, 0.5, 0.5]> : tensor<3x4xf32>} : () -> tensor<3x4xf32>
    %emb = graph.gather %table, %ids {axis = 0} : (tensor<3x4xf32>, tensor<1x4xi64>) -> tensor<1x4x4xf32>
    %w = graph.constant {value = dense<[1.0, 2.0, 3.0, 4.0, -1.0, -2.0, -3.0, -4.0, 0.5, 0.5, 0.5, 0.5, 2.0, 0.0, 2.0, 0.0]> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
    %scores = graph.matmul %emb, %w : (tensor<1x4x4xf32>, tensor<4x4xf32>) -> tensor<1x4x4xf32>
    %zero = graph.constant {value = dense<0.0> : tensor<f32>} : () -> tensor<f32>
    %min = graph.constant {value = dense<-3.4028234663852886e+38> : tensor<f32>} : () -> tensor<f32>
    %ninf = graph.constant {value = dense<-inf> : tensor<f32>} : () -> tensor<f32>
    %bias = graph.where %m, %zero, %min : (tensor<1x4xi1>, tensor<f32>, tensor<f32>) -> tensor<1x4xf32>
    %a = graph.add %scores, %bias : (tensor<1x4x4xf32>, tensor<1x4xf32>) -> tensor<1x4x4xf32>
    %sa = graph.softmax %a {axis = -1} : (tensor<1x4x4xf32>) -> tensor<1x4x4xf32>
    %na = graph.isnan %sa : (tensor<1x4x4xf32>) -> tensor<1x4x4xi1>
    %dead = graph.where %na, %zero, %sa : (tensor<1x4x4xi1>, tensor<f32>, tensor<1x4x4xf32>) -> tensor<1x4x4xf32>
    %bias_inf = graph.where %m, %zero, %ninf : (tensor<1x4xi1>, tensor<f32>, tensor<f32>) -> tensor<1x4xf32>
    %b = graph.add %scores, %bias_inf : (tensor<1x4x4xf32>, tensor<1x4xf32>) -> tensor<1x4x4xf32>
    %sb = graph.softmax %b {axis = -1} : (tensor<1x4x4xf32>) -> tensor<1x4x4xf32>
    %nb = graph.isnan %sb : (tensor<1x4x4xf32>) -> tensor<1x4x4xi1>
    %live_mask = graph.where %nb, %zero, %sb : (tensor<1x4x4xi1>, tensor<f32>, tensor<1x4x4xf32>) -> tensor<1x4x4xf32>
    %sc = graph.softmax %x {axis = 2} : (tensor<1x4x4xf32>) -> tensor<1x4x4xf32>
    %nc = graph.isnan %sc : (tensor<1x4x4xf32>) -> tensor<1x4x4xi1>
    %zero1 = graph.constant {value = dense<0.0> : tensor<1xf32>} : () -> tensor<1xf32>
    %live_input = graph.where %nc, %zero1, %sc : (tensor<1x4x4xi1>, tensor<1xf32>, tensor<1x4x4xf32>) -> tensor<1x4x4xf32>
    func.return %dead, %live_mask, %live_input : (tensor<1x4x4xf32>, tensor<1x4x4xf32>, tensor<1x4x4xf32>) -> ()
  }
}
// CHECK-NOT:  graph.isnan
// CHECK:      %sa = graph.softmax %a {axis = -1} : (tensor<1x4x4xf32>) -> tensor<1x4x4xf32>
// CHECK:      %live_mask = graph.softmax %b {axis = -1, nan_to_zero = true}
// CHECK-NEXT: %live_input = graph.softmax %x {axis = 2, nan_to_zero = true}
// CHECK-NEXT: func.return %sa, %live_mask, %live_input
