"""Small reusable layers of the style networks.

Module names (``conv2d``, ``reflection_pad``, ``in1`` ...) follow PyTorch's
fast_neural_style example so that its state dicts load into the ``classic`` preset
unchanged. The compact presets reuse the same layers with other options: zero padding
folded into the convolution (no separate Pad op at run time), depthwise-separable
residual blocks, pixel-shuffle upsampling, and anti-aliased (blurred) downsampling.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

PADDINGS = ("reflect", "zeros")


def _conv(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: str = "reflect",
          groups: int = 1) -> nn.Module:
    if padding == "reflect":
        return _ReflectConv(in_channels, out_channels, kernel_size, stride, groups)
    if padding == "zeros":
        return nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding=kernel_size // 2, groups=groups)
    raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")


class _ReflectConv(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, groups=1):
        super().__init__()
        self.reflection_pad = nn.ReflectionPad2d(kernel_size // 2)
        self.conv2d = nn.Conv2d(in_channels, out_channels, kernel_size, stride, groups=groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2d(self.reflection_pad(x))


class Blur(nn.Module):
    """A fixed 3x3 binomial low-pass filter per channel ([1,2,1]x[1,2,1]/16), the
    anti-aliasing filter of Zhang 2019 ("Making convolutional networks shift-invariant
    again"), applied before a strided convolution."""

    def __init__(self, channels: int, padding: str = "reflect"):
        super().__init__()
        k = torch.tensor([1.0, 2.0, 1.0])
        k = (k[:, None] * k[None, :]) / 16.0
        self.register_buffer("kernel", k.expand(channels, 1, 3, 3).clone(), persistent=False)
        self.channels, self.padding = channels, padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.padding == "zeros":  # folded into the conv: no separate pad op at run time
            return F.conv2d(x, self.kernel, padding=1, groups=self.channels)
        return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), self.kernel, groups=self.channels)


class ConvLayer(nn.Module):
    """A convolution with "same" padding (reflection by default, as in Johnson et al.);
    with ``blur``, a stride-2 convolution low-passes its input first."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: str = "reflect", blur: bool = False):
        super().__init__()
        self.blur = Blur(in_channels, padding) if blur and stride > 1 else None
        body = _conv(in_channels, out_channels, kernel_size, stride, padding)
        if isinstance(body, _ReflectConv):  # keep the example's flat names: reflection_pad, conv2d
            self.reflection_pad, self.conv2d = body.reflection_pad, body.conv2d
        else:
            self.reflection_pad, self.conv2d = None, body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.blur is not None:
            x = self.blur(x)
        if self.reflection_pad is not None:
            x = self.reflection_pad(x)
        return self.conv2d(x)


class PixelShuffle(nn.Module):
    """Depth-to-space (Shi et al. 2016), written as a transposed convolution with a fixed
    0/1 kernel: the same result as ``nn.PixelShuffle``, but ONNX Runtime runs it as a
    ConvTranspose about 2-3x faster than its DepthToSpace op on a CPU."""

    def __init__(self, out_channels: int, factor: int):
        super().__init__()
        r = factor
        k = torch.zeros(out_channels * r * r, 1, r, r)
        for c in range(out_channels):
            for i in range(r):
                for j in range(r):
                    k[c * r * r + i * r + j, 0, i, j] = 1.0
        self.register_buffer("kernel", k, persistent=False)
        self.out_channels, self.factor = out_channels, r

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv_transpose2d(x, self.kernel, stride=self.factor, groups=self.out_channels)


class UpsampleConvLayer(nn.Module):
    """Upsampling by ``upsample`` then a convolution, without the checkerboard artefacts
    of transposed convolutions (Odena et al. 2016). ``mode="nearest"``: nearest-neighbour
    resize, then the conv at the high resolution (Johnson et al.). ``mode="shuffle"``: the
    conv at the low resolution with upsample² times the channels, then pixel shuffle
    (Shi et al. 2016): the same arithmetic, on smaller maps, with no resize op."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, upsample: int = 2,
                 padding: str = "reflect", mode: str = "nearest", separable: bool = False):
        super().__init__()
        if mode not in ("nearest", "shuffle"):
            raise ValueError(f"upsample mode must be 'nearest' or 'shuffle', got {mode!r}")
        self.upsample, self.mode = upsample, mode
        shuffle = mode == "shuffle" and upsample > 1
        self.shuffle = PixelShuffle(out_channels, upsample) if shuffle else None
        out = out_channels * (upsample**2 if shuffle else 1)
        if separable:  # depthwise kxk then pointwise 1x1
            self.reflection_pad = None
            self.conv2d = nn.Sequential(_conv(in_channels, in_channels, kernel_size, padding=padding,
                                              groups=in_channels), nn.Conv2d(in_channels, out, 1))
        else:
            conv = ConvLayer(in_channels, out, kernel_size, padding=padding)
            self.reflection_pad, self.conv2d = conv.reflection_pad, conv.conv2d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.shuffle is None and self.upsample > 1:
            x = F.interpolate(x, scale_factor=self.upsample, mode="nearest")
        if self.reflection_pad is not None:
            x = self.reflection_pad(x)
        x = self.conv2d(x)
        return self.shuffle(x) if self.shuffle is not None else x


class SubpixelUpsampleConv(nn.Module):
    """Exactly what an :class:`UpsampleConvLayer` with ``mode="nearest"``, a factor of 2
    and a full 3x3 convolution computes, rearranged to work at the *low* resolution.

    Each output pixel of "nearest x2, then 3x3 conv" sees only a 2x2 neighbourhood of the
    low-resolution input, with taps that depend on its phase (row and column parity). So
    the layer is one 2x2 convolution on the (1-px padded) low-resolution input giving the
    four phases as channels, interleaved by a fixed 0/1 transposed convolution: 16 taps
    where the original has 36 at four times the pixels, and no resize. Reflection padding
    of the upsampled map equals edge replication of the small one (and zero padding stays
    zero padding), so the result is the same up to float rounding. Used for ONNX export, where it makes the ``classic``
    preset's decoder about 2x cheaper; the trained module is unchanged."""

    @staticmethod
    def fits(layer: nn.Module) -> bool:
        """Whether ``layer`` is nearest x2 upsampling followed by a full 3x3 convolution."""
        conv = getattr(layer, "conv2d", None)
        return (isinstance(layer, UpsampleConvLayer) and layer.mode == "nearest" and layer.upsample == 2
                and isinstance(conv, nn.Conv2d) and conv.kernel_size == (3, 3) and conv.groups == 1)

    def __init__(self, layer: "UpsampleConvLayer"):
        super().__init__()
        if not self.fits(layer):
            raise ValueError("only nearest x2 upsampling followed by a full 3x3 convolution can be rearranged")
        conv = layer.conv2d
        w = conv.weight.detach()  # [out, in, 3, 3]
        rows = [torch.tensor([[1.0, 0, 0], [0, 1, 1]]), torch.tensor([[1.0, 1, 0], [0, 0, 1]])]  # phase 0, 1
        kernels = [torch.einsum("ay,oiyx,bx->oiab", rows[a], w, rows[b]) for a in (0, 1) for b in (0, 1)]
        out_c = w.shape[0]
        self.register_buffer("kernel", torch.stack(kernels, 1).flatten(0, 1), persistent=False)  # [out*4, in, 2, 2]
        bias = conv.bias.detach() if conv.bias is not None else torch.zeros(out_c)
        self.register_buffer("bias", bias.repeat_interleave(4), persistent=False)
        # pixel shuffle's 0/1 kernel, mirrored: phase (a, b) lands one pixel up-left of
        # where the shuffle would put it, i.e. it is read at (i + a, j + b)
        self.register_buffer("place", PixelShuffle(out_c, 2).kernel.flip(-2, -1), persistent=False)
        self.pad_mode = "replicate" if layer.reflection_pad is not None else "constant"
        self.out_channels = out_c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # one 2x2 convolution gives all four phases, each on the whole padded map; phase
        # (a, b) of output pixel (i, j) is its value at (i + a, j + b), which the fixed
        # 0/1 transposed convolution picks while interleaving (no slicing, no stacking)
        y = F.conv2d(F.pad(x, (1, 1, 1, 1), mode=self.pad_mode), self.kernel, self.bias)
        return F.conv_transpose2d(y, self.place, stride=2, padding=1, groups=self.out_channels)


class PhaseSplitConv(nn.Module):
    """Exactly what a stride-1, KxK "same" convolution with few output channels (the
    network's RGB head) computes, as one stride-2 convolution giving the four output
    phases as channels, interleaved by a depth-to-space.

    The stride-2 kernel is (K+1)x(K+1): phase (a, b) of the output uses the original
    kernel shifted by (a, b) inside it. It costs about 1.2x the multiply-adds, but
    ONNX Runtime's blocked convolutions round the output channels up to 8 or 16, so a
    3-channel head wastes 80% of its work while a 12-channel one wastes 25%: about 4x
    faster for the ``classic`` preset's 9x9 head at 640x480. Used for ONNX export."""

    @staticmethod
    def fits(layer: nn.Module) -> bool:
        """Whether ``layer`` is a stride-1 full convolution with an odd square kernel."""
        conv = getattr(layer, "conv2d", None)
        return (isinstance(layer, UpsampleConvLayer) and layer.upsample == 1 and isinstance(conv, nn.Conv2d)
                and conv.stride == (1, 1) and conv.groups == 1 and conv.kernel_size[0] == conv.kernel_size[1]
                and conv.kernel_size[0] % 2 == 1)

    def __init__(self, layer: "UpsampleConvLayer"):
        super().__init__()
        if not self.fits(layer):
            raise ValueError("only a stride-1, odd square, full convolution can be split into phases")
        conv = layer.conv2d
        w = conv.weight.detach()
        out_c, in_c, k, _ = w.shape
        big = torch.zeros(out_c, 2, 2, in_c, k + 1, k + 1)
        for a in (0, 1):
            for b in (0, 1):
                big[:, a, b, :, a: a + k, b: b + k] = w
        self.register_buffer("kernel", big.reshape(out_c * 4, in_c, k + 1, k + 1), persistent=False)
        bias = conv.bias.detach() if conv.bias is not None else torch.zeros(out_c)
        self.register_buffer("bias", bias.repeat_interleave(4), persistent=False)
        self.reflection_pad = layer.reflection_pad
        self.pad = k // 2 if layer.reflection_pad is None else 0  # zero padding, when it was the conv's own
        self.shuffle = PixelShuffle(out_c, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # the input's sides must be even (the network's aligned sizes are multiples of 4);
        # output (2i + a, 2j + b) reads padded rows and columns 2i + a .. 2i + a + K - 1
        if self.reflection_pad is not None:
            x = self.reflection_pad(x)
        elif self.pad:
            x = F.pad(x, (self.pad,) * 4)
        return self.shuffle(F.conv2d(x, self.kernel, self.bias, stride=2))


class WinogradConv3x3(nn.Module):
    """Exactly what a wide 3x3, stride-1 "same" convolution computes, by Winograd's minimal
    filtering F(4x4, 3x3) (Lavin and Gray 2016): each 4x4 output tile takes 36 multiplies
    per channel pair instead of 144, so the matrix products that remain are 4x smaller.

    Written with standard ops, so that ONNX Runtime runs it on its GEMM: the input
    transform ``B^T d B`` of every 6x6 input tile (stride 4) is a fixed grouped
    convolution; the 36 products are one batched matrix multiply with the transformed
    weights ``G g G^T``; the output transform ``A^T m A`` is a fixed 16x36 matrix multiply
    and a depth-to-space lays the 4x4 tiles out. Sides that are not multiples of 4 are
    padded past the "same" padding and the result cropped. Float rounding differs from
    the direct convolution by about 1e-5 of the values (float32 only: int8 and fp16 keep
    the direct convolution). Used for ONNX export, where the ``classic`` preset's residual
    blocks run about 1.3x faster (the whole network: ``docs/benchmarks.md``)."""

    _BT = [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
           [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]]
    _G = [[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
          [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]]
    _AT = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]]

    @staticmethod
    def fits(layer: nn.Module, min_channels: int = 32) -> bool:
        """Whether ``layer`` is a :class:`ConvLayer` that is a plain 3x3, stride-1, full
        convolution with "same" padding, wide enough to gain (``min_channels``)."""
        conv = getattr(layer, "conv2d", None)
        if not (isinstance(layer, ConvLayer) and layer.blur is None and isinstance(conv, nn.Conv2d)):
            return False
        padded = layer.reflection_pad is not None or conv.padding == (1, 1)
        return (conv.kernel_size == (3, 3) and conv.stride == (1, 1) and conv.dilation == (1, 1)
                and conv.groups == 1 and padded and min(conv.in_channels, conv.out_channels) >= min_channels)

    def __init__(self, layer: "ConvLayer", bias: bool = True):
        super().__init__()
        if not self.fits(layer, min_channels=1):
            raise ValueError("only a 3x3, stride-1, full convolution with same padding can be rearranged")
        conv = layer.conv2d
        out_c, in_c = conv.out_channels, conv.in_channels
        bt, g, at = (torch.tensor(m, dtype=torch.float64) for m in (self._BT, self._G, self._AT))
        u = torch.einsum("ik,ockl,jl->ijoc", g, conv.weight.detach().double(), g)  # [6, 6, out, in]
        self.register_buffer("weight", u.reshape(36, out_c, in_c).float(), persistent=False)
        b = torch.einsum("ia,jb->ijab", bt, bt).reshape(36, 1, 6, 6)  # input transform per channel
        self.register_buffer("bt", b.repeat(in_c, 1, 1, 1).float(), persistent=False)
        self.register_buffer("at", torch.einsum("ai,bj->abij", at, at).reshape(16, 36).float(), persistent=False)
        keep = bias and conv.bias is not None
        self.register_buffer("bias", conv.bias.detach().clone() if keep else None, persistent=False)
        self.pad_mode = "reflect" if layer.reflection_pad is not None else "constant"
        self.out_channels = out_c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        x = F.pad(x, (1, 1, 1, 1), mode=self.pad_mode)
        x = F.pad(x, (0, (-w) % 4, 0, (-h) % 4))  # whole tiles; the extra outputs are cropped
        d = F.conv2d(x, self.bt, stride=4, groups=c)  # [N, C*36, TY, TX]: tile transforms
        ty, tx = d.shape[-2:]
        d = d.reshape(n, c, 36, -1).transpose(1, 2)  # [N, 36, C, T]
        m = torch.matmul(self.weight, d)  # [N, 36, out, T]
        y = torch.matmul(self.at, m.reshape(n, 36, -1))  # [N, 16, out*T]: output transform
        y = y.reshape(n, 16 * self.out_channels, ty, tx)
        y = _depth_to_space_dcr(y, 4)  # [N, out, 4TY, 4TX]
        if self.bias is not None:
            y = y + self.bias.view(1, -1, 1, 1)
        return y[..., :h, :w]


class _DepthToSpaceDCR(torch.autograd.Function):
    """ONNX's DepthToSpace in DCR mode (channel (i * r + j) * C + c goes to (c, r y + i,
    r x + j)), which PyTorch has no op for."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, r: int) -> torch.Tensor:
        n, c, h, w = x.shape
        y = x.reshape(n, r, r, c // (r * r), h, w).permute(0, 3, 4, 1, 5, 2)
        return y.reshape(n, c // (r * r), h * r, w * r)

    @staticmethod
    def symbolic(g, x, r):
        return g.op("DepthToSpace", x, blocksize_i=r, mode_s="DCR")


def _depth_to_space_dcr(x: torch.Tensor, r: int) -> torch.Tensor:
    return _DepthToSpaceDCR.apply(x, r)


def winograd_blocks(model: nn.Module) -> nn.Module:
    """``model`` with the wide 3x3 convolutions of its (basic) residual blocks computed by
    :class:`WinogradConv3x3` (in place; returns ``model``)."""
    for block in model.modules():
        if isinstance(block, ResidualBlock):
            for name in ("conv1", "conv2"):
                if WinogradConv3x3.fits(getattr(block, name)):  # an instance norm follows: no bias
                    setattr(block, name, WinogradConv3x3(getattr(block, name), bias=False))
    return model


def subpixel_decoder(model: nn.Module) -> nn.Module:
    """``model`` with its decoder rearranged for fast inference, the same arithmetic:
    nearest-x2 + 3x3 layers become :class:`SubpixelUpsampleConv`, a wide RGB head (5x5
    and up, at most 4 channels) :class:`PhaseSplitConv` (in place; returns ``model``)."""
    for name, child in list(model.named_children()):
        if SubpixelUpsampleConv.fits(child):
            setattr(model, name, SubpixelUpsampleConv(child))
        elif PhaseSplitConv.fits(child) and child.conv2d.out_channels <= 4 and child.conv2d.kernel_size[0] >= 5:
            setattr(model, name, PhaseSplitConv(child))  # worth it only for a wide, few-channel head
        else:
            subpixel_decoder(child)
    return model


def instance_norm(channels: int) -> nn.InstanceNorm2d:
    """Affine instance norm without running statistics (the same at train and test time)."""
    return nn.InstanceNorm2d(channels, affine=True)


class ResidualBlock(nn.Module):
    """Two 3x3 conv + instance norm layers with an identity shortcut (He et al. 2016),
    the block of Johnson et al.'s network as in the fast_neural_style example."""

    def __init__(self, channels: int, padding: str = "reflect"):
        super().__init__()
        self.conv1 = ConvLayer(channels, channels, kernel_size=3, padding=padding)
        self.in1 = instance_norm(channels)
        self.conv2 = ConvLayer(channels, channels, kernel_size=3, padding=padding)
        self.in2 = instance_norm(channels)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.in1(self.conv1(x)))
        return self.in2(self.conv2(out)) + x


class SeparableResidualBlock(nn.Module):
    """The residual block with each 3x3 conv split into a depthwise 3x3 and a pointwise
    1x1 (MobileNet, Howard et al. 2017): about 8x fewer multiply-adds at 64 channels."""

    def __init__(self, channels: int, padding: str = "reflect"):
        super().__init__()
        self.dw1 = _conv(channels, channels, 3, padding=padding, groups=channels)
        self.pw1 = nn.Conv2d(channels, channels, 1)
        self.in1 = instance_norm(channels)
        self.dw2 = _conv(channels, channels, 3, padding=padding, groups=channels)
        self.pw2 = nn.Conv2d(channels, channels, 1)
        self.in2 = instance_norm(channels)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.in1(self.pw1(self.dw1(x))))
        return self.in2(self.pw2(self.dw2(out))) + x


RESIDUAL_BLOCKS = {"basic": ResidualBlock, "separable": SeparableResidualBlock}
