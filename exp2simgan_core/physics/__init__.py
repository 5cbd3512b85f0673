"""Spin-wave physics, MAPS instrument model and INS spectrum representations."""
