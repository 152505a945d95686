"""The registry of pretraining methods (``method=<name>``): every module of this package is one method."""
from kamim_lib.plugins import Registry

METHODS = Registry("method", "method", package="kamim_lib.methods", default="kamim",
                   leading=("simmim", "kamim"))
register_method = METHODS.register


def list_methods() -> tuple[str, ...]:
    """Names accepted by the ``method`` configuration key."""
    return METHODS.names()
