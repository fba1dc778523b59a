"""Image segmentation by colour: k-means on the pixels of a photo, each pixel replaced by
the centre of its colour cluster, for 10, 8, 6, 4 and 2 colours.

The chapter uses a photo of a ladybug; this uses the photo scikit-learn ships
(``load_sample_image('china.jpg')``, needs pillow), so nothing is downloaded.
Figures: segmentation, quantized_8_colours. Run ``python 02_image_segmentation.py
[--output DIR] [--fast]``.
"""
import numpy as np
from _shared import panels, parse_args, save
from sklearn.datasets import load_sample_image

import kmix.plot as kplot


def main(argv=None):
    args = parse_args(__doc__, argv)
    image = load_sample_image("china.jpg")
    if args.fast:
        image = image[::4, ::4]
    print(f"image    : {image.shape[0]} x {image.shape[1]} pixels, "
          f"{np.unique(image.reshape(-1, 3), axis=0).shape[0]} colours")
    ks = [10, 8, 6, 4, 2]
    axes = kplot.segmentation_grid(image, ks, random_state=42)
    for ax in axes[1:]:
        colours = np.unique(np.asarray(ax.images[0].get_array()).reshape(-1, 3), axis=0)
        print(f"{ax.get_title():<10}: {colours.shape[0]} distinct colours in the image")
    save(axes[0].figure, args, "segmentation")

    quantized = kplot.quantize(image, 8, random_state=42)
    figure, (ax,) = panels(1, size=(8, 6))
    ax.imshow(quantized, interpolation="nearest")
    ax.set_axis_off()
    save(figure, args, "quantized_8_colours")
    error = np.sqrt(np.mean((quantized.astype(float) - image) ** 2))
    print(f"8 colours: root-mean-square error {error:.1f} (of 255)")


if __name__ == "__main__":
    main()
