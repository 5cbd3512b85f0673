"""Exp2SimGAN reproduction: spin-wave INS simulation, GAN deconvolution, DUQ and applicability."""

__version__ = "0.1.0"
