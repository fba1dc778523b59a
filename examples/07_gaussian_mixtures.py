"""Gaussian mixtures: the chapter's three elongated clusters fitted by EM, the mixture's
parameters, its density and decision boundaries, new samples drawn from it, and the four
covariance constraints (full, tied, spherical, diag) side by side.

Figures: gaussian_mixture, covariance_types. Run ``python 07_gaussian_mixtures.py
[--output DIR] [--fast]``.
"""
import numpy as np
from _shared import panels, parse_args, save

import kmix
import kmix.plot as kplot
from kmix.datasets import chapter_mixture


def main(argv=None):
    args = parse_args(__doc__, argv)
    X, _ = chapter_mixture()
    n_init = 3 if args.fast else 10
    resolution = 120 if args.fast else 400

    gm = kmix.GaussianMixture(n_components=3, n_init=n_init, random_state=42).fit(X)
    order = np.argsort(gm.weights_)
    print(f"converged: {gm.converged_} after {gm.n_iter_} iterations")
    print("weights  :", np.round(gm.weights_[order], 3).tolist())
    print("means    :", np.round(gm.means_[order], 2).tolist())
    print(f"mean log-likelihood: {gm.score(X):.4f}")
    X_new, y_new = gm.sample(6)
    print("6 samples drawn from the mixture, by component:", np.bincount(y_new).tolist())
    print("their densities (log):", np.round(gm.score_samples(X_new), 2).tolist())

    figure, (ax,) = panels(1, size=(7, 5))
    kplot.mixture_density(gm, X, ax=ax, resolution=resolution)
    ax.set_title("Gaussian mixture, 3 components")
    save(figure, args, "gaussian_mixture")

    figure, axes = panels(2, 2, size=(5.5, 4.2))
    for ax, covariance_type in zip(axes, ("full", "tied", "spherical", "diag")):
        model = kmix.GaussianMixture(3, covariance_type=covariance_type, n_init=n_init,
                                     random_state=42).fit(X)
        kplot.mixture_density(model, X, ax=ax, resolution=resolution)
        ax.set_title(f'covariance_type="{covariance_type}": BIC {model.bic(X):.0f}')
        print(f"{covariance_type:<9}: BIC {model.bic(X):9.1f}")
    figure.tight_layout()
    save(figure, args, "covariance_types")


if __name__ == "__main__":
    main()
