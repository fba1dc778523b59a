"""Bayesian Gaussian mixtures: given 10 components, variational inference gives the
unneeded ones weights near zero and keeps the chapter's three; a low or a high weight
concentration prior on a few samples; and the moons, which no mixture of ellipses fits.

Figures: bayesian_weights, bayesian_mixture, concentration_prior, bayesian_moons. Run
``python 10_bayesian_mixtures.py [--output DIR] [--fast]``.
"""
import warnings

import numpy as np
from _shared import panels, parse_args, save
from sklearn.exceptions import ConvergenceWarning

import kmix
import kmix.plot as kplot
from kmix.datasets import chapter_mixture, moons


def main(argv=None):
    args = parse_args(__doc__, argv)
    X, _ = chapter_mixture()
    n_init = 1 if args.fast else 10
    resolution = 120 if args.fast else 400

    bgm = kmix.BayesianGaussianMixture(n_components=10, n_init=n_init, max_iter=500,
                                       random_state=42).fit(X)
    weights = np.round(bgm.weights_, 2)
    print("weights of the 10 components:", weights.tolist())
    print(f"components with weight > 0.01: {int(np.sum(bgm.weights_ > 0.01))}")

    figure, (ax,) = panels(1, size=(6, 3.5))
    ax.bar(np.arange(10), bgm.weights_)
    ax.set_xlabel("component")
    ax.set_ylabel("weight")
    ax.set_xticks(np.arange(10))
    save(figure, args, "bayesian_weights")
    figure, (ax,) = panels(1, size=(7, 5))
    kplot.mixture_density(bgm, X, ax=ax, resolution=resolution)
    ax.set_title("Bayesian Gaussian mixture, 10 components allowed")
    save(figure, args, "bayesian_mixture")

    # the prior on the weights matters when there are few samples
    few = X[np.random.RandomState(42).choice(len(X), 73, replace=False)]
    figure, axes = panels(2, size=(5.5, 4))
    for ax, prior in zip(axes, (0.01, 10_000)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = kmix.BayesianGaussianMixture(
                n_components=10, weight_concentration_prior=prior, max_iter=1000,
                n_init=n_init, random_state=42).fit(few)
        used = int(np.sum(model.weights_ > 0.01))
        kplot.decision_regions(model, few, ax=ax, resolution=resolution)
        ax.set_title(f"concentration prior {prior:g}: {used} components used")
        print(f"73 samples, weight_concentration_prior={prior}: {used} components used")
    save(figure, args, "concentration_prior")

    Xm, ym = moons(n_samples=500 if args.fast else 1000, noise=0.05, random_state=42)
    moons_model = kmix.BayesianGaussianMixture(n_components=10, n_init=n_init,
                                               max_iter=500, random_state=42).fit(Xm)
    print(f"moons: {int(np.sum(moons_model.weights_ > 0.01))} components used for two "
          "moons")
    figure, (ax,) = panels(1, size=(7, 4.5))
    kplot.mixture_density(moons_model, Xm, ax=ax, resolution=resolution)
    ax.set_title("the moons as a mixture of ellipses")
    save(figure, args, "bayesian_moons")


if __name__ == "__main__":
    main()
