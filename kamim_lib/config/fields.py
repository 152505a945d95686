"""Declaring configuration keys (:func:`param`); defined in :mod:`kamim_lib.plugins.options`, see there."""
from kamim_lib.plugins.options import param

__all__ = ["param"]
