"""Colour quantisation of images with kmix's KMeans."""


def quantize(image, n_colors, *, random_state=42, sample_size=None):
    """The image with each pixel replaced by the centre of its k-means colour cluster."""
    raise NotImplementedError


def segmentation_grid(image, ks, *, random_state=42, sample_size=None, axes=None):
    """The image and its quantisations to each number of colours in ``ks``, side by side."""
    raise NotImplementedError
