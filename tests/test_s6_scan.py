"""S6's fast scan (suite/families/s6.py, `selective_scan`: a hand-written backward that recomputes the states a
chunk of time at a time) is its reference loop through autograd (`selective_scan_ref`): outputs, final state and
the gradients of every input, in float64, from a given state or zeros, for T = 1, T a multiple of the chunk
length and not, and a chunk of one step. The block's convolution (`_CausalConv`) has its gradient too."""
import pytest
import torch
import torch.nn.functional as F

import suite.families.s6 as s6_module
from suite.families.s6 import S6, _CausalConv, selective_scan, selective_scan_ref
from suite.families.knobs import S6Knobs

BATCH, CHANNELS, N = 3, 5, 4


def inputs(length: int, zero_state: bool, seed: int = 0):
    """x, Δ > 0, A < 0, B, C, h as S6Block gives them to the scan, time first, with grad; Δ A spread wide, so that
    some steps keep the state and some forget it."""
    g = torch.Generator().manual_seed(seed)
    randn = lambda *shape: torch.randn(*shape, generator=g, dtype=torch.float64)  # noqa: E731
    x, delta = randn(length, BATCH, CHANNELS), F.softplus(2 * randn(length, BATCH, CHANNELS))  # time first
    A = -torch.exp(randn(CHANNELS, N))
    h = torch.zeros(BATCH, CHANNELS, N, dtype=torch.float64) if zero_state else randn(BATCH, CHANNELS, N)
    return [t.requires_grad_() for t in (x, delta, A, randn(length, BATCH, N), randn(length, BATCH, N), h)]


def outputs_and_gradients(scan, tensors, seed: int = 1):
    """(y, h_T, d(a random functional of y and h_T)/d(each input))."""
    y, h = scan(*tensors)
    g = torch.Generator().manual_seed(seed)
    loss = (y * torch.randn(y.shape, generator=g, dtype=y.dtype)).sum() + \
        (h * torch.randn(h.shape, generator=g, dtype=h.dtype)).sum()
    return [y, h, *torch.autograd.grad(loss, tensors)]


@pytest.mark.parametrize("chunk_steps", [1, 4, 64])
@pytest.mark.parametrize("length", [1, 8, 13])
@pytest.mark.parametrize("zero_state", [True, False], ids=["zero_state", "given_state"])
def test_the_fast_scan_is_the_reference_loop(monkeypatch, chunk_steps, length, zero_state):
    monkeypatch.setattr(s6_module, "CHUNK_ELEMENTS", chunk_steps * BATCH * CHANNELS * N)
    tensors = inputs(length, zero_state)
    fast, ref = outputs_and_gradients(selective_scan, tensors), outputs_and_gradients(selective_scan_ref, tensors)
    names = ["y", "h_T", "dx", "dΔ", "dA", "dB", "dC", "dh"]
    for name, a, b in zip(names, fast, ref):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12, msg=lambda m: f"{name}: {m}")


def test_without_gradients_the_fast_scan_is_the_reference_loop_too():
    tensors = [t.detach() for t in inputs(13, False)]
    with torch.no_grad():
        y, h = selective_scan(*tensors)
    ref_y, ref_h = selective_scan_ref(*tensors)
    torch.testing.assert_close(y, ref_y, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(h, ref_h, rtol=1e-10, atol=1e-12)
    assert y.grad_fn is None and h.grad_fn is None


def test_bf16_autocast_runs_the_scan_in_the_states_dtype():
    """Under bf16 autocast the block's projections give bf16 and A stays float32: the scan promotes, as the loop."""
    torch.manual_seed(0)
    s6 = S6(3, 4, S6Knobs(state_size=N))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, (h, _) = s6(torch.randn(2, 6, 3))
    out.float().sum().backward()
    assert h.dtype == torch.float32 and torch.isfinite(out.float()).all()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in s6.parameters())


@pytest.mark.parametrize("kernel", [1, 2, 4])
def test_the_causal_convolution_has_its_gradient(kernel):
    g = torch.Generator().manual_seed(2)
    padded, weight, bias = (torch.randn(*shape, generator=g, dtype=torch.float64, requires_grad=True)
                            for shape in [(kernel - 1 + 6, 2, 3), (3, kernel), (3,)])
    assert torch.autograd.gradcheck(_CausalConv.apply, (padded, weight, bias))
    expected = F.conv1d(padded.permute(1, 2, 0), weight.unsqueeze(1), bias, groups=3).permute(2, 0, 1)
    torch.testing.assert_close(_CausalConv.apply(padded, weight, bias), expected)
