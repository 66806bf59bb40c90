"""A small U-Net for images of shape (C, H, W)."""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, Int, PRNGKeyArray

from .._validation import check_int, check_shape
from ._base import AbstractScoreNet
from ._embedding import LabelEmbedding, sinusoidal_embedding


def _groups(channels: int) -> int:
    for g in (8, 4, 2, 1):
        if channels % g == 0:
            return g
    return 1  # pragma: no cover


def _conv(conv: eqx.nn.Conv2d, x: Float[Array, "c h w"]) -> Float[Array, "o h2 w2"]:
    """`conv(x)` with the convolution itself in channels-last layout (NHWC input,
    HWIO kernel): the same numbers as `eqx.nn.Conv2d`, but XLA:CPU only runs its
    fast convolution kernel on that layout and, inside a compiled loop (the
    training `lax.scan`, a sampler's `diffeqsolve`), does not convert other
    layouts to it: there a channels-first convolution falls back to a generic
    kernel ten or more times slower. The transposes are cheap next to the
    convolution; on GPU they are free."""
    out = jax.lax.conv_general_dilated(
        jnp.transpose(x, (1, 2, 0))[None],
        jnp.transpose(conv.weight, (2, 3, 1, 0)),
        window_strides=conv.stride,
        padding=conv.padding,
        rhs_dilation=conv.dilation,
        feature_group_count=conv.groups,
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
    )[0]
    out = jnp.transpose(out, (2, 0, 1))
    return out if conv.bias is None else out + conv.bias


class _ResBlock(eqx.Module):
    norm1: eqx.nn.GroupNorm
    conv1: eqx.nn.Conv2d
    time_proj: eqx.nn.Linear
    norm2: eqx.nn.GroupNorm
    conv2: eqx.nn.Conv2d
    skip: eqx.nn.Conv2d | None

    def __init__(self, c_in: int, c_out: int, emb_dim: int, *, key: PRNGKeyArray):
        k1, k2, k3, k4 = jax.random.split(key, 4)
        self.norm1 = eqx.nn.GroupNorm(_groups(c_in), c_in)
        self.conv1 = eqx.nn.Conv2d(c_in, c_out, 3, padding=1, key=k1)
        self.time_proj = eqx.nn.Linear(emb_dim, 2 * c_out, key=k2)
        self.norm2 = eqx.nn.GroupNorm(_groups(c_out), c_out)
        conv2 = eqx.nn.Conv2d(c_out, c_out, 3, padding=1, key=k3)
        self.conv2 = eqx.tree_at(lambda c: c.weight, conv2, conv2.weight * 0.1)
        self.skip = None if c_in == c_out else eqx.nn.Conv2d(c_in, c_out, 1, key=k4)

    def __call__(self, x, emb):
        h = _conv(self.conv1, jax.nn.silu(self.norm1(x)))
        # Scale-shift conditioning after the norm (Nichol & Dhariwal 2021): a
        # shift added before GroupNorm would be normalised away.
        scale, shift = jnp.split(self.time_proj(emb)[:, None, None], 2)
        h = self.norm2(h) * (1 + scale) + shift
        h = _conv(self.conv2, jax.nn.silu(h))
        return h + (x if self.skip is None else _conv(self.skip, x))


class _Attention(eqx.Module):
    norm: eqx.nn.GroupNorm
    attention: eqx.nn.MultiheadAttention

    def __init__(self, channels: int, num_heads: int, *, key: PRNGKeyArray):
        self.norm = eqx.nn.GroupNorm(_groups(channels), channels)
        self.attention = eqx.nn.MultiheadAttention(num_heads, channels, key=key)

    def __call__(self, x):
        c, h, w = x.shape
        tokens = jnp.reshape(self.norm(x), (c, h * w)).T
        out = self.attention(tokens, tokens, tokens)
        return x + jnp.reshape(out.T, (c, h, w))


class UNet(AbstractScoreNet):
    r"""A small U-Net (Ronneberger et al. 2015, as adapted by Ho et al. 2020) for
    images of shape `(C, H, W)`: 8x8 digits, 28x28 and 32x32 images.

    Each resolution has `num_res_blocks` residual blocks (GroupNorm, SiLU, 3x3
    convolutions, the time embedding applied as a per-channel scale and shift
    after the second GroupNorm, Nichol & Dhariwal 2021); resolutions are halved
    by stride-2 convolutions and restored by nearest-neighbour upsampling to the
    skip connection's size (so odd sizes such as 7x7 work). Self-attention is
    applied at the resolution levels listed in `attention_levels` (default:
    the lowest one).

    **Arguments:**

    - `data_shape`: `(C, H, W)`.
    - `channels`: channels per resolution level, e.g. `(32, 64)` (default):
      `len(channels) - 1` downsamplings.
    - `num_res_blocks`: residual blocks per level on the way down (default 1;
      the way up has one more, as in DDPM).
    - `attention_levels`: indices into `channels` that get self-attention
      (default `(len(channels) - 1,)`, the lowest resolution; `()` for none).
    - `num_heads`: attention heads (default 1).
    - `embedding_dim`: width of the time (and label) embedding (default 128).
    - `num_classes`: number of classes for class conditioning, or `None`
      (label $K$ is the "null" label, used for `label=None`).
    - `key`: a PRNG key for the initialisation.
    """

    data_shape: tuple[int, ...] = eqx.field(static=True)
    channels: tuple[int, ...] = eqx.field(static=True)
    num_res_blocks: int = eqx.field(static=True)
    attention_levels: tuple[int, ...] = eqx.field(static=True)
    num_heads: int = eqx.field(static=True)
    embedding_dim: int = eqx.field(static=True)
    num_classes: int | None = eqx.field(static=True)
    time_mlp: eqx.nn.MLP
    label_embedding: LabelEmbedding | None
    input_conv: eqx.nn.Conv2d
    down: tuple[tuple[_ResBlock, ...], ...]
    down_attention: tuple[_Attention | None, ...]
    downsample: tuple[eqx.nn.Conv2d, ...]
    middle: tuple[_ResBlock, _ResBlock]
    middle_attention: _Attention
    up: tuple[tuple[_ResBlock, ...], ...]
    up_attention: tuple[_Attention | None, ...]
    upsample_conv: tuple[eqx.nn.Conv2d, ...]
    output_norm: eqx.nn.GroupNorm
    output_conv: eqx.nn.Conv2d

    def __init__(
        self,
        data_shape: tuple[int, ...],
        *,
        channels: tuple[int, ...] = (32, 64),
        num_res_blocks: int = 1,
        attention_levels: tuple[int, ...] | None = None,
        num_heads: int = 1,
        embedding_dim: int = 128,
        num_classes: int | None = None,
        key: PRNGKeyArray,
    ):
        data_shape = check_shape("data_shape", data_shape)
        if len(data_shape) != 3:
            raise ValueError(
                f"`data_shape` must be (C, H, W) for a UNet, got {data_shape}."
            )
        channels = tuple(channels)
        if len(channels) == 0:
            raise ValueError("`channels` must be a non-empty tuple of integers.")
        for c in channels:
            check_int("channels", c, minimum=1)
        levels = len(channels)
        if attention_levels is None:
            attention_levels = (levels - 1,)
        attention_levels = tuple(int(a) for a in attention_levels)
        if any(not 0 <= a < levels for a in attention_levels):
            raise ValueError(
                f"`attention_levels` must index `channels` (0..{levels - 1}), got "
                f"{attention_levels}."
            )
        self.data_shape = data_shape
        self.channels = tuple(int(c) for c in channels)
        self.num_res_blocks = check_int("num_res_blocks", num_res_blocks, minimum=1)
        self.attention_levels = attention_levels
        self.num_heads = check_int("num_heads", num_heads, minimum=1)
        self.embedding_dim = check_int("embedding_dim", embedding_dim, minimum=2)
        if num_classes is not None:
            num_classes = check_int("num_classes", num_classes, minimum=1)
        self.num_classes = num_classes
        for c in channels:
            if c % num_heads:
                raise ValueError(
                    f"every entry of `channels` must be divisible by `num_heads`="
                    f"{num_heads}, got {channels}."
                )

        keys = iter(jax.random.split(key, 64 + 8 * levels * (num_res_blocks + 2)))
        c_data = data_shape[0]
        emb = embedding_dim
        self.time_mlp = eqx.nn.MLP(
            emb, emb, emb, depth=1, activation=jax.nn.silu, key=next(keys)
        )
        self.label_embedding = (
            None
            if num_classes is None
            else LabelEmbedding(num_classes, emb, key=next(keys))
        )
        self.input_conv = eqx.nn.Conv2d(
            c_data, channels[0], 3, padding=1, key=next(keys)
        )
        down, down_att, downsample = [], [], []
        skip_channels = [channels[0]]
        c_prev = channels[0]
        for i, c in enumerate(channels):
            blocks = []
            for _ in range(num_res_blocks):
                blocks.append(_ResBlock(c_prev, c, emb, key=next(keys)))
                c_prev = c
                skip_channels.append(c)
            down.append(tuple(blocks))
            down_att.append(
                _Attention(c, num_heads, key=next(keys))
                if i in attention_levels
                else None
            )
            if i < levels - 1:
                downsample.append(
                    eqx.nn.Conv2d(c, c, 3, stride=2, padding=1, key=next(keys))
                )
                skip_channels.append(c)
        self.down = tuple(down)
        self.down_attention = tuple(down_att)
        self.downsample = tuple(downsample)
        self.middle = (
            _ResBlock(c_prev, c_prev, emb, key=next(keys)),
            _ResBlock(c_prev, c_prev, emb, key=next(keys)),
        )
        self.middle_attention = _Attention(c_prev, num_heads, key=next(keys))
        up, up_att, upsample_conv = [], [], []
        for i in reversed(range(levels)):
            c = channels[i]
            blocks = []
            for _ in range(num_res_blocks + 1):
                blocks.append(
                    _ResBlock(c_prev + skip_channels.pop(), c, emb, key=next(keys))
                )
                c_prev = c
            up.append(tuple(blocks))
            up_att.append(
                _Attention(c, num_heads, key=next(keys))
                if i in attention_levels
                else None
            )
            if i > 0:
                upsample_conv.append(eqx.nn.Conv2d(c, c, 3, padding=1, key=next(keys)))
        self.up = tuple(up)
        self.up_attention = tuple(up_att)
        self.upsample_conv = tuple(upsample_conv)
        self.output_norm = eqx.nn.GroupNorm(_groups(c_prev), c_prev)
        out = eqx.nn.Conv2d(c_prev, c_data, 3, padding=1, key=next(keys))
        self.output_conv = eqx.tree_at(lambda c: c.weight, out, out.weight * 0.1)

    def __call__(
        self,
        time_feature: Float[ArrayLike, ""],
        y: Float[Array, "..."],
        label: Int[ArrayLike, ""] | None = None,
    ) -> Float[Array, "..."]:
        emb = self.time_mlp(sinusoidal_embedding(time_feature, self.embedding_dim))
        if self.label_embedding is not None:
            emb = emb + self.label_embedding(label)
        h = _conv(self.input_conv, y)
        skips = [h]
        for i, blocks in enumerate(self.down):
            for block in blocks:
                h = block(h, emb)
                if self.down_attention[i] is not None:
                    h = self.down_attention[i](h)
                skips.append(h)
            if i < len(self.downsample):
                h = _conv(self.downsample[i], h)
                skips.append(h)
        h = self.middle[0](h, emb)
        h = self.middle_attention(h)
        h = self.middle[1](h, emb)
        for j, blocks in enumerate(self.up):
            for block in blocks:
                h = block(jnp.concatenate([h, skips.pop()], axis=0), emb)
                if self.up_attention[j] is not None:
                    h = self.up_attention[j](h)
            if j < len(self.upsample_conv):
                target = skips[-1].shape[1:]
                h = jax.image.resize(h, (h.shape[0], *target), "nearest")
                h = _conv(self.upsample_conv[j], h)
        h = _conv(self.output_conv, jax.nn.silu(self.output_norm(h)))
        return h
