"""The variant-digits benchmark: images whose appearance is driven by four causally related latents.

Source images
    scikit-learn's bundled handwritten digits (1,797 real 8x8 images, bilinearly enlarged to
    10x10 and centred on a 14x14 canvas) by default; or MNIST from IDX files
    (``train-images-idx3-ubyte``, optionally gzipped; 28x28 pooled 2x2 to 14x14) given by path.

Latents (independent, non-Gaussian noise u_i ~ Uniform(-1, 1); graph z11 -> z12, z11 -> z21,
z21 -> z22)::

    z11 = u1
    z12 = 0.6 * tanh(1.5 * z11) + 0.5 * u2
    z21 = 0.5 * z11 + 0.4 * (z11**2 - 1/3) + 0.5 * u3
    z22 = 0.6 * sin(1.2 * z21) + 0.5 * u4

Modality 1 (colour digits, 3 measurements of 14x14 RGB = 588 features each): a digit image
shifted vertically by 2.5 * z11 pixels, rotated by 15 * z11 degrees (:data:`ROTATION`) and
coloured with hue 0.25 + 0.22 * z12 (turns; red to cyan at full saturation). Each measurement
draws its own digit instance (the instance is the measurement's own noise) and adds Gaussian
pixel noise of standard deviation 0.03, 0.06, 0.09. (A vertical shift carries z11 besides the
rotation because a 14x14 MLP reads a rotation of an unknown digit poorly.)

Modality 2 (grey digits, 1 measurement of 14x14 = 196 features): another digit image - one
source image for the whole data set, drawn with the seed - scaled by 0.85 + 0.3 * z21 and shifted
horizontally by 2.5 * z22 pixels, pixel noise 0.05. (Modality 1's measurements differ in which
digit instance is drawn: with three measurements the instance is measurement noise that the
model can tell apart from the latents. Modality 2 has one measurement, and a fresh instance per
row would be a third, independent factor of variation in a two-latent modality, which no
measurement separates from (z21, z22): with it, every method we ran, ours included, kept only
R^2 0.87 of z21 and z22 while a supervised network reads them at 0.95-0.97 - the benchmark
then measured the instance's nuisance, not recovery.)

Every random draw comes from one ``numpy.random.Generator(seed)``; the same seed gives the same
arrays bit for bit.
"""

from __future__ import annotations

import gzip
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from causaltraits.errors import DataError

CANVAS = 14
LATENT_NAMES = ("z11", "z12", "z21", "z22")
TRUE_EDGES = (("z11", "z12"), ("z11", "z21"), ("z21", "z22"))
MEASUREMENT_NOISE = (0.03, 0.06, 0.09)
MODALITY2_NOISE = 0.05
#: degrees of rotation per unit of z11 (on top of the vertical shift)
ROTATION = 15.0


@dataclass
class VariantDigits:
    """A generated variant-digits data set.

    Attributes
    ----------
    X : ``X[m][k]`` measurement arrays (float32), modality 1 three (n x 588), modality 2 one (n x 196)
    latents : true latents (n x 4), columns in :data:`LATENT_NAMES`
    source : ``sklearn-digits`` or the MNIST path
    """

    X: list[list[np.ndarray]]
    latents: np.ndarray
    source: str

    @property
    def latent_names(self) -> tuple[str, ...]:
        return LATENT_NAMES

    def truth(self):
        """The true latent graph as a :class:`~causaltraits.discovery.graph.Graph`."""
        return true_graph()

    def rows(self, idx: np.ndarray) -> list[list[np.ndarray]]:
        return [[x[idx] for x in mod] for mod in self.X]


# ---------------------------------------------------------------------- source images
def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (optionally .gz): unsigned-byte arrays such as MNIST images or labels."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read()
    except OSError as e:
        raise DataError(f"{path}: cannot read IDX file ({e.strerror or e})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{path}: not an IDX file (bad magic number)")
    dtype_code, ndim = raw[2], raw[3]
    if dtype_code != 0x08:
        raise DataError(f"{path}: IDX type 0x{dtype_code:02x} unsupported; expected unsigned bytes (0x08)")
    if len(raw) < 4 + 4 * ndim:
        raise DataError(f"{path}: truncated IDX header")
    shape = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    size = int(np.prod(shape)) if shape else 0
    body = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != size:
        raise DataError(f"{path}: IDX header promises {size} values, file holds {body.size}")
    return body.reshape(shape)


def _find_mnist_images(path: Path) -> Path:
    if path.is_file():
        return path
    if path.is_dir():
        for pat in ("train-images-idx3-ubyte", "train-images-idx3-ubyte.gz", "train-images.idx3-ubyte",
                    "*images*idx3*"):
            hits = sorted(path.glob(pat))
            if hits:
                return hits[0]
    raise DataError(f"{path}: no MNIST image file (train-images-idx3-ubyte[.gz]) found")


def source_images(mnist: str | Path | None = None) -> tuple[np.ndarray, str]:
    """Grey source images on the 14x14 canvas (values in [0, 1]) and a description of the source."""
    if mnist is None:
        from sklearn.datasets import load_digits

        img = load_digits().images.astype(np.float64) / 16.0  # 8x8
        big = _resize(img, 10)
        canvas = np.zeros((img.shape[0], CANVAS, CANVAS))
        canvas[:, 2:12, 2:12] = big
        return canvas, "sklearn-digits"
    p = _find_mnist_images(Path(mnist))
    arr = read_idx(p)
    if arr.ndim != 3 or arr.shape[1] % 2 or arr.shape[2] % 2:
        raise DataError(f"{p}: expected images (count x 28 x 28), found shape {arr.shape}")
    h, w = arr.shape[1] // 2, arr.shape[2] // 2
    pooled = arr.reshape(arr.shape[0], h, 2, w, 2).astype(np.float64).mean(axis=(2, 4)) / 255.0
    if (h, w) != (CANVAS, CANVAS):
        pooled = _resize(pooled, CANVAS)
    return pooled, str(p)


def _resize(img: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of square images (n x h x h) to size x size."""
    h = img.shape[1]
    coords = (np.arange(size) + 0.5) * h / size - 0.5
    ys, xs = np.meshgrid(coords, coords, indexing="ij")
    return _bilinear(img, np.broadcast_to(ys, (img.shape[0], size, size)),
                     np.broadcast_to(xs, (img.shape[0], size, size)))


def _bilinear(img: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Sample ``img[r]`` at (ys[r], xs[r]) bilinearly, zero outside."""
    n, h, w = img.shape
    y0 = np.floor(ys).astype(np.int64)
    x0 = np.floor(xs).astype(np.int64)
    fy, fx = ys - y0, xs - x0
    out = np.zeros(ys.shape)
    rows = np.arange(n).reshape((n,) + (1,) * (ys.ndim - 1))
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            yy, xx = y0 + dy, x0 + dx
            ok = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
            vals = img[rows, np.clip(yy, 0, h - 1), np.clip(xx, 0, w - 1)]
            out += np.where(ok, vals, 0.0) * wy * wx
    return out


def _affine(img: np.ndarray, angle: np.ndarray, scale: np.ndarray, shift_x: np.ndarray,
            shift_y: np.ndarray | None = None) -> np.ndarray:
    """Rotate (radians), scale and shift each image about the canvas centre (inverse mapping)."""
    if shift_y is None:
        shift_y = np.zeros_like(shift_x)
    c = (CANVAS - 1) / 2.0
    g = np.arange(CANVAS, dtype=np.float64) - c
    ys, xs = np.meshgrid(g, g, indexing="ij")
    ca = np.cos(angle)[:, None, None]
    sa = np.sin(angle)[:, None, None]
    s = scale[:, None, None]
    xo = xs[None] - shift_x[:, None, None]
    yo = ys[None] - shift_y[:, None, None]
    # output pixel -> source pixel: undo shift, rotation, then scale
    src_x = (ca * xo + sa * yo) / s + c
    src_y = (-sa * xo + ca * yo) / s + c
    return _bilinear(img, src_y, src_x)


def _hue_rgb(hue: np.ndarray) -> np.ndarray:
    """RGB weights (n x 3) of a fully saturated colour with hue in turns."""
    k = (np.array([5.0, 3.0, 1.0])[None, :] + hue[:, None] * 6.0) % 6.0
    return 1.0 - np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)


# ---------------------------------------------------------------------- generator
# the mechanisms of the structural model in the module docstring (each effect = f(cause) + 0.5 u)
def f12(z11: np.ndarray) -> np.ndarray:
    return 0.6 * np.tanh(1.5 * z11)


def f21(z11: np.ndarray) -> np.ndarray:
    return 0.5 * z11 + 0.4 * (z11 ** 2 - 1.0 / 3.0)


def f22(z21: np.ndarray) -> np.ndarray:
    return 0.6 * np.sin(1.2 * z21)


def sample_latents(n: int, rng: np.random.Generator) -> np.ndarray:
    """True latents (n x 4) of the structural model in the module docstring."""
    u = rng.uniform(-1.0, 1.0, size=(n, 4))
    z11 = u[:, 0]
    z12 = f12(z11) + 0.5 * u[:, 1]
    z21 = f21(z11) + 0.5 * u[:, 2]
    z22 = f22(z21) + 0.5 * u[:, 3]
    return np.column_stack([z11, z12, z21, z22])


def true_graph():
    """The true latent graph (:data:`TRUE_EDGES`) as a :class:`~causaltraits.discovery.graph.Graph`."""
    from causaltraits.discovery.graph import Edge, Graph

    return Graph(list(LATENT_NAMES), [Edge(a, b, "-->") for a, b in TRUE_EDGES])


def make_variant_digits(n: int = 10_000, seed: int = 0, mnist: str | Path | None = None) -> VariantDigits:
    """Generate the variant-digits benchmark (see the module docstring).

    Parameters
    ----------
    n : rows
    seed : seed of the one random generator
    mnist : optional path to MNIST IDX image file (or a directory holding it)

    Examples
    --------
    >>> d = make_variant_digits(20, seed=1)
    >>> [x.shape for x in d.X[0]], d.X[1][0].shape, d.latents.shape
    ([(20, 588), (20, 588), (20, 588)], (20, 196), (20, 4))
    """
    if n < 1:
        raise DataError(f"variant digits: rows must be >= 1, got {n}")
    imgs, source = source_images(mnist)
    rng = np.random.default_rng(seed)
    z = sample_latents(n, rng)
    angle = np.deg2rad(ROTATION) * z[:, 0]
    rgb = _hue_rgb(0.25 + 0.22 * z[:, 1])
    mod1 = []
    for noise in MEASUREMENT_NOISE:
        inst = imgs[rng.integers(0, imgs.shape[0], size=n)]
        grey = _affine(inst, angle, np.ones(n), np.zeros(n), 2.5 * z[:, 0])
        col = grey[:, :, :, None] * rgb[:, None, None, :]  # n x 14 x 14 x 3
        col = col + rng.normal(0.0, noise, size=col.shape)
        mod1.append(col.reshape(n, -1).astype(np.float32))
    inst = np.broadcast_to(imgs[rng.integers(0, imgs.shape[0])], (n, CANVAS, CANVAS))
    grey = _affine(inst, np.zeros(n), 0.85 + 0.3 * z[:, 2], 2.5 * z[:, 3])
    grey = grey + rng.normal(0.0, MODALITY2_NOISE, size=grey.shape)
    mod2 = [grey.reshape(n, -1).astype(np.float32)]
    return VariantDigits(X=[mod1, mod2], latents=z, source=source)


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write an unsigned-byte IDX file (used by tests and to make small MNIST-format fixtures)."""
    a = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, a.ndim]) + struct.pack(">" + "I" * a.ndim, *a.shape)
    Path(path).write_bytes(header + a.tobytes())
