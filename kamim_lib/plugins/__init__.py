"""Named plug-ins: the registry shared by training methods (:mod:`kamim_lib.methods`) and masking strategies
(:mod:`kamim_lib.masking`). See :class:`~kamim_lib.plugins.registry.Registry`."""
from kamim_lib.plugins.options import param
from kamim_lib.plugins.registry import (NoOptions, PluginImportError, Registry, check_plugins, option_fields,
                                        options_of)

__all__ = ["NoOptions", "PluginImportError", "Registry", "check_plugins", "option_fields", "options_of",
           "param"]
