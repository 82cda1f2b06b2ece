import json
from pathlib import Path

import pytest
import torch

from helpers import PYTHON_NETWORK, run_cli
from lumos.models import ModelError, NetworkSpec, build_model, build_network, list_models, summarize
from lumos.tasks import CLASSIFICATION, SEGMENTATION, task_of

ZOO = [e.name for e in list_models() if task_of(e.name) is CLASSIFICATION]
SEGMENTERS = [e.name for e in list_models() if task_of(e.name) is SEGMENTATION]


def test_the_zoo_has_the_classic_networks() -> None:
    expected = {
        "lenet5",
        "alexnet",
        "vgg11",
        "vgg16",
        "vgg19",
        "googlenet",
        "resnet18",
        "resnet34",
        "resnet50",
        "resnet101",
        "resnet152",
        "mobilenet_v2",
        "mobilenet_v3_small",
        "mobilenet_v3_large",
        "efficientnet_b0",
    }
    assert expected <= set(ZOO)


@pytest.mark.parametrize("size", [32, 96])  # 96: the large-input path (>= SMALL_INPUT)
@pytest.mark.parametrize("name", ZOO)
def test_every_network_trains_a_step_and_predicts(name: str, size: int) -> None:
    torch.manual_seed(0)
    channels = 1 if name == "lenet5" else 3
    model = build_model(name, 5, channels, (size, size))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    images, labels = torch.randn(2, channels, size, size), torch.tensor([0, 4])
    loss = torch.nn.functional.cross_entropy(model(images), labels)
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss)
    with torch.no_grad():
        scores = model.eval()(images)
    assert scores.shape == (2, 5) and torch.isfinite(scores).all()


def test_lenet5_matches_the_lecture() -> None:
    summary = summarize(build_model("lenet5", 10, 1, (32, 32)), (1, 32, 32))
    first = summary.rows[0]
    assert (first.kind, first.output_shape, first.params) == ("Conv2d", (6, 28, 28), 156)
    assert summary.params == 61_706
    assert summary.flops == sum(row.flops for row in summary.rows) > 0


def test_small_inputs_get_a_stem_that_keeps_resolution() -> None:
    small = summarize(build_model("resnet18", 10, 3, (32, 32)), (3, 32, 32))
    layer4 = [r for r in small.rows if r.name.startswith("layer4")][-1]
    assert layer4.output_shape[1:] == (4, 4)
    large = summarize(build_model("resnet18", 10, 3, (224, 224)), (3, 224, 224))
    assert [r for r in large.rows if r.name.startswith("layer4")][-1].output_shape[1:] == (7, 7)


def test_timm_models_by_name() -> None:
    model = build_model("timm:resnet10t", 7, 1, (64, 64))
    assert model(torch.zeros(1, 1, 64, 64)).shape == (1, 7)
    with pytest.raises(ModelError, match="timm has no model named 'nonexistent_net'"):
        build_model("timm:nonexistent_net", 7)


def test_unknown_network_and_input_that_does_not_fit() -> None:
    with pytest.raises(ModelError, match="unknown network 'resnet9000'"):
        build_model("resnet9000", 10)
    with pytest.raises(ModelError, match="lenet5 needs inputs of at least 12x12"):
        build_model("lenet5", 10, 1, (8, 8))
    model = build_model("resnet18", 10, 3, (32, 32))
    with pytest.raises(
        ModelError, match=r"layer conv1 \(Conv2d\) does not fit its input of shape \[1, 32, 32\]"
    ):
        summarize(model, (1, 32, 32))


def test_yaml_layer_list(tmp_path: Path) -> None:
    path = tmp_path / "net.yaml"
    path.write_text(
        "layers:\n  - conv: {out: 8, kernel: 3, padding: 1}\n  - batchnorm\n  - relu\n"
        "  - maxpool: 2\n  - flatten\n  - dropout: 0.2\n  - linear: classes\n"
    )
    spec = NetworkSpec.resolve(str(path), 4, 1, (16, 16))
    assert spec.name == "custom" and len(spec.layers) == 7
    model = build_network(spec)
    assert model(torch.zeros(3, 1, 16, 16)).shape == (3, 4)
    rebuilt = build_network(NetworkSpec.model_validate(json.loads(spec.model_dump_json())))
    assert sum(p.numel() for p in rebuilt.parameters()) == sum(
        p.numel() for p in model.parameters()
    )


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        ("  - flatten\n  - conv: 8\n", r"layer 2 \(conv\) does not fit its input of shape \[256\]"),
        (
            "  - conv: 8\n  - flatten\n  - linear: 3\n",
            r"the last layer gives shape \[3\], expected \[4\]",
        ),
        ("  - convolution: 8\n", "layer 1: unknown layer 'convolution'"),
        ("  - relu: 3\n", r"layer 1 \(relu\) takes no argument"),
        ("  - conv: {kernel: 3}\n", r"layer 1 \(conv\): missing argument 'out'"),
        ("  - [1, 2]\n", "layer 1: write a layer as 'name' or 'name: argument'"),
    ],
)
def test_yaml_mistakes_name_the_layer(tmp_path: Path, layers: str, message: str) -> None:
    path = tmp_path / "net.yaml"
    path.write_text("layers:\n" + layers)
    with pytest.raises(ModelError, match=message):
        build_network(NetworkSpec.resolve(str(path), 4, 1, (16, 16)))


def test_unreadable_network_file(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("layers: [conv: {")
    with pytest.raises(ModelError, match="cannot read network"):
        NetworkSpec.resolve(str(tmp_path / "a.yaml"), 2, 1, (8, 8))
    (tmp_path / "b.yaml").write_text("conv: 3\n")
    with pytest.raises(ModelError, match="needs a 'layers:' list"):
        NetworkSpec.resolve(str(tmp_path / "b.yaml"), 2, 1, (8, 8))


def test_cli_models_list_and_show(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    code, out, _ = run_cli(monkeypatch, capsys, "models", "list", "resnet*")
    assert code == 0 and "resnet152" in out and "vgg16" not in out
    code, out, _ = run_cli(monkeypatch, capsys, "models", "show", "lenet5", "--input", "1x32x32")
    assert code == 0 and "156" in out and "61,706 parameters" in out
    code, out, _ = run_cli(monkeypatch, capsys, "models", "show", "lenet5")  # its own input
    assert code == 0 and "lenet5 on 1x32x32" in out and "61,706 parameters" in out
    code, out, _ = run_cli(monkeypatch, capsys, "models", "list", "--json")
    inputs = {n["name"]: n["input"] for n in json.loads(out)["networks"]}
    assert inputs["lenet5"] == [1, 32, 32] and inputs["ssdlite_mobilenet_v3_large"] == [3, 320, 320]
    code, out, _ = run_cli(
        monkeypatch, capsys, "models", "show", "lenet5", "--input", "1x28x28", "--json"
    )
    assert json.loads(out)["layers"][0]["output_shape"] == [6, 28, 28]
    code, _, err = run_cli(
        monkeypatch, capsys, "models", "show", "resnet18", "--input", "1x32x32x", "--classes", "3"
    )
    assert code == 2 and "CHANNELSxHEIGHTxWIDTH" in err
    code, _, err = run_cli(monkeypatch, capsys, "models", "show", "nonet")
    assert code == 2
    expected = "lumos: error: unknown network 'nonet': see `lumos models list`, or use timm:NAME"
    assert err.strip() == expected


def test_python_file_network(tmp_path: Path) -> None:
    path = tmp_path / "net.py"
    path.write_text(PYTHON_NETWORK)
    spec = NetworkSpec.resolve(str(path), 3, 1, (8, 8))
    assert spec.name == "python" and "def build" in spec.source
    assert build_network(spec)(torch.zeros(2, 1, 8, 8)).shape == (2, 3)
    with pytest.raises(
        ModelError, match="this network is Python code; load it only if you trust its author"
    ):
        build_network(spec, trust_code=False)
    path.write_text("x = 1\n")
    with pytest.raises(
        ModelError, match=r"must define build\(num_classes, in_channels, input_size\)"
    ):
        build_network(NetworkSpec.resolve(str(path), 3, 1, (8, 8)))
    path.write_text("def build(a, b, c):\n    return 42\n")
    with pytest.raises(ModelError, match="returned int, not a torch.nn.Module"):
        build_network(NetworkSpec.resolve(str(path), 3, 1, (8, 8)))
    path.write_text("raise SystemError('boom')\n")
    with pytest.raises(ModelError, match="network.py failed to run: SystemError: boom"):
        build_network(NetworkSpec.resolve(str(path), 3, 1, (8, 8)))


@pytest.mark.parametrize("name", SEGMENTERS)
def test_every_segmenter_trains_a_step(name: str) -> None:
    assert set(SEGMENTERS) >= {
        "unet",
        "fcn_resnet50",
        "deeplabv3_mobilenet_v3_large",
        "lraspp_mobilenet_v3_large",
    }
    model = build_model(name, 3, 1, (64, 48))
    images, masks = torch.randn(2, 1, 64, 48), torch.randint(0, 3, (2, 64, 48))
    loss = torch.nn.functional.cross_entropy(model(images), masks)
    loss.backward()
    assert torch.isfinite(loss)
    with torch.no_grad():
        assert model.eval()(images).shape == (2, 3, 64, 48)
