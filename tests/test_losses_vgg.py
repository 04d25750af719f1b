import pytest
import torch

from rtstyle.errors import RtStyleError
from rtstyle.losses import content_loss, gram_matrix, style_loss
from rtstyle.vgg import VGG16_FILENAME, VGG16_URL, VGG16Features, load_vgg16


def test_gram_matrix_matches_a_naive_computation():
    f = torch.randn(2, 4, 5, 3, dtype=torch.float64)
    g = gram_matrix(f)
    b, c, h, w = f.shape
    for n in range(b):
        for i in range(c):
            for j in range(c):
                naive = sum(f[n, i, y, x] * f[n, j, y, x] for y in range(h) for x in range(w)) / (c * h * w)
                assert abs(g[n, i, j].item() - naive.item()) < 1e-5


def test_gram_matrix_of_channels_last_maps_is_the_same_with_the_same_gradient():
    # VGG16 runs channels-last: its maps take another path through gram_matrix
    f = torch.randn(2, 6, 7, 5, dtype=torch.float64)
    a = f.clone().requires_grad_(True)
    b = f.clone().contiguous(memory_format=torch.channels_last).requires_grad_(True)
    ga, gb = gram_matrix(a), gram_matrix(b)
    torch.testing.assert_close(ga, gb)
    weights = torch.randn_like(ga)
    (ga * weights).sum().backward()
    (gb * weights).sum().backward()
    torch.testing.assert_close(a.grad, b.grad)


def test_style_and_content_losses_vanish_for_identical_features():
    feats = [torch.rand(2, 8, 6, 6), torch.rand(2, 16, 3, 3)]
    grams = [gram_matrix(f[:1]) for f in feats]
    same = [f[:1].expand_as(f) for f in feats]
    assert style_loss(same, grams).item() == pytest.approx(0, abs=1e-12)
    assert style_loss([f + 1 for f in same], grams).item() > 0
    assert content_loss(feats[0], feats[0]).item() == 0


def _reference_net(vgg_weights):
    net = VGG16Features()
    net.load_features_state_dict(torch.load(vgg_weights, weights_only=True))
    return net


@pytest.mark.parametrize("layout", ["features.", "", "full"])
def test_vgg_loads_local_file_in_every_layout(tmp_path, vgg_weights, layout):
    sd = torch.load(vgg_weights, weights_only=True)
    bare = {k[len("features."):]: v for k, v in sd.items()}
    if layout == "":
        sd = bare
    elif layout == "full":  # the official file also has deeper layers and the classifier
        sd = dict(sd, **{"features.24.weight": torch.zeros(512, 512, 3, 3), "classifier.0.weight": torch.zeros(4, 4)})
    path = tmp_path / "w.pth"
    torch.save(sd, path)
    net = load_vgg16(path)
    x = torch.rand(1, 3, 32, 32) * 255
    for a, b in zip(net(x), _reference_net(vgg_weights)(x), strict=True):
        torch.testing.assert_close(a, b)
    assert all(not p.requires_grad for p in net.parameters()) and not net.training
    assert [t.shape[1] for t in net(x)] == [64, 128, 256, 512]


def test_vgg_content_features_are_relu2_2_in_either_input_layout(vgg_weights):
    net = load_vgg16(vgg_weights)
    x = torch.rand(2, 3, 24, 20) * 255
    full = net(x)
    assert full.relu1_2.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(net.content(x), full.relu2_2)
    torch.testing.assert_close(net.content(x.contiguous(memory_format=torch.channels_last)), full.relu2_2)
    # and the same numbers as the network run plainly, layer by layer, in NCHW
    ref = (x - net.mean) / net.std
    for layer in list(_reference_net(vgg_weights).features)[:9]:
        ref = layer(ref)
    torch.testing.assert_close(full.relu2_2, ref, rtol=1e-4, atol=1e-3)


def test_vgg_comes_from_the_torch_hub_cache(tmp_path, monkeypatch, vgg_weights):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    (cache / VGG16_FILENAME).write_bytes(open(vgg_weights, "rb").read())
    net = load_vgg16(None)
    x = torch.rand(1, 3, 16, 16) * 255
    torch.testing.assert_close(net(x).relu4_3, _reference_net(vgg_weights)(x).relu4_3)


def test_offline_without_cache_gives_one_error_naming_url_and_flag(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    # a proxy that refuses connections: offline, whatever the machine's network
    for var in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    with pytest.raises(RtStyleError) as err:
        load_vgg16(None)
    msg = str(err.value)
    assert VGG16_URL in msg and "--vgg-weights" in msg and "\n" not in msg
    assert not (tmp_path / "hub" / "checkpoints" / VGG16_FILENAME).exists()


def test_vgg_weights_that_are_not_vgg_are_refused(tmp_path):
    path = tmp_path / "bad.pth"
    torch.save({"features.0.weight": torch.zeros(3, 3)}, path)
    with pytest.raises(RtStyleError, match="not a VGG16 state dict"):
        load_vgg16(path)
    with pytest.raises(RtStyleError, match="not found"):
        load_vgg16(tmp_path / "missing.pth")


def test_lowpass_loss_sees_colour_not_the_phase_of_fine_texture():
    from rtstyle.losses import lowpass_loss

    checker = (torch.arange(32)[:, None] + torch.arange(32)[None, :]) % 2 * 255.0
    a = checker.expand(1, 3, 32, 32)
    shifted = torch.roll(a, 1, dims=-1)  # every pixel changes by 255
    assert (a - shifted).abs().mean() == 255
    assert lowpass_loss(a, shifted) < 1.0
    assert lowpass_loss(a, a + 40) == pytest.approx(40, rel=1e-4)
