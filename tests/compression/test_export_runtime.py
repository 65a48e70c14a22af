"""Exports that deploy: stock transformers, ONNX, runtime forms, and a --force that never destroys."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from dashboard_helpers import FakeTrial, add_study

import ladasearch
from ladasearch.cli import main
from ladasearch.compression.accounting import count_nonzero_params
from ladasearch.compression.evaluate import file_sha256
from ladasearch.compression.modeling_ladasearch import LadaLinear
from ladasearch.compression.plan import compress_
from ladasearch.compression.ratios import Ratios
from ladasearch.compression.runtime import choose_forms, export_model, write_export
from ladasearch.compression.serialize import load_compressed, save_compressed
from ladasearch.errors import ModelError
from ladasearch.models import load_classifier

TEXTS = ["a good film", "the plot was dull and cold", "quite a superb and warm story"]

# Run in a fresh interpreter that cannot import ladasearch (a finder refuses it), as a user
# without the package would: stock transformers only.
STOCK_SCRIPT = r"""
import importlib.abc, json, sys

class NoLadasearch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("ladasearch", "compression", "dashboards", "search"):
            raise ImportError(f"{name} must not be imported here")
        return None

sys.meta_path.insert(0, NoLadasearch())
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

folder, texts = sys.argv[1], json.loads(sys.argv[2])
result = {}
try:
    AutoModelForSequenceClassification.from_pretrained(folder)
    result["refused"] = None
except Exception as exc:
    result["refused"] = str(exc).splitlines()[0]
model = AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True)
tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=True)
with torch.no_grad():
    encoded = tokenizer(texts, padding=True, return_tensors="pt")
    result["logits"] = model(**encoded).logits.tolist()
classifier = pipeline("text-classification", model=folder, trust_remote_code=True)
result["pipeline"] = classifier(texts)
result["modules"] = sorted(m for m in sys.modules if m.split(".")[0] == "ladasearch")
print("\nRESULT " + json.dumps(result))
"""


def compressed(model_dir: Path, ratios: Ratios) -> tuple[Any, Any]:
    model, tokenizer = load_classifier(str(model_dir), ["neg", "pos"])
    torch.manual_seed(1)
    with torch.no_grad():  # a trained-looking classifier head, so the labels differ by text
        for param in model.classifier.parameters():
            param.normal_(0, 1.0)
    compress_(model, ratios)
    return model.eval(), tokenizer


def logits(model: Any, tokenizer: Any, texts: list[str] = TEXTS) -> torch.Tensor:
    with torch.no_grad():
        encoded = tokenizer(texts, padding=True, return_tensors="pt")
        return model(**encoded).logits  # (batch, labels)


@pytest.fixture
def study(tmp_path: Path, tiny_model_dir: Path) -> tuple[str, Path]:
    """A study whose trial 0 kept its model at ``trial_0/model``, relative to the run folder."""
    study_dir = tmp_path / "runs" / "tiny"
    model, tokenizer = compressed(tiny_model_dir, Ratios(0.5, 0.5, 0.6))
    folder = save_compressed(model, tokenizer, study_dir / "trial_0" / "model", metadata={})
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    kept = {
        "model_dir": "trial_0/model",
        "model_sha256": file_sha256(folder / "model.safetensors"),
        "p_embd": 0.5,
        "p_svd": 0.5,
        "p_weight": 0.6,
    }
    params = count_nonzero_params(model)
    add_study(
        url,
        "tiny",
        [FakeTrial(0.75, params, extra=kept)],
        teacher_params=100_000,
        study_attrs={"study_dir": str(study_dir)},
    )
    return url, folder


def export(url: str, out: Path, *extra: str) -> tuple[int, str]:
    code = main(["export", "tiny", "--trial", "0", "--storage", url, "-o", str(out), *extra])
    return code, ""


def test_stock_transformers_round_trip_and_refusal(
    study: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = study
    out = tmp_path / "export"
    assert main(["export", "tiny", "--trial", "0", "--storage", url, "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "runtime forms (1 threads, cpu):" in printed
    config = json.loads((out / "config.json").read_text())
    assert config["auto_map"]["AutoModelForSequenceClassification"] == (
        "modeling_ladasearch.LadaForSequenceClassification"
    )
    code = (out / "modeling_ladasearch.py").read_text()
    imports = {line.split()[1] for line in code.splitlines() if line.startswith(("import", "from"))}
    assert imports <= {
        "__future__",
        "warnings",
        "typing",
        "torch",
        "torch.nn.functional",
        "torch.nn",
        "transformers",
        ".configuration_ladasearch",
    }

    done = subprocess.run(
        [sys.executable, "-c", STOCK_SCRIPT, str(out), json.dumps(TEXTS)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (line,) = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")]
    result = json.loads(line.removeprefix("RESULT "))
    assert result["refused"] and "contains custom code" in result["refused"]  # never random
    assert result["modules"] == []

    classifier = ladasearch.load(out, device="cpu")
    expected = logits(classifier.model, classifier.tokenizer)
    assert torch.allclose(torch.tensor(result["logits"]), expected, atol=1e-5)
    predictions = classifier.predict(TEXTS)
    assert [row["label"] for row in result["pipeline"]] == [p.label for p in predictions]
    assert np.allclose(
        [row["score"] for row in result["pipeline"]], [p.score for p in predictions], atol=1e-5
    )


def test_each_runtime_form_gives_the_same_logits(tiny_model_dir: Path, tmp_path: Path) -> None:
    for ratios in (Ratios(0.5, 0.5, 0.6), Ratios(1.0, 1.0, 0.1)):  # factorized; pruning only
        model, tokenizer = compressed(tiny_model_dir, ratios)
        reference = logits(model, tokenizer)
        runtime = export_model(model)
        layers = [m for m in runtime.modules() if isinstance(m, LadaLinear)]
        assert layers
        for form in ("factorized", "dense", "sparse"):
            for layer in layers:
                if form != "factorized" or layer.kind == "factorized":
                    layer.materialize_(form)
            assert torch.allclose(logits(runtime, tokenizer), reference, atol=1e-5), form
        if layers[0].kind == "factorized":
            with pytest.raises(ModelError, match="does not fit"):
                export_model(model, {"bert.encoder.layer.0.output.dense": "bogus"})

    # Reload reproduces the measured choice, recorded in ladasearch.json.
    out = tmp_path / "pruned"
    write_export(model, tokenizer, out, {})
    document = json.loads((out / "ladasearch.json").read_text())
    recorded = {fqn: spec["runtime"] for fqn, spec in document["layout"]["modules"].items()}
    timings = {f: s["timings_ms"] for f, s in document["layout"]["modules"].items() if "kept" in s}
    assert all(set(t) == {"dense", "sparse"} for t in timings.values())  # masked: no factors
    assert choose_forms(timings) == {f: recorded[f] for f in timings}
    loaded, _, _ = load_compressed(out)
    assert {f: m.form for f, m in loaded.inner.named_modules() if isinstance(m, LadaLinear)} == {
        f: recorded[f] for f in timings
    }
    assert torch.allclose(logits(loaded, tokenizer), reference, atol=1e-5)
    dense = tmp_path / "dense-size"
    save_compressed(load_classifier(str(tiny_model_dir), ["neg", "pos"])[0], None, dense, {})
    assert (out / "model.safetensors").stat().st_size < (dense / "model.safetensors").stat().st_size


def test_choose_forms_weighs_both_batch_sizes() -> None:
    timings = {
        "a": {"factorized": [1.0, 10.0], "dense": [2.0, 20.0], "sparse": [1.1, 5.0]},
        "b": {"dense": [1.0, 10.0], "sparse": [3.0, 11.0]},
    }
    assert choose_forms(timings) == {"a": "sparse", "b": "dense"}


def test_onnx_parity_two_matmuls_and_int8(
    study: tuple[str, Path], tmp_path: Path, tiny_model_dir: Path
) -> None:
    import onnx
    import onnxruntime as ort

    url, _ = study
    out = tmp_path / "onnx"
    assert (
        main(
            [
                "export",
                "tiny",
                "--trial",
                "0",
                "--storage",
                url,
                "-o",
                str(out),
                "--onnx",
                "--quantize",
                "int8",
            ]
        )
        == 0
    )
    classifier = ladasearch.load(out, device="cpu")
    encoded = classifier.tokenizer(TEXTS, padding=True, return_tensors="np")
    feed = {
        name: encoded[name].astype(np.int64)
        for name in ("input_ids", "attention_mask", "token_type_ids")
    }
    expected = logits(classifier.model, classifier.tokenizer).numpy()
    session = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    assert np.abs(session.run(None, feed)[0] - expected).max() < 1e-4
    graph = onnx.load(str(out / "model.onnx")).graph
    layout = json.loads((out / "ladasearch.json").read_text())["layout"]["modules"]
    linears = [s for s in layout.values() if "kept" in s]
    factorized = sum(s["runtime"] == "factorized" for s in linears)
    matmuls = sum(node.op_type in ("MatMul", "Gemm") for node in graph.node)
    assert matmuls >= len(linears) + factorized + 1  # + the factorized embedding's product
    quantized = ort.InferenceSession(
        str(out / "model.int8.onnx"), providers=["CPUExecutionProvider"]
    )
    assert np.abs(quantized.run(None, feed)[0] - expected).max() < 0.05
    card = (out / "README.md").read_text()
    assert "model.int8.onnx" in card and "trust_remote_code=True" in card

    # The Python verb gives the same graph from the folder.
    (written,) = ladasearch.export_onnx(out, tmp_path / "again.onnx")
    again = ort.InferenceSession(str(written), providers=["CPUExecutionProvider"])
    assert np.abs(again.run(None, feed)[0] - expected).max() < 1e-4

    # Pruning only, 90% pruned: the ONNX file keeps the savings (sparse initializers).
    from ladasearch.compression.onnx_export import export_onnx

    model, tokenizer = compressed(tiny_model_dir, Ratios(1.0, 1.0, 0.1))
    dense_model, _ = compressed(tiny_model_dir, Ratios(1.0, 1.0, 1.0))
    pruned, plain = tmp_path / "pruned.onnx", tmp_path / "plain.onnx"
    export_onnx(export_model(model), pruned)
    export_onnx(dense_model, plain)
    assert pruned.stat().st_size < 0.8 * plain.stat().st_size
    session = ort.InferenceSession(str(pruned), providers=["CPUExecutionProvider"])
    encoded = tokenizer(TEXTS, padding=True, return_tensors="np")
    feed = {k: encoded[k].astype(np.int64) for k in feed}
    assert np.abs(session.run(None, feed)[0] - logits(model, tokenizer).numpy()).max() < 1e-4


def test_dense_export_loads_in_stock_transformers(study: tuple[str, Path], tmp_path: Path) -> None:
    from transformers import AutoModelForSequenceClassification

    url, folder = study
    out = tmp_path / "dense"
    assert (
        main(["export", "tiny", "--trial", "0", "--storage", url, "-o", str(out), "--dense"]) == 0
    )
    stock = AutoModelForSequenceClassification.from_pretrained(out).eval()
    trained, tokenizer, _ = load_compressed(folder)
    assert torch.allclose(logits(stock, tokenizer), logits(trained, tokenizer), atol=1e-5)
    assert "trust_remote_code" not in (out / "README.md").read_text()


def test_force_replaces_only_an_earlier_export(
    study: tuple[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, _ = study
    out = tmp_path / "export"
    assert (
        main(["export", "tiny", "--trial", "0", "--storage", url, "-o", str(out), "--no-measure"])
        == 0
    )
    umask = os.umask(0o022)
    os.umask(umask)
    for path in [out, *out.rglob("*")]:
        assert path.stat().st_mode & 0o044 == 0o044 & ~umask, path  # group/other readable
    manifest = json.loads((out / "ladasearch-export.json").read_text())
    assert set(manifest["files"]) == {p.name for p in out.iterdir()}
    capsys.readouterr()

    assert (
        main(
            [
                "export",
                "tiny",
                "--trial",
                "0",
                "--storage",
                url,
                "-o",
                str(out),
                "--no-measure",
                "--force",
            ]
        )
        == 0
    )
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".export")]

    (out / "notes.txt").write_text("mine")
    assert (
        main(["export", "tiny", "--trial", "0", "--storage", url, "-o", str(out), "--force"]) == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds files the export did not write (notes.txt)" in err
    assert (out / "notes.txt").read_text() == "mine" and (out / "model.safetensors").is_file()

    work = tmp_path / "work" / "inner"
    work.mkdir(parents=True)
    (work / "source.py").write_text("x = 1\n")
    monkeypatch.chdir(work)
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bashrc").write_text("")
    monkeypatch.setenv("HOME", str(home))
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    cases = {
        ".": "working folder",
        "..": "working folder",
        str(home): "home folder",
        str(repo): "repository root",
    }
    for target, why in cases.items():
        code = main(["export", "tiny", "--trial", "0", "--storage", url, "-o", target, "--force"])
        err = capsys.readouterr().err
        assert code == 2 and why in err and err.count("\n") == 1, (target, err)
    assert (work / "source.py").is_file() and (home / ".bashrc").is_file()
    assert (repo / ".git").is_dir()


def test_moved_model_is_one_line_and_retrains_only_when_asked(
    study: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, folder = study
    shutil.move(str(folder), str(tmp_path / "elsewhere"))
    out = tmp_path / "export"
    code = main(["export", "tiny", "--trial", "0", "--storage", url, "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "the saved model of trial 0 is gone" in err and "--retrain" in err
    assert not out.exists()


def test_bench_command_prints_both_engines_and_threads(
    study: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = study
    out = tmp_path / "export"
    assert main(["export", "tiny", "--trial", "0", "--storage", url, "-o", str(out)]) == 0
    capsys.readouterr()
    assert main(["bench", str(out), "--runs", "20", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    rows = {(r["engine"], r["batch"]): r for r in result["rows"]}
    assert set(rows) == {("torch", 1), ("torch", 32), ("onnxruntime", 1), ("onnxruntime", 32)}
    assert all(r["threads"] == 1 and r["runs"] == 20 and r["ratio"] > 0 for r in rows.values())
    assert main(["bench", str(out), "--runs", "20", "--no-onnx", "--batch", "1"]) == 0
    printed = capsys.readouterr().out
    assert "1 threads" in printed and "student/teacher" in printed
    assert main(["bench", str(out), "--runs", "5"]) == 2
    assert "at least 20" in capsys.readouterr().err


def test_a_failed_export_leaves_the_old_one_untouched(tmp_path: Path) -> None:
    from ladasearch.export.folder import staged_folder, write_manifest

    out = tmp_path / "export"
    with staged_folder(out) as staging:
        (staging / "model.safetensors").write_bytes(b"old")
        write_manifest(staging)
    with pytest.raises(RuntimeError, match="half-way"), staged_folder(out) as staging:
        (staging / "model.safetensors").write_bytes(b"new")
        raise RuntimeError("failed half-way")
    assert (out / "model.safetensors").read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]  # no staging left behind
