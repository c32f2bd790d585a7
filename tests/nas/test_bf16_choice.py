"""cpu_has_bf16: bf16 autocast only where the CPU multiplies bf16 natively (else it is slower than fp32)."""
from lpfc.nas.squad import cpu_has_bf16


def test_native_bf16_flags_are_recognised_and_nothing_else():
    assert cpu_has_bf16("flags\t: fpu avx2 avx512f avx512_bf16 avx512_vnni\n")
    assert cpu_has_bf16("flags\t: fpu avx2 amx_bf16 amx_tile\n")
    assert not cpu_has_bf16("flags\t: fpu avx2 fma avx512f avx512bw\n")      # AVX-512 without bf16 dot products
    assert not cpu_has_bf16("flags\t: fpu avx2 avx512_bf16x\n")               # whole flags only
    assert not cpu_has_bf16("")
