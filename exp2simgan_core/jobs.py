"""The common start of every workflow job (``workflow_scripts/*.py``)."""

from __future__ import annotations

import logging
import sys
from typing import Any

from exp2simgan_core.io import DataFileError
from exp2simgan_core.provenance import bind_config


def _report(kind: type[BaseException], error: BaseException, trace: Any) -> None:
    """Excepthook: one line for a bad or stale data file, the traceback for anything else."""
    if issubclass(kind, DataFileError):
        print(f"error: {error}", file=sys.stderr)
    else:
        sys.__excepthook__(kind, error, trace)


def start_job(job: Any, uses_torch: bool = False) -> None:
    """Log to the job's log file, bind the configuration, limit torch's threads.

    A ``DataFileError`` (a missing, corrupted or stale file: the message names it) ends the job
    with one line in the log instead of a traceback.

    ``job`` is a workflow script's ``snakemake`` object; what is used of it: ``log[0]``, the rule's
    log file, which receives stderr (tqdm bars and tracebacks included) and INFO logging for the
    rest of the process; ``config``, the whole run configuration, and
    ``params.config_sections`` (optional), the keys (sections or dotted sub-keys) the job uses,
    given to ``provenance.bind_config`` so that every HDF5 file the job writes records them and
    every stale input is refused; ``threads``, the intra-op threads of a job that ``uses_torch``
    (torch would otherwise use every core, whatever the job was given).
    """
    sys.stderr = open(job.log[0], "w", buffering=1)  # noqa: SIM115 - open for the whole job
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")
    sys.excepthook = _report
    bind_config(job.config, job.params.get("config_sections", []))
    if uses_torch:
        import torch

        torch.set_num_threads(job.threads)
