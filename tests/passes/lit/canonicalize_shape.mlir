// PIPELINE: canonicalize
// Reshape/transpose chains collapse; identity ops forward their operand; gathers whose constant
// index enumerates an axis are reshapes.
module {
  func @main(%x: tensor<1x4x8x2xf32>, %y: tensor<2x3xf32>, %z: tensor<6x1xf32>) -> (tensor<1x4x2x8xf32>, tensor<4x16xf32>, tensor<2x3xf32>, tensor<3x2xf32>, tensor<1x6xf32>, tensor<6x1xf32>) attributes {input_names = ["x", "y", "z"], output_names = ["k", "r", "id", "tt", "g", "gnd"]} {
    // dynamo's k.transpose(-1, -2): reshape [H, S, D] -> transpose -> reshape [1, H, D, S]
    %a = graph.reshape %x {shape = [4, 8, 2]} : (tensor<1x4x8x2xf32>) -> tensor<4x8x2xf32>
    %b = graph.transpose %a {perm = [0, 2, 1]} : (tensor<4x8x2xf32>) -> tensor<4x2x8xf32>
    %k = graph.reshape %b {shape = [1, 4, 2, 8]} : (tensor<4x2x8xf32>) -> tensor<1x4x2x8xf32>
    %r1 = graph.reshape %x {shape = [8, 8]} : (tensor<1x4x8x2xf32>) -> tensor<8x8xf32>
    %r = graph.reshape %r1 {shape = [4, 16]} : (tensor<8x8xf32>) -> tensor<4x16xf32>
    %i1 = graph.identity %y : (tensor<2x3xf32>) -> tensor<2x3xf32>
    %i2 = graph.reshape %i1 {shape = [2, 3]} : (tensor<2x3xf32>) -> tensor<2x3xf32>
    %i3 = graph.cast %i2 {to = f32} : (tensor<2x3xf32>) -> tensor<2x3xf32>
    %id = graph.expand %i3 {shape = [1, 3]} : (tensor<2x3xf32>) -> tensor<2x3xf32>
    %t1 = graph.transpose %y {perm = [1, 0]} : (tensor<2x3xf32>) -> tensor<3x2xf32>
    %t2 = graph.transpose %t1 {perm = [1, 0]} : (tensor<3x2xf32>) -> tensor<2x3xf32>
    %tt = graph.transpose %t2 {perm = [1, 0]} : (tensor<2x3xf32>) -> tensor<3x2xf32>
    // TorchScript's mask: Flatten then Gather with an arange index
    %ar = graph.constant {value = dense<[0, 1, 2, 3, 4, 5]> : tensor<1x6xi64>} : () -> tensor<1x6xi64>
    %g0 = graph.gather %z, %ar {axis = 0} : (tensor<6x1xf32>, tensor<1x6xi64>) -> tensor<1x6x1xf32>
    %g = graph.reshape %g0 {shape = [1, 6]} : (tensor<1x6x1xf32>) -> tensor<1x6xf32>
    // dynamo's: GatherND with an index enumerating [6, 1] (negative indices count from the end)
    %nd = graph.constant {value = dense<[0, 0, 1, 0, 2, 0, 3, 0, 4, -1, 5, 0]> : tensor<1x6x2xi64>} : () -> tensor<1x6x2xi64>
    %gnd0 = graph.gather_nd %z, %nd : (tensor<6x1xf32>, tensor<1x6x2xi64>) -> tensor<1x6xf32>
    // a transpose that moves only unit dims is a reshape
    %gnd = graph.transpose %gnd0 {perm = [1, 0]} : (tensor<1x6xf32>) -> tensor<6x1xf32>
    func.return %k, %r, %id, %tt, %g, %gnd : (tensor<1x4x2x8xf32>, tensor<4x16xf32>, tensor<2x3xf32>, tensor<3x2xf32>, tensor<1x6xf32>, tensor<6x1xf32>) -> ()
  }
}
// CHECK-NOT:  graph.gather
// CHECK-NOT:  graph.identity
// CHECK:      %k = graph.transpose %x {perm = [0, 1, 3, 2]}
// CHECK-NEXT: %r = graph.reshape %x {shape = [4, 16]}
// CHECK-NEXT: %tt = graph.transpose %y {perm = [1, 0]}
// CHECK-NEXT: %g = graph.reshape %z {shape = [1, 6]}
// CHECK-NEXT: func.return %k, %r, %y, %tt, %g, %z
