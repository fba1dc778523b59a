"""Colour quantisation of images with kmix's KMeans (the chapter's image segmentation)."""
import math
import numbers

import numpy as np

from .._kmeans import KMeans
from .._validation import check_int, check_random_state
from ._common import axes_or_new

__all__ = ["quantize", "segmentation_grid"]


def _check_image(image):
    """The image as an array of shape (height, width) or (height, width, channels)."""
    image = np.asarray(image)
    if image.ndim not in (2, 3) or (image.ndim == 3 and not 1 <= image.shape[2] <= 4):
        raise ValueError("image must have shape (height, width) or (height, width, channels) "
                         f"with 1 to 4 channels, got shape {image.shape}.")
    if image.size == 0:
        raise ValueError(f"image is empty (shape {image.shape}).")
    if image.dtype == bool or not np.issubdtype(image.dtype, np.number) \
            or np.iscomplexobj(image):
        raise TypeError(f"image must hold real numbers, got dtype {image.dtype}.")
    if np.issubdtype(image.dtype, np.floating) and not np.all(np.isfinite(image)):
        raise ValueError("image contains NaN or infinite values.")
    return image


def _as_dtype(values, dtype):
    """Colours computed in float64 back in the image's dtype (integers rounded and clipped)."""
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        values = np.clip(np.rint(values), info.min, info.max)
    return values.astype(dtype)


def quantize(image, n_colors, *, random_state=42, sample_size=None):
    """The image with each pixel replaced by the centre of its k-means colour cluster.

    :class:`kmix.KMeans` clusters the pixels' colours (each pixel one sample, each channel one
    feature); every pixel then takes the colour of its cluster's centre, in the image's dtype
    (integer images rounded). The input is never modified.

    Parameters
    ----------
    image : array-like of shape (height, width) or (height, width, channels)
        Grey levels or 1 to 4 channels (RGB, RGBA, ...), integer or float.
    n_colors : int
        Number of colours of the result (1 <= n_colors <= number of pixels). An image with
        fewer distinct colours gives fewer (KMeans warns).
    random_state : int, RandomState or None, default=42
        Seeds KMeans (and the pixel sample): with sample_size=None the colours are those of
        ``KMeans(n_colors, n_init=1, random_state=random_state)`` fitted on the pixels.
    sample_size : int, default=None
        Fit KMeans on this many pixels drawn at random (faster on large photos), then assign
        every pixel; None fits on all of them.

    Returns
    -------
    quantized : ndarray of the image's shape and dtype
    """
    image = _check_image(image)
    pixels = image.reshape(image.shape[0] * image.shape[1], -1).astype(np.float64)
    n_colors = check_int("n_colors", n_colors, low=1, high=pixels.shape[0])
    sample_size = check_int("sample_size", sample_size, low=n_colors, allow_none=True)
    fit_pixels = pixels
    if sample_size is not None and sample_size < pixels.shape[0]:
        generator = check_random_state(random_state)
        fit_pixels = pixels[generator.choice(pixels.shape[0], sample_size, replace=False)]
    kmeans = KMeans(n_clusters=n_colors, n_init=1, random_state=random_state).fit(fit_pixels)
    labels = kmeans.labels_ if fit_pixels is pixels else kmeans.predict(pixels)
    colours = _as_dtype(kmeans.cluster_centers_, image.dtype)
    return colours[labels].reshape(image.shape)


def _grid_axes(n_panels):
    import matplotlib.pyplot as plt

    n_columns = n_panels if n_panels <= 3 else math.ceil(math.sqrt(n_panels))
    n_rows = -(-n_panels // n_columns)
    figure, axes = plt.subplots(n_rows, n_columns, figsize=(4 * n_columns, 3.2 * n_rows),
                                squeeze=False)
    axes = axes.ravel()
    for extra in axes[n_panels:]:
        extra.set_axis_off()
    return axes[:n_panels]


def _show(ax, image, title):
    ax.imshow(image, cmap="gray" if image.ndim == 2 else None)
    ax.set_title(title)
    ax.set_axis_off()


def segmentation_grid(image, ks, *, random_state=42, sample_size=None, axes=None):
    """The image and its quantisations to each number of colours in ``ks``, side by side.

    Parameters
    ----------
    image : array-like of shape (height, width) or (height, width, channels)
        As in :func:`quantize`; shown with ``imshow`` (integers 0..255 or floats in [0, 1]).
    ks : sequence of int
        Numbers of colours, one panel each.
    random_state, sample_size
        As in :func:`quantize`.
    axes : sequence of matplotlib Axes, default=None
        At least ``len(ks) + 1`` Axes to draw into (the original first); a new figure (one
        row of up to three panels, else a near-square grid) when None.

    Returns
    -------
    axes : ndarray of matplotlib Axes
        The ``len(ks) + 1`` panels: the original ('original') then one image per k
        (title '<k> colours').
    """
    image = _check_image(image)
    ks = [ks] if isinstance(ks, numbers.Integral) else list(ks)
    if not ks:
        raise ValueError("ks must contain at least one number of colours.")
    ks = [check_int("every k of ks", k, low=1) for k in ks]
    if axes is None:
        axes = _grid_axes(len(ks) + 1)
    else:
        axes = np.asarray(axes, dtype=object).ravel()
        if axes.size < len(ks) + 1:
            raise ValueError(f"axes must hold at least len(ks) + 1 = {len(ks) + 1} Axes, got "
                             f"{axes.size}.")
        axes = np.array([axes_or_new(ax) for ax in axes[:len(ks) + 1]], dtype=object)
    _show(axes[0], image, "original")
    for ax, k in zip(axes[1:], ks):
        _show(ax, quantize(image, k, random_state=random_state, sample_size=sample_size),
              f"{k} colours")
    return axes
