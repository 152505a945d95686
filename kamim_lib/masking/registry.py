"""The registry of masking strategies (``masking=<name>``); one file per strategy in this package."""
from kamim_lib.plugins import Registry

MASKING_STRATEGIES = Registry("masking strategy", "masking",
                              builtin_modules=("kamim_lib.masking.random_cells", "kamim_lib.masking.attention",
                                               "kamim_lib.masking.density"))
register_masking = MASKING_STRATEGIES.register


def list_masking_strategies() -> tuple[str, ...]:
    """Names accepted by the ``masking`` configuration key."""
    return MASKING_STRATEGIES.names()
