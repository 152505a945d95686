"""Forensics of the original code: what its analysis notebooks really loaded, and the MoCo v3 reference."""
