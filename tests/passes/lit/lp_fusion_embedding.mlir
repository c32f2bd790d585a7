// PIPELINE: lp-fusion{algebra=false}
// Embeddings: word and token-type gathers from constant tables (reorganize:
// access patterns of their consumer), the adds (one-to-one) and the LayerNorm
// (the anchor) form one "embedding" block.  The sum is also yielded, as GPT-2's
// residual stream needs it after the block.
module {
  func @main(%ids: tensor<1x4xi64>, %types: tensor<1x4xi64>) -> (tensor<1x4x8xf32>, tensor<1x4x8xf32>) attributes {input_names = ["input_ids", "token_type_ids"], output_names = ["h", "sum"]} {
    %words = graph.constant {value = dense<0.5> : tensor<16x8xf32>} : () -> tensor<16x8xf32>
    %tt = graph.constant {value = dense<-0.5> : tensor<2x8xf32>} : () -> tensor<2x8xf32>
    %pos = graph.constant {value = dense<0.25> : tensor<1x4x8xf32>} : () -> tensor<1x4x8xf32>
    %gamma = graph.constant {value = dense<2.0> : tensor<8xf32>} : () -> tensor<8xf32>
    %beta = graph.constant {value = dense<1.0> : tensor<8xf32>} : () -> tensor<8xf32>
    %w = graph.gather %words, %ids {axis = 0} : (tensor<16x8xf32>, tensor<1x4xi64>) -> tensor<1x4x8xf32> loc("embeddings/word_embeddings/Gather", "Gather")
    %t = graph.gather %tt, %types {axis = 0} : (tensor<2x8xf32>, tensor<1x4xi64>) -> tensor<1x4x8xf32> loc("embeddings/token_type_embeddings/Gather", "Gather")
    %a = graph.add %w, %t : (tensor<1x4x8xf32>, tensor<1x4x8xf32>) -> tensor<1x4x8xf32>
    %s = graph.add %a, %pos : (tensor<1x4x8xf32>, tensor<1x4x8xf32>) -> tensor<1x4x8xf32>
    %h = graph.layer_norm %s, %gamma, %beta {axis = 2, epsilon = 1e-12} : (tensor<1x4x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<1x4x8xf32>
    func.return %h, %s : (tensor<1x4x8xf32>, tensor<1x4x8xf32>) -> ()
  }
}
// CHECK:      %[[SUMOUT:.+]], %[[LNOUT:.+]] = graph.fused %words, %ids, %tt, %types, %pos, %gamma, %beta {kind = "embedding", name = "k0"} ({
// CHECK-NEXT:   ^bb0(
// CHECK-NEXT:     graph.gather
// CHECK-NEXT:     graph.gather
// CHECK-NEXT:     graph.add
// CHECK-NEXT:     %[[SUM:.+]] = graph.add
// CHECK-NEXT:     %[[LN:.+]] = graph.layer_norm
// CHECK-NEXT:     graph.yield %[[SUM]], %[[LN]]
// CHECK-NEXT: })
// CHECK-NEXT: func.return %[[LNOUT]], %[[SUMOUT]]
