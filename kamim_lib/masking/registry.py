"""The registry of masking strategies (``masking=<name>``): every module of this package but the shared mask
arithmetic (``cells``) is one strategy."""
from kamim_lib.plugins import Registry

MASKING_STRATEGIES = Registry("masking strategy", "masking", package="kamim_lib.masking", default="random",
                              leading=("random_cells",),
                              helpers=("cells",))
register_masking = MASKING_STRATEGIES.register


def list_masking_strategies() -> tuple[str, ...]:
    """Names accepted by the ``masking`` configuration key."""
    return MASKING_STRATEGIES.names()
