"""The profile's share of peak (issue #18 item 7): per kernel and per kind, from the peak given."""
from lpfc.cli import profile_peak
from lpfc.runtime.profile import Profile

INFO = "k0\tcpp-gemm\tgemm\t2x3\t2000000\tv\nk1\tcpp-rowwise\tembedding\t2x3\t0\tv\n"


def test_share_of_peak_per_kernel_and_kind():
    p = Profile.from_samples(INFO, [[0.001, 0.002]] * 3, [0.004] * 3, threads=2)
    table = p.table(peak_gflops=4.0, peak_label="test")
    assert "peak 4.0 GFLOP/s (test)" in table and "% peak" in table
    # k0: 2 MFLOP in 1 ms = 2 GFLOP/s = 50% of 4
    k0 = next(ln for ln in table.splitlines() if ln.split()[:2] == ["0", "k0"])
    assert "2.0   50.0" in k0
    assert "2.0 GFLOP/s, 50.0% of peak" in table
    assert "% peak" not in p.table()          # without a peak: the table as before


def test_peak_from_the_environment(monkeypatch):
    monkeypatch.setenv("LPFC_PEAK_GFLOPS", "100")
    assert profile_peak(2) == (200.0, "LPFC_PEAK_GFLOPS=100 per core x 2")
    monkeypatch.setenv("LPFC_PEAK_GFLOPS", "nonsense")
    peak, where = profile_peak(1)
    assert peak > 0 and where.startswith("analytic")
