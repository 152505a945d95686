"""Pretraining methods as plug-ins: SimMIM, KAMIM, and whatever else registers itself here.

>>> from kamim_lib.methods import list_methods, get_method
>>> list_methods()                       # ('simmim', 'kamim', ...)
>>> get_method("kamim").Options()         # KAMIM's own configuration keys and their defaults

Adding a method: a file ``kamim_lib/methods/<name>.py`` with a :class:`Method` subclass decorated by
:func:`register_method` (its ``Options`` fields become configuration keys), listed in the registry's built-in
modules, plus its test. The engine, the configuration and the run ids need no change.
"""
from kamim_lib.methods.base import Method
from kamim_lib.methods.registry import METHODS, list_methods, register_method
from kamim_lib.plugins.registry import options_of


def get_method(name: str) -> type[Method]:
    """The method class registered as ``name`` (ValueError naming the known ones otherwise)."""
    return METHODS.get(name)


def build_method(config, *, patch_size: int) -> Method:
    """The method object that ``config.method`` names, with its options taken from ``config``."""
    cls = get_method(config.method)
    return cls(options_of(cls, config), img_size=config.img_size, patch_size=patch_size)


__all__ = ["METHODS", "Method", "build_method", "get_method", "list_methods", "register_method"]
