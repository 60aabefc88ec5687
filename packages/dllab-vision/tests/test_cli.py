"""``dllab vision ...`` in-process through the root ``dllab`` app: tiny runs and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from dllab.core.cli.app import app
from dllab.core.testing import assert_pngs, last_json

runner = CliRunner()
TINY = ["--samples", "40", "--epochs", "1", "--batch-size", "16", "--accelerator", "cpu"]


def _invoke(*args):
    return runner.invoke(app, ["vision", *args])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny training run of the narrow ResNet on the shapes, shared by the tests."""
    runs = tmp_path_factory.mktemp("runs")
    result = _invoke("train", *TINY, "--runs-dir", str(runs))
    assert result.exit_code == 0, result.output
    return runs / "vision-train" / "version_0", result


def test_train_writes_the_run_folder_and_prints_val_and_test_accuracy(trained):
    run, result = trained
    summary = json.loads((run / "summary.json").read_text())
    assert last_json(result.output) == summary
    assert {"val_acc", "test_acc", "test_worst_class_acc"} <= set(summary)
    assert "val_acc" in result.output and "test_acc" in result.output
    assert_pngs(run, ["curves.png", "confusion_matrix.png"])
    assert (run / "checkpoints" / "last.ckpt").exists() and (run / "metrics.csv").is_file()
    hparams = yaml.safe_load((run / "hparams.yaml").read_text())
    assert hparams["options"]["model"] == "resnet-small" and hparams["options"]["augment"]
    assert hparams["arch"] == "resnet-small" and hparams["nesterov"]
    assert hparams["schedule"] == "onecycle" and hparams["label_smoothing"] == 0.1


def test_predict_prints_the_top_5_classes_and_warns_about_conversions(trained, tmp_path):
    from PIL import Image

    from dllab.vision.data.shapes import make_shapes

    run, _ = trained
    images, _ = make_shapes(2, seed=9)
    rgb = tmp_path / "shape.png"
    Image.fromarray(images[0].permute(1, 2, 0).numpy()).save(rgb)
    gray = tmp_path / "gray.png"
    Image.fromarray(images[1].permute(1, 2, 0).numpy()).convert("L").resize((50, 40)).save(gray)
    result = _invoke("predict", "--run", str(run), str(rgb), str(gray))
    assert result.exit_code == 0, result.output
    predictions = last_json(result.output)["predictions"]
    assert list(predictions) == [str(rgb), str(gray)]
    for ranked in predictions.values():
        probabilities = [p for _, p in ranked]
        assert len(ranked) == 5 and probabilities == sorted(probabilities, reverse=True)
        assert 0 < sum(probabilities) <= 1.0 + 1e-6
    assert "converted from L to RGB" in result.output
    assert "resized from 50x40 to 32x32" in result.output
    assert "converted" not in "".join(
        line for line in result.output.splitlines() if "shape.png" in line
    )


def test_predict_refuses_a_file_that_is_not_an_image(trained, tmp_path):
    run, _ = trained
    text = tmp_path / "notes.png"
    text.write_text("this is not an image")
    result = _invoke("predict", "--run", str(run), str(text))
    assert result.exit_code == 2
    assert "notes.png is not an image file" in result.output
    assert "Traceback" not in result.output


def test_predict_refuses_a_folder_that_is_not_a_training_run(tmp_path):
    image = tmp_path / "x.png"
    from PIL import Image

    Image.new("RGB", (32, 32)).save(image)
    result = _invoke("predict", "--run", str(tmp_path / "nothing"), str(image))
    assert result.exit_code == 2 and "no run folder" in result.output


def test_augment_preview_of_a_dataset_sample_and_of_an_image(tmp_path):
    from PIL import Image

    result = _invoke("augment-preview", "--copies", "7", "--runs-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    run = tmp_path / "vision-augment-preview" / "version_0"
    assert_pngs(run, ["augment_preview.png"])
    assert last_json(result.output)["source"].startswith("shapes sample")
    photo = tmp_path / "photo.png"
    rgba = np.random.default_rng(0).integers(0, 256, (300, 200, 4), dtype=np.uint8)
    Image.fromarray(rgba, mode="RGBA").save(photo)
    result = _invoke("augment-preview", str(photo), "--runs-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "converted from RGBA to RGB" in result.output and "shrunk" in result.output
    summary = json.loads((run.parent / "version_1" / "summary.json").read_text())
    assert summary["source"] == str(photo) and summary["padding"] == 21  # 170 px / 8


def test_augment_preview_of_a_bad_image_leaves_no_run_folder(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff not really a jpeg")
    result = _invoke("augment-preview", str(bad), "--runs-dir", str(tmp_path / "runs"))
    assert result.exit_code == 2 and "bad.jpg" in result.output
    assert not (tmp_path / "runs").exists()


def test_train_on_missing_cifar_names_the_path_and_download(tmp_path):
    result = _invoke(
        "train", "--dataset", "cifar10", "--data-dir", str(tmp_path / "data"), *TINY,
        "--runs-dir", str(tmp_path / "runs"),
    )  # fmt: skip
    assert result.exit_code == 2
    flat = " ".join(result.output.split())
    assert "cifar-10-batches-py" in flat and "--download" in flat
    assert not list((tmp_path / "runs").rglob("summary.json"))


def test_train_on_a_cifar_fixture(cifar_root, tmp_path):
    root, _ = cifar_root
    result = _invoke(
        "train", "--dataset", "cifar10", "--data-dir", str(root), "--no-augment", *TINY,
        "--runs-dir", str(tmp_path),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    run = tmp_path / "vision-train" / "version_0"
    assert_pngs(run, ["confusion_matrix.png"])
    assert 0.0 <= last_json(result.output)["test_acc"] <= 1.0, result.output[-1500:]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "resnet99"], "resnet99"),
        (["--dataset", "mnist"], "mnist"),
        (["--lr", "-1"], "learning rate"),
        (["--samples", "5"], "--samples"),
        (["--epochs", "0"], "--epochs"),
    ],
)
def test_train_refuses_bad_options(tmp_path, args, message):
    result = _invoke("train", *args, "--runs-dir", str(tmp_path))
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert not any(tmp_path.iterdir())
