"""The contract between _MixtureBase and its subclasses: every hook it calls is declared."""
import ast
import inspect

import numpy as np
import pytest

from kmix import BayesianGaussianMixture, GaussianMixture
from kmix._mixture import _MixtureBase

HOOKS = ("_check_params", "_check_init_params", "_initialize_parameters",
         "_estimate_log_weights", "_m_step", "_lower_bound", "_get_parameters",
         "_set_parameters")


def _methods_called_on_self(cls):
    tree = ast.parse(inspect.getsource(cls))
    return {node.func.attr for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "self"}


def test_every_method_the_base_calls_is_declared_on_it():
    called = _methods_called_on_self(_MixtureBase)
    assert set(HOOKS) <= called
    missing = sorted(name for name in called if not hasattr(_MixtureBase, name))
    assert missing == []


@pytest.mark.parametrize("hook", HOOKS)
def test_hooks_are_abstract_in_the_base_and_defined_by_both_mixtures(hook):
    base = getattr(_MixtureBase, hook)
    assert base.__doc__
    with pytest.raises(NotImplementedError, match=hook):
        n_args = len(inspect.signature(base).parameters) - 1
        base(_MixtureBase(), *([None] * n_args))
    for cls in (GaussianMixture, BayesianGaussianMixture):
        assert getattr(cls, hook) is not base, (cls.__name__, hook)


def test_a_subclass_missing_a_hook_fails_naming_it():
    class Incomplete(_MixtureBase):
        def __init__(self, n_components=1, n_threads=None):
            self.n_components = n_components
            self.n_threads = n_threads

    X = np.random.RandomState(0).normal(size=(20, 2))
    with pytest.raises(NotImplementedError, match="Incomplete must define _check_params"):
        Incomplete().fit(X)
