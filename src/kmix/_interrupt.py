"""Interrupted fits: Ctrl-C leaves an estimator as it was before the fit.

The long compiled calls (k-means++ seeding, the Lloyd and EM runs) handle pending signals
between centres or iterations, so Ctrl-C raises KeyboardInterrupt from inside a fit; the
decorator below then puts back the attributes the fit had already replaced.
"""
import functools

__all__ = ["restores_on_interrupt"]


def restores_on_interrupt(fit):
    """Decorate a fit method so that a KeyboardInterrupt restores the estimator's attributes.

    An interrupted fit then leaves the estimator unfitted, or with its previous fit, rather
    than half-updated (for instance with the new ``n_features_in_`` but the old centres).
    The copy is shallow: fits replace fitted arrays, they never modify them in place.

    Parameters
    ----------
    fit : callable
        A method ``fit(self, ...)``.

    Returns
    -------
    callable
        The method, with the attributes of ``self`` restored on KeyboardInterrupt (which is
        raised again).
    """
    @functools.wraps(fit)
    def wrapper(self, *args, **kwargs):
        state = vars(self).copy()
        try:
            return fit(self, *args, **kwargs)
        except KeyboardInterrupt:
            vars(self).clear()
            vars(self).update(state)
            raise
    return wrapper
