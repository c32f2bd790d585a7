"""The SIMD layer: one small vector vocabulary that every specialised C++ kernel is written in.

A kernel template never names an intrinsic.  It says ``V::fma(a, b, c)``,
``V::load(p)``, ``V::exp(x)`` ... where ``V`` is a namespace alias for one of
the ISA namespaces below, each defining the same functions on its own vector
type ``V::vf`` of ``V::W`` floats:

=========  =====  ==================  ==========================  ============================
ISA        W      guard macro         micro-kernel MR x NR         status
=========  =====  ==================  ==========================  ============================
avx512     16     ``__AVX512F__``     14 x 32 (28 accumulators)    written; compile-tested here
avx2       8      ``__AVX2__``+FMA    6 x 16 (12 accumulators)     the host path on this VM
neon       4      ``__aarch64__``     8 x 12 (24 accumulators)     arm64 targets; tested under qemu
scalar     1      (none)              4 x 4                        portable fallback
=========  =====  ==================  ==========================  ============================

The vocabulary (all ``static inline``):

* ``zero() set1(float) load(p) store(p, v) load_partial(p, n) store_partial(p, v, n)``
  (``_partial``: the first ``n < W`` lanes; other lanes read as 0, never touched);
* ``add sub mul div fma(a, b, c) = a*b + c  max min`` (max/min propagate NaN like numpy)
  ``neg abs sqrt relu``;
* ``exp tanh erf sigmoid gelu gelu_tanh`` - vectorised approximations, within a few ulp
  (exp: Cephes' polynomial after range reduction; tanh and erf: Eigen's rational
  approximations, max relative error 2.3e-7 and 6.5e-8 in exact arithmetic);
* ``nan_to_zero(v)``; ``hsum(v) hmax(v)`` (horizontal reductions).

:func:`select_isa` picks the widest ISA the target's compiler enables
(``Toolchain.features()``: ``avx512f`` > ``avx2``+``fma`` > ``neon`` > ``scalar``).
NEON adds one primitive of its own, ``fma_lane<L>(c, b, a) = c + b * a[L]`` (``vfmaq_laneq_f32``), which
only its GEMM micro-kernel (``templates/gemm_driver_neon.h.j2``) uses.  The generated helper is
wrapped in ``#if <guard> ... #else #error``, so a kernel built with flags that lack the ISA fails
loudly instead of miscompiling.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Optional

from .targets import Target


@dataclass(frozen=True)
class SimdISA:
    name: str                 # "avx512" | "avx2" | "neon" | "scalar"
    width: int                # floats per vector
    guard: str                # preprocessor condition that must hold to compile it
    header: str               # intrinsics header ("" for scalar)
    mr: int                   # GEMM micro-kernel rows
    nr: int                   # GEMM micro-kernel columns (a multiple of width)
    body: Optional[str]       # the namespace body (None: not written yet)

    @property
    def ns(self) -> str:
        return f"lpfc_{self.name}"

    @property
    def available(self) -> bool:
        return self.body is not None

    def helper(self) -> str:
        """The C++ helper that defines namespace :attr:`ns` (emit once per translation unit)."""
        if self.body is None:
            raise NotImplementedError(f"the {self.name} SIMD layer is not written yet")
        inc = f"#include {self.header}\n" if self.header else ""
        return (f"#if {self.guard}\n{inc}#include <math.h>\n#include <string.h>\n"
                f"namespace {self.ns} {{\n{_COMMON_HEAD}{self.body}{_COMMON_MATH}}}  // namespace {self.ns}\n"
                f"#else\n#error \"lpfc: these kernels were generated for {self.name}; build with flags that "
                f"enable it\"\n#endif\n")


# Shared preamble: constants of the math approximations (same for every ISA).
_COMMON_HEAD = r"""
static const float kExpHi = 88.3762626647949f, kExpLo = -87.0f;   // e^-87 is still normal: no denormal slow path
"""

# Math on top of the primitive vocabulary (identical source for every ISA: written once).
_COMMON_MATH = r"""
// exp: x = n*ln2 + r, |r| <= ln2/2, Cephes' degree-6 polynomial for e^r, times 2^n.
inline vf exp(vf x) {
    vf under = lt(x, set1(kExpLo));
    vf xc = min_num(set1(kExpHi), max_num(set1(kExpLo), x));   // NaN passes through
    vf n = round_near(mul(xc, set1(1.44269504088896341f)));
    vf r = fma(n, set1(-0.693359375f), xc);
    r = fma(n, set1(2.12194440e-4f), r);
    vf p = set1(1.9875691500e-4f);
    p = fma(p, r, set1(1.3981999507e-3f));
    p = fma(p, r, set1(8.3334519073e-3f));
    p = fma(p, r, set1(4.1665795894e-2f));
    p = fma(p, r, set1(1.6666665459e-1f));
    p = fma(p, r, set1(5.0000001201e-1f));
    p = fma(p, mul(r, r), add(r, set1(1.0f)));
    return andnot(under, scale2(p, n));                         // e^x -> 0 below the normal range
}
// tanh: Eigen's rational approximation x*P(x^2)/Q(x^2) on [-7.9, 7.9]; tanh(x) = x for |x| < 4e-4.
inline vf tanh(vf x) {
    vf tiny = lt(abs(x), set1(0.0004f));
    vf xc = min_num(set1(7.90531110763549805f), max_num(set1(-7.90531110763549805f), x));
    vf x2 = mul(xc, xc);
    vf p = set1(-2.76076847742355e-16f);
    p = fma(x2, p, set1(2.00018790482477e-13f));
    p = fma(x2, p, set1(-8.60467152213735e-11f));
    p = fma(x2, p, set1(5.12229709037114e-08f));
    p = fma(x2, p, set1(1.48572235717979e-05f));
    p = fma(x2, p, set1(6.37261928875436e-04f));
    p = fma(x2, p, set1(4.89352455891786e-03f));
    p = mul(xc, p);
    vf q = set1(1.19825839466702e-06f);
    q = fma(x2, q, set1(1.18534705686654e-04f));
    q = fma(x2, q, set1(2.26843463243900e-03f));
    q = fma(x2, q, set1(4.89352518554385e-03f));
    return select(tiny, x, div(p, q));
}
// erf: Eigen's rational approximation x*P(x^2)/Q(x^2) on [-4, 4] (erf = +-1 in float beyond).
inline vf erf(vf x) {
    vf xc = min_num(set1(4.0f), max_num(set1(-4.0f), x));
    vf x2 = mul(xc, xc);
    vf p = set1(-2.72614225801306e-10f);
    p = fma(x2, p, set1(2.77068142495902e-08f));
    p = fma(x2, p, set1(-2.10102402082508e-06f));
    p = fma(x2, p, set1(-5.69250639462346e-05f));
    p = fma(x2, p, set1(-7.34990630326855e-04f));
    p = fma(x2, p, set1(-2.95459980854025e-03f));
    p = fma(x2, p, set1(-1.60960333262415e-02f));
    p = mul(xc, p);
    vf q = set1(-1.45660718464996e-05f);
    q = fma(x2, q, set1(-2.13374055278905e-04f));
    q = fma(x2, q, set1(-1.68282697438203e-03f));
    q = fma(x2, q, set1(-7.37332916720468e-03f));
    q = fma(x2, q, set1(-1.42647390514189e-02f));
    return max_num(set1(-1.0f), min_num(set1(1.0f), div(p, q)));   // |erf| <= 1, so 1 + erf >= 0 (GELU)
}
inline vf sigmoid(vf x) { return div(set1(1.0f), add(set1(1.0f), exp(neg(x)))); }
// gelu(x) = x * Phi(x), Phi(x) = erfc(-x/sqrt2) / 2, from one erfc of |x|/sqrt2 (Numerical Recipes' erfcc,
// fractional error < 1.2e-7): Phi = e/2 for x < 0, 1 - e/2 otherwise.  exp(-x^2/2) is split exactly by an
// FMA, so the negative tail keeps ~1e-5 relative accuracy (1 + erf(x) would cancel there).
inline vf gelu_erfc(vf x) {
    vf xc = min_num(set1(30.0f), max_num(set1(-30.0f), x));       // erfc is 0 in float beyond; NaN passes
    vf h = mul(set1(0.5f), xc);
    vf t = div(set1(1.0f), fma(set1(0.35355339059327376f), abs(xc), set1(1.0f)));
    vf p = set1(0.17087277f);
    p = fma(p, t, set1(-0.82215223f));
    p = fma(p, t, set1(1.48851587f));
    p = fma(p, t, set1(-1.13520398f));
    p = fma(p, t, set1(0.27886807f));
    p = fma(p, t, set1(-0.18628806f));
    p = fma(p, t, set1(0.09678418f));
    p = fma(p, t, set1(0.37409196f));
    p = fma(p, t, set1(1.00002368f));
    p = fma(p, t, set1(-1.26551223f));
    vf xx = mul(h, xc);
    vf err = fma(h, xc, neg(xx));
    vf half_e = mul(set1(0.5f), mul(t, exp(sub(sub(p, xx), err))));
    return mul(x, select(lt(xc, zero()), half_e, sub(set1(1.0f), half_e)));
}
// any_lt(a, b): is a < b in some lane.  A portable fallback; an ISA may define a faster non-template overload
// (AVX2: movemask), which overload resolution prefers.
template <class T>
inline bool any_lt(T a, T b) {
    float ta[W], tb[W];
    store(ta, a);
    store(tb, b);
    for (int i = 0; i < W; ++i)
        if (ta[i] < tb[i]) return true;
    return false;
}
// Where no lane is below -2 (most vectors of a transformer's FFN), Phi = (1 + erf(x/sqrt2))/2 is as accurate
// (1 + erf >= 0.045 there, so erf's ~1e-7 error grows at most 22x) and ~4x cheaper than the erfc form.
inline vf gelu(vf x) {
    if (!any_lt(x, set1(-2.0f)))     // NaN lanes compare false: the erf form propagates them too
        return mul(mul(set1(0.5f), x), add(set1(1.0f), erf(mul(x, set1(0.70710678118654752f)))));
    return gelu_erfc(x);
}
inline vf gelu_tanh(vf x) {
    vf inner = mul(set1(0.79788456080286536f), fma(mul(set1(0.044715f), mul(x, x)), x, x));
    return mul(mul(set1(0.5f), x), add(set1(1.0f), tanh(inner)));
}
inline vf relu(vf x) { return select(lt(x, zero()), zero(), x); }   // NaN stays NaN
inline vf max(vf a, vf b) { return select(is_nan(a), a, max_num(a, b)); }
inline vf min(vf a, vf b) { return select(is_nan(a), a, min_num(a, b)); }
inline vf nan_to_zero(vf a) { return andnot(is_nan(a), a); }
inline vf load_partial(const float *p, int n) {
    float t[W];
    for (int i = 0; i < W; ++i) t[i] = i < n ? p[i] : 0.0f;
    return load(t);
}
inline void store_partial(float *p, vf v, int n) {
    float t[W];
    store(t, v);
    for (int i = 0; i < n; ++i) p[i] = t[i];
}
inline float hsum(vf v) {
    float t[W];
    store(t, v);
    float s = 0.0f;
    for (int i = 0; i < W; ++i) s += t[i];
    return s;
}
inline float hmax(vf v) {
    float t[W];
    store(t, v);
    float s = t[0];
    for (int i = 1; i < W; ++i) s = (t[i] > s || t[i] != t[i]) ? t[i] : s;
    return s;
}
"""

# Primitives per ISA.  min_num/max_num(a, b): the x86 rule (b when either is NaN), which the
# math above relies on to let NaN through (NaN passed as b); masks are vectors (all-ones lanes).
_AVX2 = r"""
typedef __m256 vf;
static const int W = 8;
inline vf zero() { return _mm256_setzero_ps(); }
inline vf set1(float x) { return _mm256_set1_ps(x); }
inline vf load(const float *p) { return _mm256_loadu_ps(p); }
inline void store(float *p, vf v) { _mm256_storeu_ps(p, v); }
inline vf add(vf a, vf b) { return _mm256_add_ps(a, b); }
inline vf sub(vf a, vf b) { return _mm256_sub_ps(a, b); }
inline vf mul(vf a, vf b) { return _mm256_mul_ps(a, b); }
inline vf div(vf a, vf b) { return _mm256_div_ps(a, b); }
inline vf fma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
inline vf max_num(vf a, vf b) { return _mm256_max_ps(a, b); }
inline vf min_num(vf a, vf b) { return _mm256_min_ps(a, b); }
inline vf neg(vf a) { return _mm256_xor_ps(a, _mm256_set1_ps(-0.0f)); }
inline vf abs(vf a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
inline vf sqrt(vf a) { return _mm256_sqrt_ps(a); }
inline vf lt(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
inline vf is_nan(vf a) { return _mm256_cmp_ps(a, a, _CMP_UNORD_Q); }
inline vf select(vf m, vf a, vf b) { return _mm256_blendv_ps(b, a, m); }
inline vf andnot(vf m, vf a) { return _mm256_andnot_ps(m, a); }
inline vf round_near(vf a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
inline bool any_lt(vf a, vf b) { return _mm256_movemask_ps(_mm256_cmp_ps(a, b, _CMP_LT_OQ)) != 0; }
// p * 2^n for integral n in [-127, 128] (two steps so that n = -127 and 128 stay exact)
inline vf scale2(vf p, vf n) {
    __m256i e = _mm256_cvtps_epi32(n);
    __m256i h = _mm256_srai_epi32(e, 1);
    vf s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(h, _mm256_set1_epi32(127)), 23));
    __m256i e2 = _mm256_add_epi32(_mm256_sub_epi32(e, h), _mm256_set1_epi32(127));
    vf s2 = _mm256_castsi256_ps(_mm256_slli_epi32(e2, 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}
"""

# gcc 12's unmasked forms of max/min/sqrt/roundscale/scalef/andnot pass _mm512_undefined_ps() (`__Y = __Y`)
# as the merge source, which -Wuninitialized reports once inlined (GCC bug 105593), whatever pragma
# precedes the header. The zero-masking forms with an all-ones mask compile to the same instruction
# and never read an undefined value.
_AVX512 = r"""
typedef __m512 vf;
static const __mmask16 kAll = (__mmask16)0xFFFF;
static const int W = 16;
inline vf zero() { return _mm512_setzero_ps(); }
inline vf set1(float x) { return _mm512_set1_ps(x); }
inline vf load(const float *p) { return _mm512_loadu_ps(p); }
inline void store(float *p, vf v) { _mm512_storeu_ps(p, v); }
inline vf add(vf a, vf b) { return _mm512_add_ps(a, b); }
inline vf sub(vf a, vf b) { return _mm512_sub_ps(a, b); }
inline vf mul(vf a, vf b) { return _mm512_mul_ps(a, b); }
inline vf div(vf a, vf b) { return _mm512_div_ps(a, b); }
inline vf fma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
inline vf max_num(vf a, vf b) { return _mm512_maskz_max_ps(kAll, a, b); }
inline vf min_num(vf a, vf b) { return _mm512_maskz_min_ps(kAll, a, b); }
inline vf as_mask_vec(__mmask16 m) { return _mm512_castsi512_ps(_mm512_movm_epi32(m)); }
inline __mmask16 to_mask(vf m) { return _mm512_movepi32_mask(_mm512_castps_si512(m)); }
inline __m512i bits(vf a) { return _mm512_castps_si512(a); }
inline vf neg(vf a) { return _mm512_castsi512_ps(_mm512_xor_si512(bits(a), _mm512_set1_epi32((int)0x80000000u))); }
inline vf abs(vf a) { return _mm512_castsi512_ps(_mm512_and_si512(bits(a), _mm512_set1_epi32(0x7fffffff))); }
inline vf sqrt(vf a) { return _mm512_maskz_sqrt_ps(kAll, a); }
inline vf lt(vf a, vf b) { return as_mask_vec(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ)); }
inline vf is_nan(vf a) { return as_mask_vec(_mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q)); }
inline vf select(vf m, vf a, vf b) { return _mm512_mask_blend_ps(to_mask(m), b, a); }
inline vf andnot(vf m, vf a) { return _mm512_castsi512_ps(_mm512_maskz_andnot_epi32(kAll, bits(m), bits(a))); }
inline vf round_near(vf a) { return _mm512_maskz_roundscale_ps(kAll, a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
inline vf scale2(vf p, vf n) { return _mm512_maskz_scalef_ps(kAll, p, n); }
inline bool any_lt(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ) != 0; }
"""

_NEON = r"""
typedef float32x4_t vf;
static const int W = 4;
inline uint32x4_t bits(vf a) { return vreinterpretq_u32_f32(a); }
inline vf from_bits(uint32x4_t m) { return vreinterpretq_f32_u32(m); }
inline vf zero() { return vdupq_n_f32(0.0f); }
inline vf set1(float x) { return vdupq_n_f32(x); }
inline vf load(const float *p) { return vld1q_f32(p); }
inline void store(float *p, vf v) { vst1q_f32(p, v); }
inline vf add(vf a, vf b) { return vaddq_f32(a, b); }
inline vf sub(vf a, vf b) { return vsubq_f32(a, b); }
inline vf mul(vf a, vf b) { return vmulq_f32(a, b); }
inline vf div(vf a, vf b) { return vdivq_f32(a, b); }
inline vf fma(vf a, vf b, vf c) { return vfmaq_f32(c, a, b); }
// fmax/fmin (vmaxq/vmaxnmq) follow other NaN rules; a compare and a select give x86's: b unless a > b.
inline vf max_num(vf a, vf b) { return vbslq_f32(vcgtq_f32(a, b), a, b); }
inline vf min_num(vf a, vf b) { return vbslq_f32(vcltq_f32(a, b), a, b); }
inline vf neg(vf a) { return vnegq_f32(a); }
inline vf abs(vf a) { return vabsq_f32(a); }
inline vf sqrt(vf a) { return vsqrtq_f32(a); }
inline vf lt(vf a, vf b) { return from_bits(vcltq_f32(a, b)); }
inline vf is_nan(vf a) { return from_bits(vmvnq_u32(vceqq_f32(a, a))); }
inline vf select(vf m, vf a, vf b) { return vbslq_f32(bits(m), a, b); }
inline vf andnot(vf m, vf a) { return from_bits(vbicq_u32(bits(a), bits(m))); }
inline vf round_near(vf a) { return vrndnq_f32(a); }     // to nearest, ties to even (as _MM_FROUND_TO_NEAREST_INT)
// p * 2^n for integral n in [-127, 128] (two steps so that n = -127 and 128 stay exact)
inline vf scale2(vf p, vf n) {
    int32x4_t e = vcvtnq_s32_f32(n);
    int32x4_t h = vshrq_n_s32(e, 1);
    vf s1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(h, vdupq_n_s32(127)), 23));
    vf s2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(vsubq_s32(e, h), vdupq_n_s32(127)), 23));
    return vmulq_f32(vmulq_f32(p, s1), s2);
}
// NEON only (the GEMM micro-kernel): c + b * a[L], one lane of a broadcast inside the FMA.
template <int L> inline vf fma_lane(vf c, vf b, vf a) { return vfmaq_laneq_f32(c, b, a, L); }
"""

_SCALAR = r"""
typedef float vf;
static const int W = 1;
inline vf zero() { return 0.0f; }
inline vf set1(float x) { return x; }
inline vf load(const float *p) { return *p; }
inline void store(float *p, vf v) { *p = v; }
inline vf add(vf a, vf b) { return a + b; }
inline vf sub(vf a, vf b) { return a - b; }
inline vf mul(vf a, vf b) { return a * b; }
inline vf div(vf a, vf b) { return a / b; }
inline vf fma(vf a, vf b, vf c) { return a * b + c; }
inline vf max_num(vf a, vf b) { return (a > b) ? a : b; }   // b when either is NaN, as x86
inline vf min_num(vf a, vf b) { return (a < b) ? a : b; }
inline vf neg(vf a) { return -a; }
inline vf abs(vf a) { return fabsf(a); }
inline vf sqrt(vf a) { return sqrtf(a); }
inline vf mask_of(bool c) { uint32_t u = c ? 0xffffffffu : 0u; float f; memcpy(&f, &u, 4); return f; }
inline bool is_set(vf m) { uint32_t u; memcpy(&u, &m, 4); return u != 0; }
inline vf lt(vf a, vf b) { return mask_of(a < b); }
inline vf is_nan(vf a) { return mask_of(a != a); }
inline vf select(vf m, vf a, vf b) { return is_set(m) ? a : b; }
inline vf andnot(vf m, vf a) { return is_set(m) ? 0.0f : a; }
inline vf round_near(vf a) { return nearbyintf(a); }
inline vf scale2(vf p, vf n) { return ldexpf(p, (int)n); }
"""

AVX512 = SimdISA("avx512", 16, "defined(__AVX512F__) && defined(__AVX512DQ__)", "<immintrin.h>", 14, 32, _AVX512)
AVX2 = SimdISA("avx2", 8, "defined(__AVX2__) && defined(__FMA__)", "<immintrin.h>", 6, 16, _AVX2)
NEON = SimdISA("neon", 4, "defined(__ARM_NEON) && defined(__aarch64__)", "<arm_neon.h>", 8, 12, _NEON)
SCALAR = SimdISA("scalar", 1, "1", "<stdint.h>", 4, 4, _SCALAR)

ISAS = {isa.name: isa for isa in (AVX512, AVX2, NEON, SCALAR)}


def isa_for_features(features) -> SimdISA:
    """The widest written ISA that ``features`` (``Toolchain.features()`` names) allow."""
    f = set(features)
    if {"avx512f", "avx512dq"} <= f:
        return AVX512
    if {"avx2", "fma"} <= f:
        return AVX2
    if "neon" in f and NEON.available:
        return NEON
    return SCALAR


def _features_of(target: Target) -> frozenset:
    """The features of the toolchain ``target`` carries (``lpfc.compile`` resolves it once); a target that
    carries none (``get_target``'s, in tests and tools) gets its default toolchain's."""
    tc = target.toolchain
    if tc is None:
        return _default_features(target)
    try:
        if tc.has_compiler:
            return frozenset(tc.features())
    except Exception:
        pass
    return _guaranteed_features(target)


@functools.lru_cache(maxsize=None)
def _default_features(target: Target) -> frozenset:
    from .toolchain import find_toolchain
    try:
        return frozenset(find_toolchain(target).features())
    except Exception:
        return _guaranteed_features(target)


def _guaranteed_features(target: Target) -> frozenset:
    # No compiler for the target here (sources only, e.g. Android without an NDK): fall back to
    # what the architecture guarantees. Advanced SIMD (NEON) is mandatory in ARMv8-A, so every
    # arm64 CPU has it; x86-64 guarantees only SSE2, for which the portable path is right.
    return frozenset({"neon"}) if target.arch == "aarch64" else frozenset()


def select_isa(target: Target, choice: Optional[dict] = None) -> SimdISA:
    """The ISA to emit for ``target``; ``choice["isa"]`` overrides (e.g. ``"scalar"``, or ``"avx512"``
    to emit code for a machine other than this one)."""
    if choice and choice.get("isa"):
        isa = ISAS[choice["isa"]]
        if not isa.available:
            raise NotImplementedError(f"the {isa.name} SIMD layer is not written yet")
        return isa
    return isa_for_features(_features_of(target))


#: graph op -> vector expression template over ``V::`` (operands {0}, {1}); ops not here are scalar-only
VECTOR_OPS = {
    "graph.add": "V::add({0}, {1})", "graph.sub": "V::sub({0}, {1})", "graph.mul": "V::mul({0}, {1})",
    "graph.div": "V::div({0}, {1})", "graph.max": "V::max({0}, {1})", "graph.min": "V::min({0}, {1})",
    "graph.neg": "V::neg({0})", "graph.abs": "V::abs({0})", "graph.sqrt": "V::sqrt({0})",
    "graph.exp": "V::exp({0})", "graph.tanh": "V::tanh({0})", "graph.erf": "V::erf({0})",
    "graph.sigmoid": "V::sigmoid({0})", "graph.relu": "V::relu({0})", "graph.identity": "{0}",
    "graph.reciprocal": "V::div(V::set1(1.0f), {0})",
}


def vector_expr(op, args) -> Optional[str]:
    """A ``V::`` expression for element-wise ``op`` (an Operation) on vector expressions ``args``, or None."""
    name = op.name
    if name == "graph.gelu":
        mode = op.attributes.get("approximate", "none")
        return {"none": f"V::gelu({args[0]})", "tanh": f"V::gelu_tanh({args[0]})"}.get(mode)
    if name == "graph.leaky_relu":
        a = float(op.attributes.get("alpha", 0.01))
        return f"V::select(V::lt({args[0]}, V::zero()), V::mul({args[0]}, V::set1({_f(a)})), {args[0]})"
    if name == "graph.clip":
        x = args[0]
        lo, hi = op.attributes.get("min"), op.attributes.get("max")
        if lo is not None:
            x = f"V::max({x}, V::set1({_f(lo)}))"
        if hi is not None:
            x = f"V::min({x}, V::set1({_f(hi)}))"
        return x
    t = VECTOR_OPS.get(name)
    return None if t is None else t.format(*args)


def _f(v) -> str:
    from .scalar_expr import c_literal
    from ..ir.types import DType
    return c_literal(float(v), DType.f32)


__all__ = ["AVX2", "AVX512", "ISAS", "NEON", "SCALAR", "SimdISA", "VECTOR_OPS", "isa_for_features",
           "select_isa", "vector_expr"]
