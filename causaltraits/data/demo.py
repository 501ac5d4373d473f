"""Bundled demo tables with a known causal truth: ``athle-demo`` and ``celeb-demo``.

The demo tables are generated in memory (well under a second) from a structural causal model
(SCM) written out below, with every random draw derived from one seed. They have the layout of
the released PersonaX tables after mapping (see :mod:`causaltraits.data.dataset`), the true causal
graph over the analysis variables (``Dataset.truth``) and the true values of the latent variables
behind the embeddings (``Dataset.latents``). Same seed, same bytes.

>>> ds = load_demo("athle-demo")
>>> ds.n, ds.source
(4181, 'generated:seed=20250911')
>>> sorted(truth_graph("athle-demo").directed())[:2]
[('Agreeableness', 'Extraversion'), ('Birthyear', 'Conscientiousness')]

The frame's columns, in order: the categorical biography (``League``, or ``Occupation, Gender``),
``Birthyear, Birthmonth, Birthday, Latitude, Longitude, Weight, Height``, the ten face
attributes (celeb-demo), ``<llm>_<Trait>`` for chatgpt, gemini, llama, the five aggregated
traits, then the embeddings. Per-group constants (``by_mean``, ``lon_mix``, ``c_league``, ...)
are the tables in the code below.

Notation
--------
``U(k)`` is an independent, standardised (mean 0, sd 1), deliberately non-Gaussian noise term
(uniform, Laplace or centred gamma, fixed per variable); ``std(v)`` standardises ``v`` over the
generated rows; ``sigmoid`` is the logistic function; ``1{.}`` an indicator. Latent traits are
continuous; the analysis sees them only through three simulated raters.

athle-demo (4,181 male athletes)
--------------------------------
Biography (tier 0)::

    League      ~ Categorical(PGA .10, Bundesliga .12, PremierLeague .12, NBA .12, NFL .30,
                              NHL .16, ATP .08)
    Birthyear   = clip(round(by_mean[League] + by_sd[League] * U), 1968, 2004)  (golfers older)
    Birthmonth  ~ uniform 1..12;   Birthday ~ uniform 1..28          (no truth edges; see below)
    Longitude   = region centre + region sd * U, region ~ lon_mix[League]   (region is not
                  stored; it only moves the longitude)
    Latitude    = g(Longitude) + lat_shift[League] + 5 * U,
                  g(lon) = 40 + 10 sigmoid((lon + 30) / 8) - 14 sigmoid((lon - 50) / 15)
    Height      = height_mean[League] + height_sd[League] * U       (cm)
    Weight      = (bmi[League] + bmi_sd[League] * U) * (Height / 100)^2   (kg)

Latent traits (tier 1; ``by = (Birthyear - 1994) / 6``, ``h = (Height - 188) / 8``,
``la = (Latitude - 45) / 8``), each then standardised::

    Agreeableness*     = U                                        (no parents)
    Neuroticism*       = 0.40 by + U
    Openness*          = 0.45 by + 0.30 la + U
    Conscientiousness* = c_league[League] - 0.50 tanh(1.2 by) - 0.40 Neuroticism* + U
    Extraversion*      = e_league[League] + 0.25 h + 0.40 Agreeableness* + U

True graph (16 edges)::

    League -> Birthyear, Longitude, Latitude, Height, Weight, Conscientiousness, Extraversion
    Longitude -> Latitude;  Height -> Weight, Extraversion;  Latitude -> Openness
    Birthyear -> Openness, Conscientiousness, Neuroticism
    Neuroticism -> Conscientiousness;  Agreeableness -> Extraversion

celeb-demo (9,444 public figures)
---------------------------------
Biography (tier 0)::

    Gender      ~ Bernoulli(0.45) (1 = Male; codes Female, Male)
    Occupation  ~ Categorical(occ_probs[Gender])   (Actor, Musician, Model, Athlete, Presenter,
                                                    Politician, Director, Writer)
    Birthyear   = clip(round(by_mean[Occupation] + 11 * U), 1925, 2003)
    Birthmonth, Birthday as for athletes
    Longitude   = region centre + region sd * U, region ~ lon_mix (one mixture for everybody)
    Latitude    = g(Longitude) + 5 * U
    Height      = 166 + 13 Gender + h_occ[Occupation] + 7 U   (models and athletes taller)
    Weight      = (21.5 + 3 Gender + 2.5 U) * (Height / 100)^2

Latent traits (``by = (Birthyear - 1970) / 12``), each then standardised; face liabilities::

    Agreeableness*     = -0.55 Gender + U
    Neuroticism*       = -0.50 Gender + U
    Conscientiousness* = -0.45 tanh(1.2 by) + U
    Extraversion*      = e_occ[Occupation] + U
    Pointy_Nose        ~ B(sigmoid(-0.4 - 1.0 Gender))          (B(p): a Bernoulli draw)
    Openness*          = o_occ[Occupation] + 0.35 Extraversion* + 0.45 Pointy_Nose + U
    face_z0 (adiposity) = std(0.9 std(Weight) + U);           Double_Chin       ~ B(P(face_z0, 0, 0.55))
    face_z1 (hairline)  = std(1.4 Gender - 0.7 by + 1.5 U);     Receding_Hairline ~ B(P(face_z1, 0, 0.6))
    face_z2 (smile)     = std(-0.6 Gender + 0.55 Agreeableness* + U);
                                                              High_Cheekbones   ~ B(P(face_z2, 0.05, 0.9))
    face_z3 (brow arch) = std(-1.0 Gender + U);               Arched_Eyebrows   = 1{face_z3 > 0.5}
    (P(z, lo, hi) = lo + (hi - lo) (z - min z) / (max z - min z) maps the
    factor linearly onto [lo, hi] over the generated rows, so E[attribute | parents] is linear
    in the parents: a threshold would add a curvature that linear CI tests read as extra edges)
    Bushy_Eyebrows = Bernoulli(sigmoid(-2.2 + 1.5 Gender)),  Big_Nose = Bernoulli(sigmoid(-1.8 + 1.4 Gender))
    Big_Lips ~ B(sigmoid(-0.7 - 0.9 Gender)),  Oval_Face ~ B(sigmoid(-0.6 - 0.8 Gender)),
    Narrow_Eyes ~ B(P(-by, 0.02, 0.35))

True graph (26 edges)::

    Gender -> Occupation, Height, Weight, Agreeableness, Neuroticism, Pointy_Nose,
              Receding_Hairline, High_Cheekbones, Arched_Eyebrows, Bushy_Eyebrows, Big_Nose,
              Big_Lips, Oval_Face
    Occupation -> Birthyear, Height, Extraversion, Openness;  Height -> Weight
    Longitude -> Latitude;  Birthyear -> Conscientiousness, Receding_Hairline, Narrow_Eyes
    Weight -> Double_Chin
    Pointy_Nose -> Openness;  Extraversion -> Openness;  Agreeableness -> High_Cheekbones

Why the model looks like this (recoverability)
----------------------------------------------
The analysis sees each trait only through a coarse, noisy aggregate, so conditioning on it does
not block a path through the latent trait. The graphs avoid the paths that would turn into
extra adjacencies: a trait that causes another trait either has no biographical parent
(Agreeableness -> Extraversion, athletes) or shares its biographical parents with its child
(Birthyear -> Neuroticism -> Conscientiousness <- Birthyear; Occupation -> Extraversion ->
Openness <- Occupation); a continuous parent has at most one child that depends on it
nonlinearly; face attributes with continuous parents are linear in probability. Categorical
effects (league, occupation) are arbitrary: the ``mixed`` test reads them through dummies.
Birthday and Birthmonth are isolated. The celebrity graph has more edges than the athletes'
because its 24 variables give 250 non-adjacent pairs, each a chance at a false adjacency.

Raters, missing values and the aggregate (both demos)
-----------------------------------------------------
``visibility = std(gamma(3))`` is a person's public visibility (independent of everything in the
graph, so missingness is completely at random with respect to the analysis variables). Rater
``r`` in (chatgpt, gemini, llama) scores trait ``k`` as::

    s = loading[r] * T*_k + bias[r, k] + noise_sd[r] * N(0, 1)
    score = 1 if s < -0.55, 2 if s < 0.55, else 3
    score = 0 ("insufficient information") with probability
            sigmoid(logit(zero_rate[r, k]) - 0.6 visibility), and 0 becomes NaN

``zero_rate`` runs from 5% to 25% (Neuroticism highest, llama the most reticent); the aggregate
is the median of the non-missing rater scores (1, 1.5, 2, 2.5 or 3; NaN when all three are 0).
Height, Weight, Latitude and Longitude are missing completely at random at 10-30% (more for
less visible people; Latitude and Longitude together). Birthday is drawn from 1..28 so that the
calendar does not add a month -> day dependence too weak for any test to find.

Latents and embeddings
----------------------
``Dataset.latents`` holds, aligned with the rows:

- ``text_z0 .. text_z4``: the latent traits O, C, E, A, N (standardised, before rating);
  ``text_z5``: visibility; ``text_z6``: a description-style factor (std Laplace, no parents);
- ``face_z0 .. face_z3``: the face factors (celeb-demo: adiposity, hairline, smile, brow arch
  as above; athle-demo: adiposity ``std(0.8 std(Weight) + U)``, hairline ``std(-0.7 by + U)``,
  smile ``std(0.5 Extraversion* + U)``, jaw ``U``).

Each embedding is one measurement ``x = W2 leaky(W1 z + b1) + b2 + 0.05 * N(0, I)`` of its
modality's latent vector ``z`` (7 text latents, 4 face latents), 16 dimensions, with
``leaky(a) = max(a, 0.4 a)``, ``W1`` (16 x d) with orthonormal columns times 1.5, ``W2`` a random
16 x 16 orthogonal matrix, biases ``b1 ~ N(0, 0.3^2)``, ``b2 ~ N(0, 0.1^2)``: injective, with
every singular value of the Jacobian in [0.6, 1.5] (condition number <= 2.5), one mild kink
per hidden unit. The three text embeddings
(``text_chatgpt``, ``text_gemini``, ``text_llama``) share ``z`` and differ in (W1, b1, W2, b2)
and in their noise; ``face`` is one measurement. Columns are ``<modality>_emb_<i>``.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from causaltraits.data.dataset import TRAITS, Dataset, Roles, llm_trait_column
from causaltraits.errors import DataError

DEFAULT_SEED = 20250911
DEMOS = ("athle-demo", "celeb-demo")
LLMS = ("chatgpt", "gemini", "llama")
ROWS = {"athle-demo": 4181, "celeb-demo": 9444}
EMBEDDING_DIM = 16
LEAKY_SLOPE = 0.4
EMBEDDING_NOISE = 0.05

BIO_CONTINUOUS = ("Birthyear", "Birthmonth", "Birthday", "Latitude", "Longitude", "Weight", "Height")
FACE = (
    "Arched_Eyebrows", "Big_Nose", "Pointy_Nose", "Bushy_Eyebrows", "Big_Lips",
    "Oval_Face", "Double_Chin", "Receding_Hairline", "Narrow_Eyes", "High_Cheekbones",
)
LEAGUES = ("PGA", "Bundesliga", "PremierLeague", "NBA", "NFL", "NHL", "ATP")
OCCUPATIONS = ("Actor", "Musician", "Model", "Athlete", "Presenter", "Politician", "Director", "Writer")
GENDERS = ("Female", "Male")
TEXT_LATENTS = tuple(f"text_z{i}" for i in range(7))
FACE_LATENTS = tuple(f"face_z{i}" for i in range(4))
#: what each latent column means (also stored in ``Dataset.info["latents"]``)
LATENT_MEANING = {
    **{f"text_z{i}": f"latent {t} (standardised)" for i, t in enumerate(TRAITS)},
    "text_z5": "visibility (drives 'insufficient information' and missing biography)",
    "text_z6": "description style (no parents)",
}
FACE_MEANING = {
    "athle-demo": ("adiposity", "hairline", "smile", "jaw"),
    "celeb-demo": ("adiposity", "hairline", "smile", "brow arch"),
}

# ---------------------------------------------------------------------------- the true graphs
ATHLE_EDGES = (
    ("League", "Birthyear"), ("League", "Longitude"), ("League", "Latitude"),
    ("League", "Height"), ("League", "Weight"), ("Longitude", "Latitude"), ("Height", "Weight"),
    ("League", "Conscientiousness"), ("League", "Extraversion"), ("Height", "Extraversion"),
    ("Latitude", "Openness"), ("Birthyear", "Openness"), ("Birthyear", "Conscientiousness"),
    ("Birthyear", "Neuroticism"), ("Neuroticism", "Conscientiousness"),
    ("Agreeableness", "Extraversion"),
)
CELEB_EDGES = (
    ("Gender", "Occupation"), ("Gender", "Height"), ("Gender", "Weight"), ("Height", "Weight"),
    ("Occupation", "Birthyear"), ("Longitude", "Latitude"),
    ("Gender", "Agreeableness"), ("Gender", "Neuroticism"), ("Gender", "Pointy_Nose"),
    ("Gender", "Receding_Hairline"), ("Gender", "High_Cheekbones"), ("Gender", "Arched_Eyebrows"),
    ("Gender", "Bushy_Eyebrows"), ("Gender", "Big_Nose"),
    ("Occupation", "Extraversion"), ("Occupation", "Openness"),
    ("Birthyear", "Conscientiousness"), ("Birthyear", "Receding_Hairline"),
    ("Weight", "Double_Chin"), ("Pointy_Nose", "Openness"), ("Extraversion", "Openness"),
    ("Agreeableness", "High_Cheekbones"), ("Gender", "Big_Lips"), ("Gender", "Oval_Face"),
    ("Birthyear", "Narrow_Eyes"), ("Occupation", "Height"),
)

# ---------------------------------------------------------------------------- rater model
_LOADING = {"chatgpt": 1.0, "gemini": 0.95, "llama": 0.85}
_NOISE_SD = {"chatgpt": 0.45, "gemini": 0.50, "llama": 0.60}
#: bias[r] per trait O, C, E, A, N (chatgpt generous, llama harsh on Agreeableness)
_BIAS = {
    "chatgpt": (0.20, 0.15, 0.10, 0.25, -0.10),
    "gemini": (0.05, 0.05, 0.00, 0.05, 0.00),
    "llama": (-0.05, -0.10, 0.05, -0.20, 0.10),
}
#: probability of "insufficient information" (score 0) per trait O, C, E, A, N at mean visibility
_ZERO_RATE = {
    "chatgpt": (0.05, 0.06, 0.05, 0.08, 0.15),
    "gemini": (0.07, 0.08, 0.06, 0.10, 0.19),
    "llama": (0.09, 0.11, 0.08, 0.13, 0.22),
}
_CUTS = (-0.55, 0.55)

# longitude regions: (centre, sd)
_REGIONS = {
    "NAm": (-95.0, 12.0), "WEu": (5.0, 7.0), "EEu": (25.0, 8.0), "SAm": (-55.0, 8.0),
    "Afr": (10.0, 12.0), "Oce": (145.0, 8.0), "Asia": (115.0, 18.0),
}


def _rng(seed: int, part: str) -> np.random.Generator:
    """An independent generator per model part, so editing one part leaves the others' draws alone."""
    return np.random.default_rng([int(seed), zlib.crc32(part.encode("ascii"))])


def _noise(rng: np.random.Generator, n: int, kind: str) -> np.ndarray:
    """Standardised non-Gaussian noise: ``uniform``, ``laplace`` or ``gamma`` (right-skewed)."""
    if kind == "uniform":
        return rng.uniform(-np.sqrt(3.0), np.sqrt(3.0), n)
    if kind == "laplace":
        return rng.laplace(0.0, 1.0 / np.sqrt(2.0), n)
    if kind == "gamma":
        return (rng.gamma(3.0, 1.0, n) - 3.0) / np.sqrt(3.0)
    raise ValueError(f"unknown noise kind {kind!r}")


def _std(v: np.ndarray) -> np.ndarray:
    return (v - v.mean()) / v.std()


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-a))


def _affine_prob(z: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``z`` mapped linearly onto [lo, hi] over the generated rows (exactly linear, no clipping)."""
    return lo + (hi - lo) * (z - z.min()) / (z.max() - z.min())


def _logit(p: float) -> float:
    return float(np.log(p / (1.0 - p)))


def _categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One categorical draw per row of ``probs`` (rows sum to 1)."""
    cum = np.cumsum(probs, axis=1)
    u = rng.uniform(size=(probs.shape[0], 1))
    return np.minimum((u > cum).sum(axis=1), probs.shape[1] - 1)


def _longitude(rng: np.random.Generator, mix: np.ndarray, names: list[str]) -> np.ndarray:
    """Longitude from a per-row mixture over regions (``mix``: n x regions)."""
    region = _categorical(rng, mix)
    centre = np.array([_REGIONS[r][0] for r in names])[region]
    sd = np.array([_REGIONS[r][1] for r in names])[region]
    lon = centre + sd * _noise(rng, len(region), "uniform")
    return np.clip(lon, -179.0, 179.0)


def _lat_of_lon(lon: np.ndarray) -> np.ndarray:
    """Typical birth latitude at a longitude (Americas ~40, Europe ~50, Asia ~36)."""
    return 40.0 + 10.0 * _sigmoid((lon + 30.0) / 8.0) - 14.0 * _sigmoid((lon - 50.0) / 15.0)


def _leaky(a: np.ndarray) -> np.ndarray:
    return np.where(a > 0, a, LEAKY_SLOPE * a)


def _embed(rng: np.random.Generator, z: np.ndarray, dim: int = EMBEDDING_DIM) -> np.ndarray:
    """One measurement of latents ``z`` (n x d): a 2-layer leaky-ReLU MLP plus small noise."""
    d = z.shape[1]
    q1, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    w1 = 1.5 * q1[:, :d]
    b1 = rng.normal(0.0, 0.3, dim)
    w2, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    b2 = rng.normal(0.0, 0.1, dim)
    hidden = _leaky(z @ w1.T + b1)
    return hidden @ w2.T + b2 + EMBEDDING_NOISE * rng.normal(size=(z.shape[0], dim))


def _rate(rng: np.random.Generator, latent: np.ndarray, visibility: np.ndarray) -> dict[str, np.ndarray]:
    """Three raters' 1..3 scores (NaN for 'insufficient information') of the n x 5 latent traits."""
    n = latent.shape[0]
    out = {}
    for llm in LLMS:
        scores = np.empty((n, len(TRAITS)))
        for k in range(len(TRAITS)):
            s = _LOADING[llm] * latent[:, k] + _BIAS[llm][k] + _NOISE_SD[llm] * rng.normal(size=n)
            score = 1.0 + (s >= _CUTS[0]) + (s >= _CUTS[1])
            p0 = _sigmoid(_logit(_ZERO_RATE[llm][k]) - 0.6 * visibility)
            score[rng.uniform(size=n) < p0] = np.nan
            scores[:, k] = score
        out[llm] = scores
    return out


def aggregate_scores(scores: list[np.ndarray]) -> np.ndarray:
    """Median of the non-missing scores of each cell (NaN where every rater abstained)."""
    stack = np.sort(np.stack(scores, axis=-1), axis=-1)  # NaN sorts last
    k = (~np.isnan(stack)).sum(axis=-1)
    out = np.full(stack.shape[:-1], np.nan)
    for m in range(1, stack.shape[-1] + 1):
        sel = k == m
        lo, hi = stack[..., (m - 1) // 2], stack[..., m // 2]
        out[sel] = 0.5 * (lo[sel] + hi[sel])
    return out


def _birthdays(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    month = rng.integers(1, 13, n).astype(np.float64)
    day = rng.integers(1, 29, n).astype(np.float64)
    return month, day


def _mask(rng: np.random.Generator, visibility: np.ndarray, rate: float) -> np.ndarray:
    """Rows to blank (MCAR w.r.t. the graph; more often for less visible people)."""
    p = _sigmoid(_logit(rate) - 0.5 * visibility)
    return rng.uniform(size=len(visibility)) < p


# ---------------------------------------------------------------------------- athletes
def _athle(seed: int) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    n = ROWS["athle-demo"]
    r = _rng(seed, "athle:bio")
    league = _categorical(r, np.tile([0.10, 0.12, 0.12, 0.12, 0.30, 0.16, 0.08], (n, 1)))
    by_mean = np.array([1986.0, 1997.0, 1996.0, 1996.0, 1997.0, 1996.0, 1996.0])
    by_sd = np.array([6.0, 4.0, 4.0, 4.0, 3.5, 4.0, 4.5])
    birthyear = np.clip(np.round(by_mean[league] + by_sd[league] * _noise(r, n, "laplace")), 1968.0, 2004.0)
    month, day = _birthdays(r, n)
    regions = list(_REGIONS)
    lon_mix = np.array([  # NAm WEu EEu SAm Afr Oce Asia
        [0.65, 0.12, 0.00, 0.03, 0.04, 0.08, 0.08],  # PGA
        [0.03, 0.70, 0.15, 0.05, 0.07, 0.00, 0.00],  # Bundesliga
        [0.05, 0.65, 0.08, 0.10, 0.12, 0.00, 0.00],  # PremierLeague
        [0.80, 0.08, 0.06, 0.00, 0.04, 0.02, 0.00],  # NBA
        [0.99, 0.00, 0.00, 0.00, 0.00, 0.01, 0.00],  # NFL
        [0.75, 0.10, 0.15, 0.00, 0.00, 0.00, 0.00],  # NHL
        [0.12, 0.40, 0.25, 0.12, 0.00, 0.06, 0.05],  # ATP
    ])
    longitude = _longitude(r, lon_mix[league], regions)
    lat_shift = np.array([-3.0, 0.0, 2.0, -2.0, -4.0, 6.0, -2.0])
    latitude = _lat_of_lon(longitude) + lat_shift[league] + 5.0 * _noise(r, n, "uniform")
    h_mean = np.array([182.0, 183.0, 182.0, 200.0, 188.0, 185.0, 186.0])
    h_sd = np.array([6.0, 6.0, 6.0, 8.0, 6.5, 5.0, 6.0])
    height = np.round(h_mean[league] + h_sd[league] * _noise(r, n, "uniform"))
    bmi = np.array([25.0, 23.0, 23.0, 25.0, 30.0, 26.0, 23.0])
    bmi_sd = np.array([1.8, 1.2, 1.2, 1.5, 3.5, 1.3, 1.2])
    weight = np.round((bmi[league] + bmi_sd[league] * _noise(r, n, "gamma")) * (height / 100.0) ** 2)

    t = _rng(seed, "athle:traits")
    by = (birthyear - 1994.0) / 6.0
    h = (height - 188.0) / 8.0
    la = (latitude - 45.0) / 8.0
    c_league = np.array([0.45, 0.0, 0.0, -0.2, 0.0, 0.1, 0.45])
    e_league = np.array([-0.45, 0.0, 0.1, 0.45, 0.3, -0.1, -0.2])
    agree = _std(_noise(t, n, "uniform"))
    neuro = _std(0.40 * by + _noise(t, n, "uniform"))
    openn = _std(0.45 * by + 0.30 * la + _noise(t, n, "uniform"))
    consc = _std(c_league[league] - 0.50 * np.tanh(1.2 * by) - 0.40 * neuro + _noise(t, n, "uniform"))
    extra = _std(e_league[league] + 0.25 * h + 0.40 * agree + _noise(t, n, "uniform"))
    latent = np.column_stack([openn, consc, extra, agree, neuro])

    f = _rng(seed, "athle:face")
    face_z = np.column_stack([
        _std(0.8 * _std(weight) + _noise(f, n, "uniform")),
        _std(-0.7 * by + _noise(f, n, "gamma")),
        _std(0.5 * extra + _noise(f, n, "uniform")),
        _std(_noise(f, n, "laplace")),
    ])

    m = _rng(seed, "athle:missing")
    visibility = _std(m.gamma(3.0, 1.0, n))
    lost_place = _mask(m, visibility, 0.18)
    latitude[lost_place] = np.nan
    longitude[lost_place] = np.nan
    lost_height = _mask(m, visibility, 0.10)
    height[lost_height] = np.nan
    weight[lost_height | _mask(m, visibility, 0.03)] = np.nan

    cols = {
        "League": league.astype(np.float64), "Birthyear": birthyear, "Birthmonth": month,
        "Birthday": day, "Latitude": np.round(latitude, 4), "Longitude": np.round(longitude, 4),
        "Weight": weight, "Height": height,
    }
    return cols, latent, face_z, {"visibility": visibility}


# ---------------------------------------------------------------------------- celebrities
def _celeb(seed: int) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    n = ROWS["celeb-demo"]
    r = _rng(seed, "celeb:bio")
    gender = (r.uniform(size=n) < 0.45).astype(np.int64)
    occ_probs = np.array([  # Actor Musician Model Athlete Presenter Politician Director Writer
        [0.52, 0.16, 0.13, 0.04, 0.08, 0.02, 0.02, 0.03],  # Female
        [0.40, 0.16, 0.02, 0.15, 0.08, 0.08, 0.06, 0.05],  # Male
    ])
    occupation = _categorical(r, occ_probs[gender])
    by_mean = np.array([1972.0, 1970.0, 1982.0, 1978.0, 1968.0, 1955.0, 1960.0, 1958.0])
    birthyear = np.clip(np.round(by_mean[occupation] + 11.0 * _noise(r, n, "laplace")), 1925.0, 2003.0)
    month, day = _birthdays(r, n)
    regions = list(_REGIONS)
    mix = np.array([0.55, 0.22, 0.05, 0.04, 0.03, 0.03, 0.08])
    longitude = _longitude(r, np.tile(mix, (n, 1)), regions)
    latitude = _lat_of_lon(longitude) + 5.0 * _noise(r, n, "uniform")
    h_occ = np.array([0.0, 0.0, 6.0, 5.0, 0.0, -1.0, 0.0, -1.0])
    height = np.round(166.0 + 13.0 * gender + h_occ[occupation] + 7.0 * _noise(r, n, "uniform"))
    weight = np.round((21.5 + 3.0 * gender + 2.5 * _noise(r, n, "gamma")) * (height / 100.0) ** 2)

    t = _rng(seed, "celeb:traits")
    by = (birthyear - 1970.0) / 12.0
    e_occ = np.array([0.2, 0.35, 0.1, 0.3, 0.7, 0.3, -0.2, -0.6])
    o_occ = np.array([0.2, 0.5, -0.2, -0.5, -0.2, -0.4, 0.6, 0.8])
    pointy = (t.uniform(size=n) < _sigmoid(-0.4 - 1.0 * gender)).astype(np.float64)
    agree = _std(-0.55 * gender + _noise(t, n, "uniform"))
    neuro = _std(-0.50 * gender + _noise(t, n, "uniform"))
    consc = _std(-0.45 * np.tanh(1.2 * by) + _noise(t, n, "uniform"))
    extra = _std(e_occ[occupation] + _noise(t, n, "uniform"))
    openn = _std(o_occ[occupation] + 0.35 * extra + 0.45 * pointy + _noise(t, n, "uniform"))
    latent = np.column_stack([openn, consc, extra, agree, neuro])

    f = _rng(seed, "celeb:face")
    face_z = np.column_stack([
        _std(0.9 * _std(weight) + _noise(f, n, "uniform")),
        _std(1.4 * gender - 0.7 * by + 1.5 * _noise(f, n, "gamma")),
        _std(-0.6 * gender + 0.55 * agree + _noise(f, n, "uniform")),
        _std(-1.0 * gender + _noise(f, n, "laplace")),
    ])
    # A face attribute with continuous parents is present with a probability linear in its
    # factor, so E[attribute | parents] is linear in the parents: a threshold (or a clipped
    # probability) would add a curvature that linear CI tests read as extra edges. Arched
    # eyebrows depend on gender only, where any function is linear.
    face = {
        "Arched_Eyebrows": face_z[:, 3] > 0.5,
        "Big_Nose": f.uniform(size=n) < _sigmoid(-1.8 + 1.4 * gender),
        "Pointy_Nose": pointy > 0,
        "Bushy_Eyebrows": f.uniform(size=n) < _sigmoid(-2.2 + 1.5 * gender),
        "Big_Lips": f.uniform(size=n) < _sigmoid(-0.7 - 0.9 * gender),
        "Oval_Face": f.uniform(size=n) < _sigmoid(-0.6 - 0.8 * gender),
        "Double_Chin": f.uniform(size=n) < _affine_prob(face_z[:, 0], 0.0, 0.55),
        "Receding_Hairline": f.uniform(size=n) < _affine_prob(face_z[:, 1], 0.0, 0.6),
        "Narrow_Eyes": f.uniform(size=n) < _affine_prob(-by, 0.02, 0.35),
        "High_Cheekbones": f.uniform(size=n) < _affine_prob(face_z[:, 2], 0.05, 0.9),
    }

    m = _rng(seed, "celeb:missing")
    visibility = _std(m.gamma(3.0, 1.0, n))
    lost_place = _mask(m, visibility, 0.15)
    latitude[lost_place] = np.nan
    longitude[lost_place] = np.nan
    lost_height = _mask(m, visibility, 0.22)
    height[lost_height] = np.nan
    weight[lost_height | _mask(m, visibility, 0.08)] = np.nan

    cols = {
        "Occupation": occupation.astype(np.float64), "Gender": gender.astype(np.float64),
        "Birthyear": birthyear, "Birthmonth": month, "Birthday": day,
        "Latitude": np.round(latitude, 4), "Longitude": np.round(longitude, 4),
        "Weight": weight, "Height": height,
        **{k: face[k].astype(np.float64) for k in FACE},
    }
    return cols, latent, face_z, {"visibility": visibility}


_GENERATORS: dict[str, Callable[[int], tuple]] = {"athle-demo": _athle, "celeb-demo": _celeb}


# ---------------------------------------------------------------------------- public API
def _check_name(name: str) -> str:
    key = str(name).strip().lower()
    if key not in DEMOS:
        raise DataError(f"unknown demo dataset '{name}': expected one of {', '.join(DEMOS)}")
    return key


def _roles(name: str) -> Roles:
    cat = ["League"] if name == "athle-demo" else ["Occupation", "Gender"]
    return Roles(
        traits=list(TRAITS),
        llm_traits={llm: [llm_trait_column(llm, t) for t in TRAITS] for llm in LLMS},
        bio_continuous=list(BIO_CONTINUOUS),
        bio_categorical=cat,
        face=list(FACE) if name == "celeb-demo" else [],
        embeddings={
            "face": [f"face_emb_{i}" for i in range(EMBEDDING_DIM)],
            **{f"text_{llm}": [f"text_{llm}_emb_{i}" for i in range(EMBEDDING_DIM)] for llm in LLMS},
        },
    )


def truth_graph(name: str):
    """The true causal graph of a demo over its analysis variables (``-->`` edges only).

    Parameters
    ----------
    name : ``athle-demo`` or ``celeb-demo``

    Returns
    -------
    Graph whose nodes are ``Dataset.analysis_variables()`` of the demo.
    """
    from causaltraits.discovery.graph import Edge, Graph

    key = _check_name(name)
    roles = _roles(key)
    nodes = [*roles.bio_continuous, *roles.bio_categorical, *roles.face, *roles.traits]
    edges = ATHLE_EDGES if key == "athle-demo" else CELEB_EDGES
    return Graph(nodes, [Edge(a, b, "-->") for a, b in edges])


def write_truth(name: str, path: str | Path) -> Path:
    """Write the demo's true graph as ``graph.json`` (atomically) and return the path."""
    from causaltraits.runs import atomic_write

    path = Path(path)
    with atomic_write(path) as fh:
        fh.write(truth_graph(name).to_json())
    return path


def generate_demo(name: str, seed: int = DEFAULT_SEED) -> Dataset:
    """Generate a demo table from its structural causal model (see the module docstring).

    Parameters
    ----------
    name : ``athle-demo`` or ``celeb-demo``
    seed : every random draw derives from it; the same seed gives byte-identical tables

    Returns
    -------
    Dataset with ``truth`` (true graph over the analysis variables) and ``latents``
    (``text_z0..6``, ``face_z0..3``, aligned with the rows).

    Examples
    --------
    >>> ds = generate_demo("celeb-demo", seed=1)
    >>> ds.n, ds.latents.shape
    (9444, (9444, 11))
    """
    key = _check_name(name)
    seed = int(seed)
    cols, latent, face_z, extra = _GENERATORS[key](seed)
    n = latent.shape[0]
    rated = _rate(_rng(seed, f"{key}:raters"), latent, extra["visibility"])
    for llm in LLMS:
        for k, trait in enumerate(TRAITS):
            cols[llm_trait_column(llm, trait)] = rated[llm][:, k]
    agg = aggregate_scores([rated[llm] for llm in LLMS])
    for k, trait in enumerate(TRAITS):
        cols[trait] = agg[:, k]

    s = _rng(seed, f"{key}:style")
    text_z = np.column_stack([latent, extra["visibility"], _std(_noise(s, n, "laplace"))])
    e = _rng(seed, f"{key}:embeddings")
    face_emb = _embed(e, face_z)
    for i in range(EMBEDDING_DIM):
        cols[f"face_emb_{i}"] = face_emb[:, i]
    for llm in LLMS:
        emb = _embed(e, text_z)
        for i in range(EMBEDDING_DIM):
            cols[f"text_{llm}_emb_{i}"] = emb[:, i]

    frame = pd.DataFrame({c: np.asarray(v, dtype=np.float64) for c, v in cols.items()})
    latents = pd.DataFrame(
        np.column_stack([text_z, face_z]), columns=[*TEXT_LATENTS, *FACE_LATENTS]
    )
    prefix = "A" if key == "athle-demo" else "C"
    codes = {"League": list(LEAGUES)} if key == "athle-demo" else {
        "Occupation": list(OCCUPATIONS), "Gender": list(GENDERS)}
    meaning = {**LATENT_MEANING, **{f"face_z{i}": m for i, m in enumerate(FACE_MEANING[key])}}
    return Dataset(
        name=key,
        frame=frame,
        roles=_roles(key),
        llms=list(LLMS),
        codes=codes,
        source=f"generated:seed={seed}",
        ids=pd.Series([f"{prefix}{i:05d}" for i in range(n)], name="ID"),
        truth=truth_graph(key),
        latents=latents,
        info={"latents": meaning, "generator": "causaltraits.data.demo"},
    )


def load_demo(name: str) -> Dataset:
    """The bundled demo ``athle-demo`` (4,181 rows) or ``celeb-demo`` (9,444 rows), default seed."""
    return generate_demo(name, seed=DEFAULT_SEED)


__all__ = [
    "DEFAULT_SEED", "DEMOS", "LLMS", "aggregate_scores", "generate_demo", "load_demo",
    "truth_graph", "write_truth",
]
