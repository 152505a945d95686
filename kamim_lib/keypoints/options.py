"""The keypoint-map configuration key shared by every plug-in that detects keypoints (KAMIM's weights,
density-guided masking): one declaration, so a run that uses both reads one ``keypoint_mode``."""
from __future__ import annotations

import dataclasses

from kamim_lib.plugins.options import param

from kamim_lib.keypoints.choices import MAP_MODES


@dataclasses.dataclass(frozen=True, kw_only=True)
class KeypointMapOptions:
    """How keypoints become a map."""

    keypoint_mode: str = param("faithful", "keypoint map: faithful (the original's rings and BGR quirk) or points",
                               choices=MAP_MODES)
