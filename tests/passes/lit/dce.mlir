// PIPELINE: dce
// Unused ops go, and so do the ops that only fed them.
module {
  func @main(%x: tensor<4xf32>) -> (tensor<4xf32>) attributes {input_names = ["x"], output_names = ["o"]} {
    %dead1 = graph.exp %x : (tensor<4xf32>) -> tensor<4xf32>
    %dead2 = graph.neg %dead1 : (tensor<4xf32>) -> tensor<4xf32>
    %o = graph.relu %x : (tensor<4xf32>) -> tensor<4xf32>
    func.return %o : (tensor<4xf32>) -> ()
  }
}
// CHECK-NOT: graph.exp
// CHECK-NOT: graph.neg
// CHECK:     %o = graph.relu %x
// CHECK-NEXT: func.return %o
