"""kamim_lib: Keypoint Aware Masked Image Modelling (KAMIM), SimMIM and peers."""

__version__ = "0.1.0"
