"""The runtime's configuration choices, one list each: config validation and the runtime factory both read them here."""

DEVICES = ("auto", "cpu", "cuda", "xla")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
# How device=xla uses several cores: one process driving all of them (SPMD) or one process per core/chip.
XLA_MODES = ("spmd", "multiprocess")
# Tri-state speed keys (tf32, fused_optimizer, pin_memory, decode_on_device): auto resolves from the device at run
# time (kamim_lib.runtime.speed).
SWITCHES = ("auto", "on", "off")
