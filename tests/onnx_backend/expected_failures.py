"""Expected failures of the ONNX backend node tests (``test_node.py``), one reason each.

Each entry is a case that lpfc rejects with an :class:`~lpfc.errors.LpfcError`
because it uses something lpfc does not support; ``test_node.py`` marks it
``xfail(strict=True)``, so a case that starts passing fails the suite until its
entry is removed here.  Only cases the suite selects (every op imported by lpfc)
may be listed; ``test_expected_failures_are_selected_cases`` checks that.
"""

_OPSETS = "lpfc supports opsets 13-21 (onnx_loader.MIN_OPSET..MAX_OPSET)"


def _opset(version: int, names: str) -> dict:
    """Cases whose model imports ai.onnx at ``version``, outside lpfc's range."""
    if version < 13:
        why = f"opset {version} model: {_OPSETS}; the test pins an opset older than lpfc's minimum"
    else:
        why = f"opset {version} model: {_OPSETS}; the test pins the op's opset-{version} schema"
    return dict.fromkeys(names.split(), why)


EXPECTED_FAILURES: dict[str, str] = {
    # -- models lpfc rejects for their opset ---------------------------------------------------
    **_opset(1, """
        test_not_2d test_not_3d test_not_4d
    """),
    **_opset(7, """
        test_and2d test_and3d test_and4d test_and_bcast3v1d test_and_bcast3v2d test_and_bcast4v2d
        test_and_bcast4v3d test_and_bcast4v4d test_or2d test_or3d test_or4d test_or_bcast3v1d
        test_or_bcast3v2d test_or_bcast4v2d test_or_bcast4v3d test_or_bcast4v4d test_xor2d test_xor3d
        test_xor4d test_xor_bcast3v1d test_xor_bcast3v2d test_xor_bcast4v2d test_xor_bcast4v3d
        test_xor_bcast4v4d
    """),
    **_opset(9, """
        test_shrink_hard test_shrink_soft
    """),
    **_opset(11, """
        test_dropout_default_old test_dropout_random_old
    """),
    **_opset(22, """
        test_cos test_cos_example test_dropout_default test_dropout_default_mask
        test_dropout_default_mask_ratio test_dropout_default_ratio test_elu test_elu_default
        test_elu_example test_eyelike_populate_off_main_diagonal test_eyelike_with_dtype
        test_eyelike_without_dtype test_globalaveragepool test_globalaveragepool_precomputed
        test_globalmaxpool test_globalmaxpool_precomputed test_hardsigmoid test_hardsigmoid_default
        test_hardsigmoid_example test_hardswish test_hardswish_expanded test_instancenorm_epsilon
        test_instancenorm_example test_mish test_mish_expanded test_nllloss_NC_expanded
        test_nllloss_NCd1_expanded test_nllloss_NCd1_ii_expanded
        test_nllloss_NCd1_mean_weight_negative_ii_expanded test_nllloss_NCd1_weight_expanded
        test_nllloss_NCd1_weight_ii_expanded test_nllloss_NCd1d2_expanded
        test_nllloss_NCd1d2_no_weight_reduction_mean_ii_expanded test_nllloss_NCd1d2_reduction_mean_expanded
        test_nllloss_NCd1d2_reduction_sum_expanded test_nllloss_NCd1d2_with_weight_expanded
        test_nllloss_NCd1d2_with_weight_reduction_mean_expanded
        test_nllloss_NCd1d2_with_weight_reduction_sum_expanded
        test_nllloss_NCd1d2_with_weight_reduction_sum_ii_expanded
        test_nllloss_NCd1d2d3_none_no_weight_negative_ii_expanded
        test_nllloss_NCd1d2d3_sum_weight_high_ii_expanded test_nllloss_NCd1d2d3d4d5_mean_weight_expanded
        test_nllloss_NCd1d2d3d4d5_none_no_weight_expanded test_round test_selu test_selu_default
        test_selu_example test_sin test_sin_example test_softplus test_softplus_example test_softsign
        test_softsign_example test_thresholdedrelu test_thresholdedrelu_default test_thresholdedrelu_example
        test_training_dropout test_training_dropout_default test_training_dropout_default_mask
        test_training_dropout_mask test_training_dropout_zero_ratio test_training_dropout_zero_ratio_mask
    """),
    **_opset(23, """
        test_attention_23_boolmask_fullymasked_row_nan_robustness_expanded
        test_attention_23_fullymasked_qk_matmul_output_mode3_zero_expanded
        test_attention_3d_attn_mask_expanded test_attention_3d_causal_bf16_expanded
        test_attention_3d_causal_expanded test_attention_3d_diff_heads_sizes_attn_mask_expanded
        test_attention_3d_diff_heads_sizes_causal_expanded test_attention_3d_diff_heads_sizes_expanded
        test_attention_3d_diff_heads_sizes_scaled_expanded
        test_attention_3d_diff_heads_sizes_softcap_expanded
        test_attention_3d_diff_heads_with_past_and_present_expanded test_attention_3d_expanded
        test_attention_3d_gqa_attn_mask_expanded test_attention_3d_gqa_causal_expanded
        test_attention_3d_gqa_expanded test_attention_3d_gqa_scaled_expanded
        test_attention_3d_gqa_softcap_expanded test_attention_3d_gqa_with_past_and_present_expanded
        test_attention_3d_scaled_expanded test_attention_3d_softcap_expanded
        test_attention_3d_transpose_verification_expanded test_attention_3d_with_past_and_present_expanded
        test_attention_3d_with_past_and_present_qk_matmul_bias_expanded
        test_attention_3d_with_past_and_present_qk_matmul_expanded
        test_attention_3d_with_past_and_present_qk_matmul_softcap_expanded
        test_attention_3d_with_past_and_present_qk_matmul_softmax_expanded
        test_attention_4d_attn_mask_3d_causal_expanded test_attention_4d_attn_mask_3d_expanded
        test_attention_4d_attn_mask_4d_causal_expanded test_attention_4d_attn_mask_4d_expanded
        test_attention_4d_attn_mask_bool_4d_expanded test_attention_4d_attn_mask_bool_expanded
        test_attention_4d_attn_mask_causal_bf16_expanded test_attention_4d_attn_mask_expanded
        test_attention_4d_causal_bf16_expanded test_attention_4d_causal_expanded
        test_attention_4d_causal_fp16_expanded test_attention_4d_diff_heads_sizes_attn_mask_expanded
        test_attention_4d_diff_heads_sizes_causal_expanded test_attention_4d_diff_heads_sizes_expanded
        test_attention_4d_diff_heads_sizes_scaled_expanded
        test_attention_4d_diff_heads_sizes_softcap_expanded
        test_attention_4d_diff_heads_with_past_and_present_expanded
        test_attention_4d_diff_heads_with_past_and_present_mask3d_expanded
        test_attention_4d_diff_heads_with_past_and_present_mask4d_expanded test_attention_4d_expanded
        test_attention_4d_fp16_expanded test_attention_4d_gqa_attn_mask_expanded
        test_attention_4d_gqa_causal_expanded test_attention_4d_gqa_expanded
        test_attention_4d_gqa_scaled_expanded test_attention_4d_gqa_softcap_expanded
        test_attention_4d_gqa_with_past_and_present_expanded
        test_attention_4d_gqa_with_past_and_present_fp16_expanded test_attention_4d_scaled_expanded
        test_attention_4d_softcap_expanded test_attention_4d_softcap_neginf_mask_expanded
        test_attention_4d_softcap_neginf_mask_poison_expanded
        test_attention_4d_with_past_and_present_expanded
        test_attention_4d_with_past_and_present_qk_matmul_bias_3d_mask_causal_expanded
        test_attention_4d_with_past_and_present_qk_matmul_bias_3d_mask_expanded
        test_attention_4d_with_past_and_present_qk_matmul_bias_4d_mask_causal_expanded
        test_attention_4d_with_past_and_present_qk_matmul_bias_4d_mask_expanded
        test_attention_4d_with_past_and_present_qk_matmul_bias_expanded
        test_attention_4d_with_past_and_present_qk_matmul_expanded
        test_attention_4d_with_qk_matmul_bias_expanded test_attention_4d_with_qk_matmul_expanded
        test_attention_4d_with_qk_matmul_softcap_expanded test_attention_4d_with_qk_matmul_softmax_expanded
        test_rms_normalization_2d_axis0_expanded test_rms_normalization_2d_axis1_expanded
        test_rms_normalization_2d_axis_negative_1_expanded
        test_rms_normalization_2d_axis_negative_2_expanded test_rms_normalization_3d_axis0_epsilon_expanded
        test_rms_normalization_3d_axis1_epsilon_expanded test_rms_normalization_3d_axis2_epsilon_expanded
        test_rms_normalization_3d_axis_negative_1_epsilon_expanded
        test_rms_normalization_3d_axis_negative_2_epsilon_expanded
        test_rms_normalization_3d_axis_negative_3_epsilon_expanded test_rms_normalization_4d_axis0_expanded
        test_rms_normalization_4d_axis1_expanded test_rms_normalization_4d_axis2_expanded
        test_rms_normalization_4d_axis3_expanded test_rms_normalization_4d_axis_negative_1_expanded
        test_rms_normalization_4d_axis_negative_2_expanded
        test_rms_normalization_4d_axis_negative_3_expanded
        test_rms_normalization_4d_axis_negative_4_expanded test_rms_normalization_default_axis_expanded
        test_rotary_embedding_3d_input_expanded test_rotary_embedding_expanded
        test_rotary_embedding_interleaved_expanded test_rotary_embedding_no_position_ids_expanded
        test_rotary_embedding_no_position_ids_interleaved_expanded
        test_rotary_embedding_no_position_ids_rotary_dim_expanded
        test_rotary_embedding_with_interleaved_rotary_dim_expanded
        test_rotary_embedding_with_rotary_dim_expanded
    """),
    **_opset(24, """
        test_attention_24_fullymasked_qk_matmul_output_mode3_zero_expanded
        test_attention_24_qk_matmul_output_mode3_softmax_precision_expanded
        test_attention_4d_causal_nonpad_attn_mask_composition_expanded
        test_attention_4d_causal_nonpad_batch_prefill_expanded
        test_attention_4d_causal_nonpad_continued_prefill_expanded
        test_attention_4d_causal_nonpad_negative_offset_structural_empty_expanded
        test_attention_4d_causal_padded_kv_bf16_expanded
        test_attention_4d_causal_with_past_and_present_expanded
        test_attention_4d_diff_heads_mask4d_padded_kv_expanded
        test_attention_4d_gqa_causal_nonpad_decode_expanded
        test_attention_4d_gqa_causal_nonpad_decode_fp16_expanded test_attention_4d_padded_kv_bf16_expanded
        test_attention_causal_boolmask_nan_robustness_expanded test_swish_expanded
    """),
    **_opset(25, """
        test_attention_3d_local_window_expanded test_attention_bidirectional_window_expanded
        test_attention_local_window_default_expanded test_attention_local_window_expanded
        test_attention_local_window_ext_cache_float16_mask_expanded
        test_attention_local_window_ext_cache_rank2_mask_expanded
        test_attention_local_window_ext_cache_rank3_head_mask_expanded
        test_attention_local_window_ext_cache_rank4_batch_mask_expanded
        test_attention_local_window_gqa_rank4_mask_expanded
        test_attention_local_window_rank1_boolean_mask_expanded
        test_attention_local_window_with_past_expanded test_castlike_BFLOAT16_to_FLOAT
        test_castlike_BFLOAT16_to_FLOAT_expanded test_castlike_DOUBLE_to_FLOAT
        test_castlike_DOUBLE_to_FLOAT16 test_castlike_DOUBLE_to_FLOAT16_expanded
        test_castlike_DOUBLE_to_FLOAT_expanded test_castlike_FLOAT16_to_DOUBLE
        test_castlike_FLOAT16_to_DOUBLE_expanded test_castlike_FLOAT16_to_FLOAT
        test_castlike_FLOAT16_to_FLOAT4E2M1 test_castlike_FLOAT16_to_FLOAT4E2M1_expanded
        test_castlike_FLOAT16_to_FLOAT8E4M3FN test_castlike_FLOAT16_to_FLOAT8E4M3FNUZ
        test_castlike_FLOAT16_to_FLOAT8E4M3FNUZ_expanded test_castlike_FLOAT16_to_FLOAT8E4M3FN_expanded
        test_castlike_FLOAT16_to_FLOAT8E5M2 test_castlike_FLOAT16_to_FLOAT8E5M2FNUZ
        test_castlike_FLOAT16_to_FLOAT8E5M2FNUZ_expanded test_castlike_FLOAT16_to_FLOAT8E5M2_expanded
        test_castlike_FLOAT16_to_FLOAT_expanded test_castlike_FLOAT16_to_INT2
        test_castlike_FLOAT16_to_INT2_expanded test_castlike_FLOAT16_to_INT4
        test_castlike_FLOAT16_to_INT4_expanded test_castlike_FLOAT16_to_UINT2
        test_castlike_FLOAT16_to_UINT2_expanded test_castlike_FLOAT16_to_UINT4
        test_castlike_FLOAT16_to_UINT4_expanded test_castlike_FLOAT4E2M1_to_FLOAT
        test_castlike_FLOAT4E2M1_to_FLOAT16 test_castlike_FLOAT4E2M1_to_FLOAT16_expanded
        test_castlike_FLOAT4E2M1_to_FLOAT_expanded test_castlike_FLOAT8E4M3FNUZ_to_FLOAT
        test_castlike_FLOAT8E4M3FNUZ_to_FLOAT16 test_castlike_FLOAT8E4M3FNUZ_to_FLOAT16_expanded
        test_castlike_FLOAT8E4M3FNUZ_to_FLOAT_expanded test_castlike_FLOAT8E4M3FN_to_FLOAT
        test_castlike_FLOAT8E4M3FN_to_FLOAT16 test_castlike_FLOAT8E4M3FN_to_FLOAT16_expanded
        test_castlike_FLOAT8E4M3FN_to_FLOAT_expanded test_castlike_FLOAT8E5M2FNUZ_to_FLOAT
        test_castlike_FLOAT8E5M2FNUZ_to_FLOAT16 test_castlike_FLOAT8E5M2FNUZ_to_FLOAT16_expanded
        test_castlike_FLOAT8E5M2FNUZ_to_FLOAT_expanded test_castlike_FLOAT8E5M2_to_FLOAT
        test_castlike_FLOAT8E5M2_to_FLOAT16 test_castlike_FLOAT8E5M2_to_FLOAT16_expanded
        test_castlike_FLOAT8E5M2_to_FLOAT_expanded test_castlike_FLOAT_to_BFLOAT16
        test_castlike_FLOAT_to_BFLOAT16_expanded test_castlike_FLOAT_to_DOUBLE
        test_castlike_FLOAT_to_DOUBLE_expanded test_castlike_FLOAT_to_FLOAT16
        test_castlike_FLOAT_to_FLOAT16_expanded test_castlike_FLOAT_to_FLOAT4E2M1
        test_castlike_FLOAT_to_FLOAT4E2M1_expanded test_castlike_FLOAT_to_FLOAT8E4M3FN
        test_castlike_FLOAT_to_FLOAT8E4M3FNUZ test_castlike_FLOAT_to_FLOAT8E4M3FNUZ_expanded
        test_castlike_FLOAT_to_FLOAT8E4M3FN_expanded test_castlike_FLOAT_to_FLOAT8E5M2
        test_castlike_FLOAT_to_FLOAT8E5M2FNUZ test_castlike_FLOAT_to_FLOAT8E5M2FNUZ_expanded
        test_castlike_FLOAT_to_FLOAT8E5M2_expanded test_castlike_FLOAT_to_INT2
        test_castlike_FLOAT_to_INT2_expanded test_castlike_FLOAT_to_INT4
        test_castlike_FLOAT_to_INT4_expanded test_castlike_FLOAT_to_UINT2
        test_castlike_FLOAT_to_UINT2_expanded test_castlike_FLOAT_to_UINT4
        test_castlike_FLOAT_to_UINT4_expanded test_castlike_INT2_to_FLOAT test_castlike_INT2_to_FLOAT16
        test_castlike_INT2_to_FLOAT16_expanded test_castlike_INT2_to_FLOAT_expanded
        test_castlike_INT2_to_INT8 test_castlike_INT2_to_INT8_expanded test_castlike_INT4_to_FLOAT
        test_castlike_INT4_to_FLOAT16 test_castlike_INT4_to_FLOAT16_expanded
        test_castlike_INT4_to_FLOAT_expanded test_castlike_INT4_to_INT8 test_castlike_INT4_to_INT8_expanded
        test_castlike_UINT2_to_FLOAT test_castlike_UINT2_to_FLOAT16 test_castlike_UINT2_to_FLOAT16_expanded
        test_castlike_UINT2_to_FLOAT_expanded test_castlike_UINT2_to_UINT8
        test_castlike_UINT2_to_UINT8_expanded test_castlike_UINT4_to_FLOAT test_castlike_UINT4_to_FLOAT16
        test_castlike_UINT4_to_FLOAT16_expanded test_castlike_UINT4_to_FLOAT_expanded
        test_castlike_UINT4_to_UINT8 test_castlike_UINT4_to_UINT8_expanded
        test_castlike_no_saturate_FLOAT16_to_FLOAT8E4M3FN
        test_castlike_no_saturate_FLOAT16_to_FLOAT8E4M3FNUZ
        test_castlike_no_saturate_FLOAT16_to_FLOAT8E4M3FNUZ_expanded
        test_castlike_no_saturate_FLOAT16_to_FLOAT8E4M3FN_expanded
        test_castlike_no_saturate_FLOAT16_to_FLOAT8E5M2 test_castlike_no_saturate_FLOAT16_to_FLOAT8E5M2FNUZ
        test_castlike_no_saturate_FLOAT16_to_FLOAT8E5M2FNUZ_expanded
        test_castlike_no_saturate_FLOAT16_to_FLOAT8E5M2_expanded
        test_castlike_no_saturate_FLOAT_to_FLOAT8E4M3FN test_castlike_no_saturate_FLOAT_to_FLOAT8E4M3FNUZ
        test_castlike_no_saturate_FLOAT_to_FLOAT8E4M3FNUZ_expanded
        test_castlike_no_saturate_FLOAT_to_FLOAT8E4M3FN_expanded
        test_castlike_no_saturate_FLOAT_to_FLOAT8E5M2 test_castlike_no_saturate_FLOAT_to_FLOAT8E5M2FNUZ
        test_castlike_no_saturate_FLOAT_to_FLOAT8E5M2FNUZ_expanded
        test_castlike_no_saturate_FLOAT_to_FLOAT8E5M2_expanded test_constant test_constant_pad
        test_constant_pad_axes test_constant_pad_negative_axes test_constantofshape_float_ones
        test_constantofshape_int_shape_zero test_constantofshape_int_zeros test_edge_pad test_flatten_axis0
        test_flatten_axis1 test_flatten_axis2 test_flatten_axis3 test_flatten_default_axis
        test_flatten_negative_axis1 test_flatten_negative_axis2 test_flatten_negative_axis3
        test_flatten_negative_axis4 test_identity test_identity_sequence test_reflect_pad
        test_reshape_allowzero_reordered test_reshape_extended_dims test_reshape_negative_dim
        test_reshape_negative_extended_dims test_reshape_one_dim test_reshape_reduced_dims
        test_reshape_reordered_all_dims test_reshape_reordered_last_dims test_reshape_zero_and_negative_dim
        test_reshape_zero_dim test_shape test_shape_clip_end test_shape_clip_start test_shape_end_1
        test_shape_end_negative_1 test_shape_example test_shape_start_1 test_shape_start_1_end_2
        test_shape_start_1_end_negative_1 test_shape_start_greater_than_end test_shape_start_negative_1
        test_size test_size_example test_squeeze test_squeeze_negative_axes
        test_transpose_all_permutations_0 test_transpose_all_permutations_1
        test_transpose_all_permutations_2 test_transpose_all_permutations_3
        test_transpose_all_permutations_4 test_transpose_all_permutations_5 test_transpose_default
        test_unsqueeze_axis_0 test_unsqueeze_axis_1 test_unsqueeze_axis_2 test_unsqueeze_negative_axes
        test_unsqueeze_three_axes test_unsqueeze_two_axes test_unsqueeze_unsorted_axes test_wrap_pad
    """),
    **_opset(26, """
        test_flexattention_causal_mask_expanded_ver26 test_flexattention_diff_head_sizes_expanded_ver26
        test_flexattention_double_expanded_ver26 test_flexattention_expanded_ver26
        test_flexattention_fp16_expanded_ver26 test_flexattention_gqa_expanded_ver26
        test_flexattention_prob_mod_expanded_ver26 test_flexattention_relative_positional_expanded_ver26
        test_flexattention_scaled_expanded_ver26 test_flexattention_score_mod_expanded_ver26
        test_flexattention_soft_cap_expanded_ver26
    """),
    **_opset(27, """
        test_range_bfloat16_type_positive_delta test_range_float16_type_positive_delta
        test_range_float_type_positive_delta test_range_int32_type_negative_delta
    """),
    **_opset(28, """
        test_bitshift_left_int16 test_bitshift_left_int32 test_bitshift_left_int32_negative_shift
        test_bitshift_left_int32_overflow test_bitshift_left_int32_shift_ge_width test_bitshift_left_int64
        test_bitshift_left_int8 test_bitshift_left_int8_negative_shift test_bitshift_left_int8_overflow
        test_bitshift_left_int8_shift_ge_width test_bitshift_left_uint16 test_bitshift_left_uint32
        test_bitshift_left_uint64 test_bitshift_left_uint8 test_bitshift_right_int16
        test_bitshift_right_int32 test_bitshift_right_int32_negative_input
        test_bitshift_right_int32_negative_shift test_bitshift_right_int32_shift_ge_width
        test_bitshift_right_int64 test_bitshift_right_int8 test_bitshift_right_int8_negative_input
        test_bitshift_right_int8_negative_shift test_bitshift_right_int8_shift_ge_width
        test_bitshift_right_uint16 test_bitshift_right_uint32 test_bitshift_right_uint64
        test_bitshift_right_uint8 test_cast_BFLOAT16_to_FLOAT test_cast_DOUBLE_to_FLOAT
        test_cast_DOUBLE_to_FLOAT16 test_cast_FLOAT16_to_DOUBLE test_cast_FLOAT16_to_FLOAT
        test_cast_FLOAT16_to_FLOAT4E2M1 test_cast_FLOAT16_to_FLOAT8E4M3FN
        test_cast_FLOAT16_to_FLOAT8E4M3FNUZ test_cast_FLOAT16_to_FLOAT8E5M2
        test_cast_FLOAT16_to_FLOAT8E5M2FNUZ test_cast_FLOAT16_to_INT2 test_cast_FLOAT16_to_INT4
        test_cast_FLOAT16_to_UINT2 test_cast_FLOAT16_to_UINT4 test_cast_FLOAT4E2M1_to_FLOAT
        test_cast_FLOAT4E2M1_to_FLOAT16 test_cast_FLOAT8E4M3FNUZ_to_FLOAT
        test_cast_FLOAT8E4M3FNUZ_to_FLOAT16 test_cast_FLOAT8E4M3FN_to_FLOAT
        test_cast_FLOAT8E4M3FN_to_FLOAT16 test_cast_FLOAT8E5M2FNUZ_to_FLOAT
        test_cast_FLOAT8E5M2FNUZ_to_FLOAT16 test_cast_FLOAT8E5M2_to_FLOAT test_cast_FLOAT8E5M2_to_FLOAT16
        test_cast_FLOAT_to_BFLOAT16 test_cast_FLOAT_to_DOUBLE test_cast_FLOAT_to_FLOAT16
        test_cast_FLOAT_to_FLOAT4E2M1 test_cast_FLOAT_to_FLOAT8E4M3FN test_cast_FLOAT_to_FLOAT8E4M3FNUZ
        test_cast_FLOAT_to_FLOAT8E5M2 test_cast_FLOAT_to_FLOAT8E5M2FNUZ test_cast_FLOAT_to_INT2
        test_cast_FLOAT_to_INT4 test_cast_FLOAT_to_UINT2 test_cast_FLOAT_to_UINT4 test_cast_INT2_to_FLOAT
        test_cast_INT2_to_FLOAT16 test_cast_INT2_to_INT8 test_cast_INT4_to_FLOAT test_cast_INT4_to_FLOAT16
        test_cast_INT4_to_INT8 test_cast_UINT2_to_FLOAT test_cast_UINT2_to_FLOAT16 test_cast_UINT2_to_UINT8
        test_cast_UINT4_to_FLOAT test_cast_UINT4_to_FLOAT16 test_cast_UINT4_to_UINT8
        test_cast_e8m0_FLOAT16_to_FLOAT8E8M0 test_cast_e8m0_FLOAT8E8M0_to_FLOAT
        test_cast_e8m0_FLOAT8E8M0_to_FLOAT16 test_cast_e8m0_FLOAT_to_FLOAT8E8M0
        test_cast_no_saturate_FLOAT16_to_FLOAT8E4M3FN test_cast_no_saturate_FLOAT16_to_FLOAT8E4M3FNUZ
        test_cast_no_saturate_FLOAT16_to_FLOAT8E5M2 test_cast_no_saturate_FLOAT16_to_FLOAT8E5M2FNUZ
        test_cast_no_saturate_FLOAT_to_FLOAT8E4M3FN test_cast_no_saturate_FLOAT_to_FLOAT8E4M3FNUZ
        test_cast_no_saturate_FLOAT_to_FLOAT8E5M2 test_cast_no_saturate_FLOAT_to_FLOAT8E5M2FNUZ test_celu
        test_celu_bfloat16 test_celu_bfloat16_expanded test_celu_expanded test_celu_float16
        test_celu_float16_expanded test_depthtospace_crd_mode_example
        test_depthtospace_crd_mode_example_expanded test_depthtospace_example
        test_depthtospace_example_expanded test_mod_broadcast test_mod_float16_mixed_sign_fmod_0
        test_mod_float32_mixed_sign_fmod_0 test_mod_float64_mixed_sign_fmod_0
        test_mod_float_edge_cases_fmod_0_float16 test_mod_float_edge_cases_fmod_0_float32
        test_mod_float_edge_cases_fmod_0_float64 test_mod_int64_fmod test_mod_mixed_sign_float16
        test_mod_mixed_sign_float32 test_mod_mixed_sign_float64 test_mod_mixed_sign_int16
        test_mod_mixed_sign_int32 test_mod_mixed_sign_int64 test_mod_mixed_sign_int8 test_mod_uint16
        test_mod_uint32 test_mod_uint64 test_mod_uint8 test_onehot_negative_indices
        test_onehot_out_of_range_indices test_onehot_with_axis test_onehot_with_bfloat16_values
        test_onehot_with_negative_axis test_onehot_without_axis test_reduce_log_sum_asc_axes
        test_reduce_log_sum_asc_axes_expanded test_reduce_log_sum_default
        test_reduce_log_sum_default_expanded test_reduce_log_sum_desc_axes
        test_reduce_log_sum_desc_axes_expanded test_reduce_log_sum_empty_set
        test_reduce_log_sum_empty_set_expanded test_reduce_log_sum_exp_default_axes_keepdims_example
        test_reduce_log_sum_exp_default_axes_keepdims_example_expanded
        test_reduce_log_sum_exp_default_axes_keepdims_random
        test_reduce_log_sum_exp_default_axes_keepdims_random_expanded
        test_reduce_log_sum_exp_do_not_keepdims_example
        test_reduce_log_sum_exp_do_not_keepdims_example_expanded
        test_reduce_log_sum_exp_do_not_keepdims_random
        test_reduce_log_sum_exp_do_not_keepdims_random_expanded test_reduce_log_sum_exp_empty_set
        test_reduce_log_sum_exp_empty_set_expanded test_reduce_log_sum_exp_keepdims_example
        test_reduce_log_sum_exp_keepdims_example_expanded test_reduce_log_sum_exp_keepdims_random
        test_reduce_log_sum_exp_keepdims_random_expanded
        test_reduce_log_sum_exp_negative_axes_keepdims_example
        test_reduce_log_sum_exp_negative_axes_keepdims_example_expanded
        test_reduce_log_sum_exp_negative_axes_keepdims_random
        test_reduce_log_sum_exp_negative_axes_keepdims_random_expanded test_reduce_log_sum_negative_axes
        test_reduce_log_sum_negative_axes_expanded test_spacetodepth test_spacetodepth_crd_mode_example
        test_spacetodepth_crd_mode_example_expanded test_spacetodepth_dcr_mode_example
        test_spacetodepth_dcr_mode_example_expanded test_spacetodepth_example
        test_spacetodepth_example_expanded test_spacetodepth_expanded
    """),
    # -- features lpfc does not support ---------------------------------------------------------------
    "test_batchnorm_epsilon_training_mode": "BatchNormalization training_mode=1 (batch statistics, running-mean "
                                            "outputs): lpfc imports inference graphs only",
    "test_batchnorm_example_training_mode": "BatchNormalization training_mode=1 (batch statistics, running-mean "
                                            "outputs): lpfc imports inference graphs only",
    "test_equal_string": "string tensors unsupported (STRING graph inputs)",
    "test_equal_string_broadcast": "string tensors unsupported (STRING graph inputs)",
    "test_identity_opt": "optional-typed graph input (optional(seq(tensor))) unsupported: lpfc values are tensors",
}
