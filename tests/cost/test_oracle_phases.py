"""bench/oracle.py's phases (compile, time, report) and lpfc calibrate's library cache, with fake builds and timings."""
import json
import types

import pytest

import lpfc
from bench import oracle, oracle_store


@pytest.fixture
def fake_store(tmp_path, monkeypatch):
    monkeypatch.setenv("LPFC_CACHE_DIR", str(tmp_path / "cache"))
    calls = {"compile": [], "time": []}

    def compile_arch(arch, d):
        calls["compile"].append(arch)
        d.mkdir(parents=True, exist_ok=True)
        (d / "liboracle.so").write_bytes(b"fake")
        (d / "meta.json").write_text(json.dumps({"arch": arch, "build_s": 0.0, "kernels": 2}))
        return {"kernels": 2, "build_s": 0.0}

    def time_library(lib, threads, **kw):
        calls["time"].append((lib, list(threads)))
        return {str(t): {"runs": [10.0 * t, 12.0 * t, 11.0 * t], "profile_runs": 1,
                         "kernels": [{"ms": 4.0 * t}, {"ms": 6.0 * t}]} for t in threads}

    monkeypatch.setattr(oracle_store, "compile_arch", compile_arch)
    monkeypatch.setattr(oracle_store, "time_library", time_library)
    return calls


def test_compile_time_report_phases(fake_store, tmp_path, monkeypatch):
    out = str(tmp_path / "out")
    base = ["--n", "3", "--space", "tiny", "--no-speed", "--out", out]
    assert oracle.main(base + ["--compile-only"]) == 0
    assert len(fake_store["compile"]) == 3
    oracle.main(base + ["--compile-only"])                  # cached: nothing is built again
    assert len(fake_store["compile"]) == 3
    oracle.main(base + ["--time-only", "--tag", "t"])
    assert len(fake_store["time"]) == 3 and all(th == [1, 2] for _, th in fake_store["time"])
    oracle.main(base + ["--time-only", "--tag", "t"])       # stored: nothing is timed again
    assert len(fake_store["time"]) == 3

    def fake_estimate(arch, threads=1, **kw):                # 10 % over the measured median (11 ms x threads)
        ks = [types.SimpleNamespace(emitter="cpp-gemm", kind="gemm", part="layer 0", shapes="a", variant="v",
                                    ms=5.0 * threads) for _ in range(2)]
        return types.SimpleNamespace(ms=12.1 * threads, band_pct=5.0, flop=1e9, kernels=ks)

    monkeypatch.setattr(lpfc, "estimate_latency", fake_estimate)
    oracle.main(base + ["--report-only", "--tag", "t"])
    raw = json.loads((tmp_path / "out" / "raw.json").read_text())
    for t in ("1", "2"):
        s = raw["summary"][t]
        assert s["n"] == 3 and s["median_abs_err_pct"] == pytest.approx(10.0) and s["within_10_pct"] == 1.0
    assert len(raw["kernels"]) == 3 * 2 * 2
    assert {k["measured_ms"] for k in raw["kernels"] if k["threads"] == 1} == {4.0, 6.0}
    assert "| 1 | 3 | 10.0 % | 100 % |" in (tmp_path / "out" / "oracle.md").read_text()


def test_calibration_libraries_are_cached(tmp_path, monkeypatch):
    import lpfc.cost.measure as M

    monkeypatch.setenv("LPFC_CACHE_DIR", str(tmp_path))
    built = []

    def compile_module(module, target, out):
        built.append(out)
        out.write_bytes(b"lib")

    monkeypatch.setattr(M, "compile_module", compile_module)
    plans = [types.SimpleNamespace(signature="k1"), types.SimpleNamespace(signature="k2")]
    a = M.cached_library(None, plans, "host", "tkey")
    assert M.cached_library(None, plans, "host", "tkey") == a and len(built) == 1 and a.read_bytes() == b"lib"
    b = M.cached_library(None, plans[:1], "host", "tkey")    # other kernels: another library
    c = M.cached_library(None, plans, "host", "other-cpu")   # another target key: another library
    assert len({a, b, c}) == 3 and len(built) == 3
    assert not list((tmp_path / "latency" / "libs").glob("lpfc-calibrate-*"))    # no staging left behind


def test_codegen_hash_ignores_the_cost_model(tmp_path):
    import lpfc.cost.measure as M

    for f in ("codegen/emit.py", "cost/model.py", "c_runtime/src/run.c"):
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f).write_text("x = 1\n")
    h = M.codegen_hash(tmp_path)
    (tmp_path / "cost" / "model.py").write_text("x = 2\n")           # the cost model only predicts
    assert M.codegen_hash(tmp_path) == h
    (tmp_path / "c_runtime" / "src" / "run.c").write_text("int x;\n")  # the runtime shapes the library
    assert M.codegen_hash(tmp_path) != h
    assert oracle_store.source_hash() == M.codegen_hash()
