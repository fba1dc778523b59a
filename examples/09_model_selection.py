"""Choosing the number of components of a Gaussian mixture: BIC and AIC for k = 1..10 and
every covariance type (``kmix.model_selection.scan_gmm``); both are lowest at the chapter's
three clusters. The second figure, full covariances only, is the chapter's.

Figures: bic_aic, bic_aic_full. Run ``python 09_model_selection.py [--output DIR]
[--fast]``.
"""
from _shared import panels, parse_args, save

import kmix.plot as kplot
from kmix.datasets import chapter_mixture
from kmix.model_selection import scan_gmm


def main(argv=None):
    args = parse_args(__doc__, argv)
    X, _ = chapter_mixture()
    ks = range(1, 7) if args.fast else range(1, 11)
    scan = scan_gmm(X, ks, n_init=1 if args.fast else 5, random_state=42)
    print(f"{'covariance':<10} {'k':>3} {'BIC':>10} {'AIC':>10}")
    for cov, k, bic, aic in zip(scan.covariance_type, scan.k, scan.bic, scan.aic):
        print(f"{cov:<10} {k:>3} {bic:10.1f} {aic:10.1f}")
    print(f"best by BIC: k={scan.best_k}, covariance_type={scan.best_covariance_type}")

    figure, (ax,) = panels(1, size=(8, 5))
    kplot.information_criteria(scan, ax=ax)
    ax.set_title("BIC (solid) and AIC (dashed) per k and covariance type")
    save(figure, args, "bic_aic")

    full = scan_gmm(X, ks, covariance_types="full", n_init=1 if args.fast else 5,
                    random_state=42)
    figure, (ax,) = panels(1, size=(7, 4))
    kplot.information_criteria(full, ax=ax)
    ax.set_title('covariance_type="full"')
    save(figure, args, "bic_aic_full")
    best_aic = int(full.k[full.aic.argmin()])
    print(f"full covariances: best k by BIC {full.best_k}, by AIC {best_aic}")


if __name__ == "__main__":
    main()
