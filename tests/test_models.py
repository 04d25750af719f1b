import pytest
import torch
import torch.nn.functional as F

from rtstyle import checkpoint
from rtstyle.models import ArchConfig, build_model, preset_names


@pytest.mark.parametrize("h,w", [(241, 317), (64, 64), (33, 18), (5, 7), (1, 1)])
def test_output_has_exactly_the_input_size(h, w):
    model = build_model("classic").eval()
    with torch.no_grad():
        y = model(torch.rand(2, 3, h, w) * 255)
    assert y.shape == (2, 3, h, w)


def _examples_state_dict(seed=0):
    """A state dict in the layout of PyTorch's fast_neural_style example, built key by key
    from that example's architecture, with old-style instance-norm running statistics."""
    g = torch.Generator().manual_seed(seed)
    sd = {}

    def conv(name, cin, cout, k):
        sd[f"{name}.conv2d.weight"] = torch.randn(cout, cin, k, k, generator=g) * (1.0 / (cin * k * k)) ** 0.5
        sd[f"{name}.conv2d.bias"] = torch.randn(cout, generator=g) * 0.1

    def norm(name, c):
        sd[f"{name}.weight"] = 1 + 0.1 * torch.randn(c, generator=g)
        sd[f"{name}.bias"] = 0.1 * torch.randn(c, generator=g)
        sd[f"{name}.running_mean"] = torch.zeros(c)  # saved by PyTorch < 0.4
        sd[f"{name}.running_var"] = torch.ones(c)

    conv("conv1", 3, 32, 9); norm("in1", 32)
    conv("conv2", 32, 64, 3); norm("in2", 64)
    conv("conv3", 64, 128, 3); norm("in3", 128)
    for i in range(1, 6):
        conv(f"res{i}.conv1", 128, 128, 3); norm(f"res{i}.in1", 128)
        conv(f"res{i}.conv2", 128, 128, 3); norm(f"res{i}.in2", 128)
    conv("deconv1", 128, 64, 3); norm("in4", 64)
    conv("deconv2", 64, 32, 3); norm("in5", 32)
    conv("deconv3", 32, 3, 9)
    return sd


def _reference_forward(sd, x):
    """The example's forward pass, written out with functional ops."""
    def conv(name, x, stride=1, up=False):
        if up:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        w = sd[f"{name}.conv2d.weight"]
        x = F.pad(x, [w.shape[-1] // 2] * 4, mode="reflect")
        return F.conv2d(x, w, sd[f"{name}.conv2d.bias"], stride=stride)

    def norm(name, x):
        return F.instance_norm(x, weight=sd[f"{name}.weight"], bias=sd[f"{name}.bias"])

    y = F.relu(norm("in1", conv("conv1", x)))
    y = F.relu(norm("in2", conv("conv2", y, 2)))
    y = F.relu(norm("in3", conv("conv3", y, 2)))
    for i in range(1, 6):
        r = F.relu(norm(f"res{i}.in1", conv(f"res{i}.conv1", y)))
        y = y + norm(f"res{i}.in2", conv(f"res{i}.conv2", r))
    y = F.relu(norm("in4", conv("deconv1", y, up=True)))
    y = F.relu(norm("in5", conv("deconv2", y, up=True)))
    return conv("deconv3", y)


def test_examples_state_dict_loads_unchanged_and_computes_the_same(tmp_path):
    sd = _examples_state_dict()
    path = tmp_path / "udnie.pth"
    torch.save(sd, path)
    model, meta = checkpoint.load_model(path)
    assert meta["arch"]["name"] == "classic" and meta["arch"]["num_res_blocks"] == 5
    weights = {k: v for k, v in sd.items() if "running" not in k}
    assert set(model.state_dict()) == set(weights)
    x = torch.rand(1, 3, 64, 80) * 255
    with torch.no_grad():
        torch.testing.assert_close(model(x), _reference_forward(weights, x), rtol=1e-4, atol=1e-3)


def test_classic_preset_keys_are_the_examples_keys():
    expected = {k for k in _examples_state_dict() if "running" not in k}
    assert set(build_model("classic").state_dict()) == expected


def test_data_parallel_prefix_is_accepted(tmp_path):
    sd = {f"module.{k}": v for k, v in build_model("classic").state_dict().items()}
    torch.save(sd, tmp_path / "dp.pth")
    model, _ = checkpoint.load_model(tmp_path / "dp.pth")
    assert model.config.name == "classic"


@pytest.mark.parametrize("name", preset_names())
def test_presets_round_trip_through_checkpoints(tmp_path, name):
    torch.manual_seed(0)
    model = build_model(name).eval()
    checkpoint.save_model(model, tmp_path / "m.pth", {"style_image": "s.jpg"})
    loaded, meta = checkpoint.load_model(tmp_path / "m.pth")
    assert loaded.config == model.config
    assert meta["style_image"] == "s.jpg" and "torch" in meta["versions"]
    x = torch.rand(1, 3, 36, 52) * 255
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))


def test_config_with_other_widths_rebuilds():
    cfg = ArchConfig(name="custom", channels=(8, 16, 32), num_res_blocks=2, in_kernel=3, out_kernel=3)
    model = build_model(cfg.to_dict())
    assert model.config == cfg and len(model.res_blocks()) == 2


def test_pixel_shuffle_layer_equals_torch_pixel_shuffle():
    from rtstyle.models.layers import PixelShuffle

    x = torch.randn(2, 5 * 9, 7, 6)
    torch.testing.assert_close(PixelShuffle(5, 3)(x), torch.nn.PixelShuffle(3)(x))


def _perturbed_classic(padding: str):
    """A seeded ``classic`` network with its weights and biases moved away from their
    initial values (so that rearrangements are checked on non-trivial ones)."""
    torch.manual_seed(0)
    model = build_model(ArchConfig(name="classic", padding=padding)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


@pytest.mark.parametrize("padding", ["reflect", "zeros"])
def test_export_rearrangement_of_the_decoder_computes_the_same(padding):
    """ONNX export runs nearest-x2 + 3x3 layers at the low resolution and the 9x9 RGB head
    as a stride-2 phase conv: the same arithmetic, on every aligned size."""
    import copy

    from rtstyle.models.layers import PhaseSplitConv, SubpixelUpsampleConv, subpixel_decoder

    model = _perturbed_classic(padding)
    fast = subpixel_decoder(copy.deepcopy(model)).eval()
    assert isinstance(fast.deconv1, SubpixelUpsampleConv) and isinstance(fast.deconv2, SubpixelUpsampleConv)
    assert isinstance(fast.deconv3, PhaseSplitConv)
    for h, w in [(8, 8), (36, 20), (64, 96)]:
        x = torch.rand(1, 3, h, w) * 255
        with torch.no_grad():
            torch.testing.assert_close(fast.forward_aligned(x), model.forward_aligned(x), atol=1e-4, rtol=1e-5)
    edge = build_model("edge")
    assert not any(isinstance(m, (SubpixelUpsampleConv, PhaseSplitConv))
                   for m in subpixel_decoder(copy.deepcopy(edge)).modules())  # already shuffle-based


@pytest.mark.parametrize("padding", ["reflect", "zeros"])
def test_winograd_convolution_computes_the_same(padding):
    """Export computes the classic residual blocks' 3x3 convolutions by Winograd's F(4x4,
    3x3): the same result as the direct convolution on every size (sides that are not
    multiples of 4 included) and batch, and the same network."""
    import copy

    from rtstyle.models.layers import ConvLayer, ResidualBlock, WinogradConv3x3, winograd_blocks

    torch.manual_seed(0)
    layer = ConvLayer(40, 36, 3, padding=padding)
    with torch.no_grad():
        layer.conv2d.bias.normal_()
    fast, unbiased = WinogradConv3x3(layer), WinogradConv3x3(layer, bias=False)
    for n, h, w in [(1, 8, 12), (2, 5, 7), (1, 13, 6), (1, 2, 2)]:
        x = torch.randn(n, 40, h, w)
        with torch.no_grad():
            ref = layer(x)
            torch.testing.assert_close(fast(x), ref, atol=1e-4, rtol=1e-4)
            torch.testing.assert_close(unbiased(x), ref - layer.conv2d.bias.view(1, -1, 1, 1), atol=1e-4, rtol=1e-4)
    assert not WinogradConv3x3.fits(ConvLayer(40, 36, 3, stride=2)) and not WinogradConv3x3.fits(ConvLayer(8, 8, 3))

    model = _perturbed_classic(padding)
    fast_model = winograd_blocks(copy.deepcopy(model)).eval()
    assert all(isinstance(b.conv1, WinogradConv3x3) and isinstance(b.conv2, WinogradConv3x3)
               for b in fast_model.modules() if isinstance(b, ResidualBlock))
    for h, w in [(8, 8), (36, 20), (68, 52)]:
        x = torch.rand(1, 3, h, w) * 255
        with torch.no_grad():
            torch.testing.assert_close(fast_model.forward_aligned(x), model.forward_aligned(x), atol=1e-3, rtol=1e-5)


def test_configs_saved_before_a_field_existed_still_load():
    """Checkpoints store their config; one written before ``skip`` existed (``edge`` had
    no skips then; the built-in ``stained-glass`` is one) must rebuild the network it was
    trained as, not today's ``edge``."""
    edge = build_model("edge")
    old = edge.config.to_dict()
    del old["skip"]
    before = build_model(ArchConfig.from_dict(old))
    assert edge.config.skip and not before.config.skip
    before.load_state_dict(edge.state_dict())  # skips add no weights: the same tensors
    x = torch.rand(1, 3, 64, 48) * 255
    with torch.no_grad():
        assert (before(x) - edge(x)).abs().max() > 1.0  # but a different network
