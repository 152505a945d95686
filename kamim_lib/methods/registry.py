"""The registry of pretraining methods (``method=<name>``); one file per method in this package."""
from kamim_lib.plugins import Registry

METHODS = Registry("method", "method", builtin_modules=("kamim_lib.methods.simmim", "kamim_lib.methods.kamim",
                                                          "kamim_lib.methods.semanticmim"))
register_method = METHODS.register


def list_methods() -> tuple[str, ...]:
    """Names accepted by the ``method`` configuration key."""
    return METHODS.names()
