"""Publication of the cleaning outputs as one unit, freshness checks downstream, and the demo key's proof.

On the hand-made raw folder tests/reference/clean/mini_raw (fast): a failure while switching the new output set in
(a file locked by another program), a kill during publication (a real SIGKILL of a subprocess) and a kill between the
two renames of the portable fallback leave the previous set complete, and the next run removes the leftovers;
``verify_processed`` refuses changed, missing or stale data and the CLI's later stages refuse to run on them; the
pipeline uses the public demo key only when every raw file is byte for byte the simulator's.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from welfare_eval.clean import CleaningError, StaleDataError, clean_all, verify_processed
from welfare_eval.clean import write as W

KEY = b"publish-tests-key-0123456789abcdef"


def _hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture()
def mini(fixtures: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the mini raw folder and its published output set."""
    raw = tmp_path / "raw"
    shutil.copytree(fixtures / "clean" / "mini_raw", raw)
    out = tmp_path / "processed"
    clean_all(raw, out, key=KEY)
    return raw, out


def _change_raw(raw: Path) -> None:
    p = raw / "survey_endline.csv"
    p.write_bytes(p.read_bytes().replace(b'"2,000"', b'"2,100"'))


def test_failed_switch_leaves_old_set(mini: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    raw, out = mini
    before = _hashes(out)
    _change_raw(raw)

    def locked(new: Path, out_: Path) -> None:
        raise PermissionError(13, "Permission denied", str(out_ / "checks.csv"))

    monkeypatch.setattr(W, "_swap", locked)
    with pytest.raises(CleaningError, match=r"processed: cannot be replaced \(Permission denied\); close its files") as e:
        clean_all(raw, out, key=KEY)
    assert "\n" not in str(e.value)
    assert _hashes(out) == before  # no mix of old and new files
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_portable_switch_without_exchange(mini: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    raw, out = mini
    (out / "README.md").write_text("kept", encoding="utf-8")
    (out / "results").mkdir()
    (out / "results" / "x.parquet").write_bytes(b"analysis output")
    _change_raw(raw)
    monkeypatch.setattr(W, "_exchange", lambda a, b: False)
    res = clean_all(raw, out, key=KEY)
    assert res.tables["households"]["savings"].eq(2100.0).any()
    verify_processed(out, raw)
    assert (out / "README.md").read_text("utf-8") == "kept" and (out / "results" / "x.parquet").is_file()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]


def test_kill_between_two_renames_is_repaired(mini: tuple[Path, Path]) -> None:
    _raw, out = mini
    before = _hashes(out)
    # a run killed after renaming out_dir away and before renaming the new set in: pid 2**22 + 1 is not alive
    old = out.parent / f".{out.name}.old-{2**22 + 1}-abc"
    os.rename(out, old)
    stale_tmp = out.parent / f".{out.name}.tmp-{2**22 + 1}-def"
    stale_tmp.mkdir()
    (stale_tmp / "households.parquet").write_bytes(b"half written")
    W._tidy_leftovers(out)
    assert _hashes(out) == before and not old.exists() and not stale_tmp.exists()


def test_foreign_folder_is_not_taken_over(fixtures: Path, tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.docx").write_bytes(b"x")
    with pytest.raises(CleaningError, match=r"holds files the cleaning did not write \(e\.g\. thesis\.docx\)"):
        clean_all(fixtures / "clean" / "mini_raw", out, key=KEY)
    assert [p.name for p in out.iterdir()] == ["thesis.docx"]


_KILL_SCRIPT = """
import sys, time
from pathlib import Path
from welfare_eval.clean import clean_all
from welfare_eval.clean import write as W
def slow_swap(new, out):
    Path(sys.argv[3]).write_text("ready")
    time.sleep(120)
W._swap = slow_swap
clean_all(Path(sys.argv[1]), Path(sys.argv[2]), key=b"publish-tests-key-0123456789abcdef")
"""


def test_kill_during_publication(mini: tuple[Path, Path], tmp_path: Path) -> None:
    raw, out = mini
    before = _hashes(out)
    _change_raw(raw)
    marker = tmp_path / "ready"
    proc = subprocess.Popen([sys.executable, "-c", _KILL_SCRIPT, str(raw), str(out), str(marker)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "the cleaning subprocess did not reach publication"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert _hashes(out) == before  # the old set, complete
    left = [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.tmp-{proc.pid}-")]
    assert len(left) == 1  # the killed run's new set, never switched in
    res = clean_all(raw, out, key=KEY)  # the next run removes it and publishes
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]
    assert verify_processed(out, raw)["id"] == res.manifest["id"]


def test_verify_processed(mini: tuple[Path, Path]) -> None:
    raw, out = mini
    man = verify_processed(out, raw)
    assert man["stage"] == "clean" and man["id"]
    (raw / "notes.txt").write_text("new", encoding="utf-8")
    with pytest.raises(StaleDataError, match=r"notes\.txt: new raw file since the processed data were made; run "
                                             r"`welfare-eval clean` again"):
        verify_processed(out, raw)
    (raw / "notes.txt").unlink()
    kept = (raw / "survey_endline.csv").read_bytes()
    _change_raw(raw)
    with pytest.raises(StaleDataError, match=r"survey_endline\.csv: changed since the processed data were made"):
        verify_processed(out, raw)
    verify_processed(out)  # without the raw folder only the outputs are checked
    (raw / "survey_endline.csv").write_bytes(kept)
    c = raw / "corrections" / "corrections.csv"
    c.write_text(c.read_text("utf-8") + "\n", encoding="utf-8")
    with pytest.raises(StaleDataError, match=r"corrections\.csv: changed since"):
        verify_processed(out, raw)
    (out / "checks.csv").write_text("x", encoding="utf-8")
    with pytest.raises(StaleDataError, match=r"checks\.csv: changed after the cleaning wrote it"):
        verify_processed(out)
    (out / "manifest.json").unlink()
    with pytest.raises(StaleDataError, match=r"no cleaned data"):
        verify_processed(out)
    assert issubclass(StaleDataError, ValueError)


def _project(fixtures: Path, tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    shutil.copytree(fixtures / "clean" / "mini_raw", root / "data" / "raw")
    (root / "reports").mkdir()
    return root


def _generation(root: Path) -> None:
    """What `welfare-eval simulate` records: every raw file's SHA-256."""
    raw = root / "data" / "raw"
    files = {p.relative_to(raw).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted(raw.rglob("*")) if p.is_file()}
    (root / "data" / "simulation").mkdir(parents=True, exist_ok=True)
    (root / "data" / "simulation" / "generation.json").write_text(json.dumps({"seed": 1, "files": files}), "utf-8")


def test_demo_key_only_with_proof(fixtures: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    from welfare_eval.cli import main

    monkeypatch.delenv("WELFARE_EVAL_PSEUDONYM_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    root = _project(fixtures, tmp_path)
    raw = root / "data" / "raw"
    # no generation record: real data, no key, no run
    assert main(["clean", "--root", str(root), "-q"]) == 2
    err = capsys.readouterr().err.splitlines()[0]
    assert "no pseudonym key: set $WELFARE_EVAL_PSEUDONYM_KEY or write a random key" in err
    # every file as the simulator recorded it: the demo key, said so in the manifest
    _generation(root)
    assert main(["clean", "--root", str(root), "-q"]) == 0
    man = json.loads((root / "data" / "processed" / "manifest.json").read_text("utf-8"))
    assert man["demo_key"] is True
    # one file edited (a team reusing the demo files as templates), or one file added: not the demo any more
    for change in ("edit", "add"):
        if change == "edit":
            _change_raw(raw)
        else:
            _generation(root)
            (raw / "extra.csv").write_text("a\n1\n", encoding="utf-8")
        assert main(["clean", "--root", str(root), "-q"]) == 2
        assert "no pseudonym key" in capsys.readouterr().err


def test_later_stages_refuse_stale_data(fixtures: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    from welfare_eval.cli import main

    monkeypatch.setenv("WELFARE_EVAL_PSEUDONYM_KEY", KEY.decode())
    root = _project(fixtures, tmp_path)
    assert main(["clean", "--root", str(root), "-q"]) == 0
    _change_raw(root / "data" / "raw")
    assert main(["analyze", "--root", str(root), "-q"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert "survey_endline.csv: changed since the processed data were made; run `welfare-eval clean` again" in err[0]
    (root / "data" / "processed" / "results").mkdir()
    (root / "data" / "processed" / "results" / "analysis.json").write_text('{"seed": 1, "tables": []}', "utf-8")
    (root / "reports" / "final_report.qmd").write_text("---\ntitle: x\n---\n", encoding="utf-8")
    assert main(["report", "--root", str(root), "-q"]) == 2
    assert "run `welfare-eval clean` again" in capsys.readouterr().err


def test_corrections_outside_the_raw_folder_are_tracked(fixtures: Path, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(fixtures / "clean" / "mini_raw", raw)
    ext = tmp_path / "decisions"
    shutil.move(raw / "corrections", ext)
    out = tmp_path / "processed"
    res = clean_all(raw, out, key=KEY, corrections=ext)
    assert res.manifest["corrections"]["applied"] == 1
    verify_processed(out, raw)
    c = ext / "corrections.csv"
    c.write_text(c.read_text("utf-8") + "\n", encoding="utf-8")
    with pytest.raises(StaleDataError, match=r"decisions/corrections\.csv: changed since"):
        verify_processed(out, raw)
