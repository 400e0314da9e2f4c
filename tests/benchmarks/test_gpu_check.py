"""The GPU check (benchmarks/gpu_check.py): its dry run runs every step on the CPU and records every figure,
and its runner records failures and timeouts without stopping, never touches files it did not write."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from types import ModuleType

import pytest

from tests.helpers.paths import BENCHMARKS, load_script


def _load() -> ModuleType:
    return load_script(BENCHMARKS / "gpu_check.py")


gpu_check = _load()


def _context(tmp_path: Path) -> object:
    logs = tmp_path / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    return gpu_check.Context(
        dry_run=True, out=tmp_path, logs=logs, work=tmp_path / "work", python=sys.executable,
        tinyface_distractors=10, max_steps=1, test_workers=0,
    )  # fmt: skip


def _step(name: str, code: str) -> object:
    return gpu_check.Step(name, 5, 5, lambda ctx: [sys.executable, "-c", code], lambda ctx: {"checked": 1})


def test_a_failing_step_is_recorded_with_its_output_and_return_code(tmp_path: Path) -> None:
    ctx = _context(tmp_path)
    code = "import sys; print('to stdout'); print('to stderr', file=sys.stderr); sys.exit(3)"
    record = gpu_check.run_step(_step("fails", code), ctx, 30.0, dict(os.environ))
    assert record["status"] == "failed"
    assert record["returncode"] == 3
    log = (tmp_path / record["log"]).read_text()
    assert "to stdout" in log and "to stderr" in log and "return code 3" in log
    assert record["headline"] == {"checked": 1}


def test_a_hung_step_is_stopped_at_its_time_limit_with_its_children(tmp_path: Path) -> None:
    ctx = _context(tmp_path)
    marker = tmp_path / "child_alive"
    # the step starts a child that would write the marker after 3 s: ending the group must end it too
    child = f"import time; time.sleep(3); open({str(marker)!r}, 'w')"
    code = (
        f"import subprocess, sys, time\nsubprocess.Popen([sys.executable, '-c', {child!r}])\ntime.sleep(60)\n"
    )
    start = time.perf_counter()
    record = gpu_check.run_step(_step("hangs", code), ctx, 1.0, dict(os.environ))
    assert record["status"] == "timeout"
    elapsed = time.perf_counter() - start
    assert elapsed < 2.5  # the step was stopped at its 1 s limit, not when its child ended
    time.sleep(3.5 - elapsed)  # past the moment the child would have written the marker
    assert not marker.exists()


def test_an_ok_step_and_the_summary_table(tmp_path: Path) -> None:
    ctx = _context(tmp_path)
    record = gpu_check.run_step(_step("fine", "print('hello')"), ctx, 30.0, dict(os.environ))
    assert (record["status"], record["returncode"]) == ("ok", 0)
    table = gpu_check.summary_table([record, {"step": "later", "status": "skipped", "seconds": None}])
    assert "| fine | ok |" in table and "checked 1" in table and "| later | skipped | - | - |" in table


def test_pytest_counts_read_the_last_summary_line(tmp_path: Path) -> None:
    log = tmp_path / "t.log"
    log.write_text("....\n= 4 passed, 2 skipped, 1 warning in 3.21s =\n")
    assert gpu_check._pytest_counts(log) == {"passed": 4, "skipped": 2, "warning": 1}
    log.write_text("6/368 tests collected (362 deselected) in 4.92s\n")
    assert gpu_check._pytest_counts(log) == {"collected": 6, "deselected": 362}
    log.write_text("1 failed, 3 passed, 2 errors in 10.00s\n")
    assert gpu_check._pytest_counts(log) == {"failed": 1, "passed": 3, "error": 2}


def test_promises_compare_the_measured_ratio_with_the_threshold(tmp_path: Path) -> None:
    ctx = gpu_check.Context(
        dry_run=False, out=tmp_path, logs=tmp_path, work=tmp_path, python=sys.executable,
        tinyface_distractors=10, max_steps=1, test_workers=0,
    )  # fmt: skip
    records = {
        "bench_head": {"headline": {"time_ratio_B512_C100000": 1.04}},
        "train_step": {"headline": {"iresnet50_B64_ratio": 1.2}},
        "metrics": {"headline": {"tinyface_over_matmul": 3.0}},
    }
    promises = {p["promise"]: p for p in gpu_check._promises(records, ctx)}
    assert (promises["head"]["measured"], promises["head"]["holds"]) == (1.04, True)
    assert (promises["train_step"]["measured"], promises["train_step"]["holds"]) == (1.2, False)
    assert (promises["train_step_compiled"]["measured"], promises["train_step_compiled"]["holds"]) == (
        None,
        None,
    )
    assert (promises["tinyface_eval"]["measured"], promises["tinyface_eval"]["holds"]) == (3.0, None)


def test_out_must_be_empty_unless_overwrite_which_removes_only_its_own_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("the user's")
    (out / "summary.json").write_text("{}")
    (out / "logs").mkdir()
    (out / "logs" / "bench_head.log").write_text("an earlier run's")
    with pytest.raises(SystemExit, match="--out: expected an empty or new folder"):
        gpu_check.prepare_out(out, overwrite=False)
    assert (out / "summary.json").is_file() and (out / "logs" / "bench_head.log").is_file()
    gpu_check.prepare_out(out, overwrite=True)
    assert (out / "notes.txt").read_text() == "the user's"
    assert not (out / "summary.json").exists() and not (out / "logs").exists()
    (tmp_path / "file").write_text("")
    with pytest.raises(SystemExit, match="--out: expected a folder"):
        gpu_check.check_out(tmp_path / "file", overwrite=True)


def test_bad_options_are_refused_before_anything_runs(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        gpu_check.main(["--dry-run", "--only", "no_such_step", "--out", str(tmp_path / "a")])
    with pytest.raises(SystemExit):
        gpu_check.main(["--dry-run", "--budget", "0", "--out", str(tmp_path / "b")])
    with pytest.raises(SystemExit):
        gpu_check.main(
            ["--dry-run", *[f"--skip={name}" for name in gpu_check.STEP_NAMES], "--out", str(tmp_path / "c")]
        )
    assert not any(tmp_path.iterdir())


def test_without_a_gpu_the_check_refuses_and_points_to_the_dry_run(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    with pytest.raises(SystemExit, match="--dry-run"):
        gpu_check.main(["--out", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get(gpu_check.INSIDE_CHECK) == "1", reason="the GPU check does not run its own dry run again"
)
def test_dry_run_runs_every_step_on_the_cpu_and_records_its_figures(tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, str(BENCHMARKS / "gpu_check.py"), "--dry-run", "--bundle", "--skip", "tests"]
    done = subprocess.run(
        [*command, "--out", str(out)], capture_output=True, text=True, env=env, timeout=600, check=False
    )
    summary = json.loads((out / "summary.json").read_text())
    with tarfile.open(out / "logs.tar.gz") as archive:
        logs = {
            r["step"]: archive.extractfile(r["log"]).read().decode()[-3000:]  # type: ignore[union-attr]
            for r in summary["steps"]
            if "log" in r
        }
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:], logs)
    assert sorted(p.name for p in out.iterdir()) == ["logs.tar.gz", "summary.json", "summary.md"]
    assert set(logs) == set(gpu_check.STEP_NAMES) - {"tests"}
    assert "return code 0" in logs["bench_head"]
    assert summary["dry_run"] is True
    assert [r["step"] for r in summary["steps"]] == gpu_check.STEP_NAMES
    statuses = {r["step"]: r["status"] for r in summary["steps"]}
    assert statuses == {name: ("skipped" if name == "tests" else "ok") for name in gpu_check.STEP_NAMES}
    head = {r["step"]: r.get("headline", {}) for r in summary["steps"]}
    cuda_tests = head["cuda_tests"]  # on a CPU they all skip; the point is that they are found and run
    assert (
        cuda_tests.get("failed", 0) == 0 and cuda_tests.get("passed", 0) + cuda_tests.get("skipped", 0) >= 1
    )
    assert _finite(head["bench_head"]["time_ratio_B16_C200"]) and head["bench_head"]["rows"] == 2
    assert _finite(head["train_step"][f"{gpu_check.DRY_TRAIN_BACKBONE}_B2_ratio"])
    assert _finite(head["train_step_compiled"][f"{gpu_check.DRY_COMPILED_BACKBONE}_B2_ratio"])
    assert _finite(head["metrics"]["tinyface_over_matmul"]) and _finite(
        head["metrics"]["survface_template_s"]
    )
    assert _finite(head["example_backbone"]["file_mib"])
    ranks = [v for k, v in head["train_tinyface"].items() if k.startswith("rank_1")]
    assert ranks and all(0 <= v <= 1 for v in ranks) and _finite(head["train_tinyface"]["total_s"])
    promises = {p["promise"]: p for p in summary["promises"]}
    assert all(_finite(promises[k]["measured"]) for k in ("head", "train_step", "train_step_compiled"))
    assert "| bench_head | ok |" in (out / "summary.md").read_text()
    assert "Dry run" in done.stdout
    assert not Path(summary["work"]).exists()  # the scratch folder (data, checkpoints) is removed
