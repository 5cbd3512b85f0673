"""Batched entropic optimal transport: the transport cost of many small problems at once.

All problems of one call are solved together by POT's batched solver (``ot.batch`` of the
pinned POT 0.9.7) on CPU torch tensors, with one torch intra-op thread (``SOLVER_THREADS``;
torch's setting is restored afterwards): the solve is thousands of small tensor operations, for
which threads cost more than they gain. On 2 cores shared with other jobs, two threads made the
9-set problem of ``benchmarks/applicability.py`` take 113 s instead of 1.6 s.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from ot.batch import loss_linear_batch, solve_batch

ROUND_ITER = 50  # Sinkhorn iterations per warm-started round (see _solve_in_rounds)
MAX_KERNEL_EXPONENT = 200.0  # largest shifted cost / reg solved with exp(-C / reg) (not log)
SOLVER_THREADS = 1  # torch intra-op threads of the batched solve (see the module docstring)


def _row_error(plan: torch.Tensor) -> torch.Tensor:
    """POT's stop criterion per problem: L2 norm of the row sums minus the uniform weights."""
    return ((plan.sum(dim=2) - 1.0 / plan.shape[1]) ** 2).sum(dim=1) ** 0.5


def _shift(costs: torch.Tensor) -> torch.Tensor:
    """Costs minus row minima, then minus column minima: >= 0, a zero in each row and column.

    Sinkhorn's plans do not change (the scalings absorb row and column offsets).
    """
    costs = costs - costs.amin(dim=2, keepdim=True)
    return costs - costs.amin(dim=1, keepdim=True)


def _solve_in_rounds(
    shifted: torch.Tensor, reg: float, method: str, tol: float, max_iter: int
) -> torch.Tensor:
    """Plans (B, k, m) from POT's batched solver, run in warm-started rounds.

    POT stops a batch when its slowest problem converges, so a few slow repeats would make all
    of them iterate as long. Each round runs at most ``ROUND_ITER`` iterations and the next one
    keeps only the problems still above tol. POT starts from unit scalings, so a round continues
    the previous one by solving the costs reduced by its log-scalings u, v (C - reg (u_i + v_j),
    same plans): the iterates are those of one uninterrupted run. Row minima are subtracted again
    (each iteration recomputes the row scalings first); a column offset would move the start.
    """
    plan = torch.empty_like(shifted)
    todo = torch.arange(len(shifted))
    done = 0
    while True:
        budget = min(ROUND_ITER, max_iter - done)
        result = solve_batch(shifted, reg, method=method, tol=tol, max_iter=budget, grad="detach")
        plan[todo] = result.plan
        done += budget
        still_open = _row_error(result.plan) >= tol
        if done >= max_iter or not bool(still_open.any()):
            return plan
        u, v = result.potentials  # scalings (B, k), (B, m); their logs for log_sinkhorn
        if method == "sinkhorn":
            u, v = torch.log(u), torch.log(v)
        reduced = (shifted - reg * (u[:, :, None] + v[:, None, :]))[still_open]
        shifted = reduced - reduced.amin(dim=2, keepdim=True)  # rows only: f absorbs them
        todo = todo[still_open]


@contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def transport_costs(costs: torch.Tensor, reg: float, tol: float, max_iter: int) -> torch.Tensor:
    """<P, C> (B,) of the entropic plans of (B, k, m) costs, uniform weights, solved batched.

    ``reg``: absolute entropic regularisation (cost units); ``tol``: POT's stop rule on the
    row-marginal error (total mass 1); ``max_iter``: iterations before giving up with a
    RuntimeWarning. Solved with ``SOLVER_THREADS`` torch threads (restored afterwards).

    The costs are shifted (``_shift``) first. Problems whose largest shifted cost stays
    below ``MAX_KERNEL_EXPONENT * reg`` use POT's multiplicative Sinkhorn (kernel exp(-C / reg), no
    underflow to worry about and about 5x faster); the others its log-domain Sinkhorn.
    """
    with _torch_threads(SOLVER_THREADS):
        return _transport_costs(costs, reg, tol, max_iter)


def _transport_costs(costs: torch.Tensor, reg: float, tol: float, max_iter: int) -> torch.Tensor:
    shifted = _shift(costs)
    log_domain = shifted.amax(dim=(1, 2)) > MAX_KERNEL_EXPONENT * reg
    plan = torch.empty_like(costs)
    for method, chosen in (("sinkhorn", ~log_domain), ("log_sinkhorn", log_domain)):
        if chosen.any():
            plan[chosen] = _solve_in_rounds(shifted[chosen], reg, method, tol, max_iter)
    row_error = _row_error(plan)
    if not bool((row_error < tol).all()):
        warnings.warn(
            f"Sinkhorn stopped after max_iter={max_iter} with a marginal error of "
            f"{float(row_error.max()):.1e} > tol={tol:g}; raise max_iter or reg",
            RuntimeWarning,
            stacklevel=4,
        )
    return loss_linear_batch(costs, plan)
