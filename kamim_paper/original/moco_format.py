"""How MoCo v3's released checkpoints are laid out (read by the loader report and by the MoCo v3 loader)."""

# MoCo v3's checkpoints nest the weights under "state_dict"; the encoder's keys start with this prefix.
MOCO_STATE_DICT_KEY = "state_dict"
MOCO_ENCODER_PREFIX = "module.base_encoder."
MOCO_HEAD_PREFIX = "head."
