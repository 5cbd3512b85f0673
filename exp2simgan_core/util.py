"""Small helpers shared by the stages: torch devices."""

from __future__ import annotations

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str = "auto") -> str:
    """'cuda' when asked for or when ``auto`` finds a CUDA device, else 'cpu'.

    Raises ValueError for a name outside ``DEVICES`` and for 'cuda' without a CUDA device.
    """
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    if device == "cpu":
        return device
    import torch  # only a device other than the CPU needs torch to be asked

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but torch finds no CUDA device")
    return device
