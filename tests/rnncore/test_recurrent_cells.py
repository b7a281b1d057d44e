"""RNN, LSTM and GRU: numeric gradients, step-by-step equivalence, PyTorch, and input checks."""
import numpy as np
import pytest
import torch

import rnncore as rc
from cell_helpers import CELL_IDS, CELL_VARIANTS, cell_args, random_sizes
from torch_mapping import grads_from_torch, make_module, weights_from_torch

ARG_NAMES = ["x", "h0", "Wx", "Wh", "b"]
# (id, sequence forward, sequence backward, gate blocks, forward options), from the registry
CELLS = [(name, cell.forward, cell.backward, cell.gates, options) for name, cell, options in CELL_VARIANTS]


def _forward(fwd, options):
    return lambda *args: fwd(*args, **options)


@pytest.mark.parametrize("name, fwd, bwd, gates, options", CELLS, ids=CELL_IDS)
def test_sequence_backward_matches_numeric_gradient(name, fwd, bwd, gates, options, rng):
    """Does full BPTT give the finite-difference gradient of every argument?"""
    N, T, D, H = random_sizes(rng)
    args = cell_args(rng, gates, N, T, D, H)
    dh = rng.standard_normal((N, T, H))
    errors = rc.check_gradients(_forward(fwd, options), bwd, args, dh, names=ARG_NAMES)
    assert max(errors.values()) < 1e-7, errors


def _step_problem(cell, options, rng):
    """Forward/backward of one step as functions of (x, prev_h, [prev_c,] Wx, Wh, b) with one output.

    With a cell state the output is [next_h, next_c] side by side, so one check covers both.
    """
    N, _, D, H = random_sizes(rng)
    x, h, Wx, Wh, b = cell_args(rng, cell.gates, N, 1, D, H)
    x = x[:, 0]
    if not cell.has_cell_state:
        forward = lambda *args: cell.step_forward(*args, **options)
        return forward, cell.step_backward, (x, h, Wx, Wh, b), rng.standard_normal((N, H))

    def forward(*args):
        next_h, next_c, cache = cell.step_forward(*args, **options)
        return np.concatenate([next_h, next_c], axis=1), cache

    def backward(dout, cache):
        return cell.step_backward(dout[:, :H], dout[:, H:], cache)
    c = rng.standard_normal((N, H))
    return forward, backward, (x, h, c, Wx, Wh, b), rng.standard_normal((N, 2 * H))


@pytest.mark.parametrize("name, cell, options", CELL_VARIANTS, ids=CELL_IDS)
def test_step_backward_matches_numeric_gradient(name, cell, options, rng):
    """Does each *_step_backward give the finite-difference gradients (LSTM: of both next_h and next_c)?"""
    forward, backward, args, dout = _step_problem(cell, options, rng)
    errors = rc.check_gradients(forward, backward, args, dout)
    assert max(errors.values()) < 1e-7, errors


@pytest.mark.parametrize("name, cell, options", CELL_VARIANTS, ids=CELL_IDS)
def test_sequence_equals_a_loop_of_steps(name, cell, options, rng):
    """Do the fast sequence functions compute what a plain loop over the step functions computes?"""
    N, T, D, H = random_sizes(rng)
    x, h0, Wx, Wh, b = args = cell_args(rng, cell.gates, N, T, D, H)
    dh = rng.standard_normal((N, T, H))
    h_seq, cache = cell.forward(*args, **options)
    grads_seq = cell.backward(dh, cache)

    h, c = h0, cell.zero_state(N, H)[1]
    caches, hs = [], []
    for t in range(T):
        h, c, step_cache = cell.step(x[:, t], h, c, Wx, Wh, b, **options)
        caches.append(step_cache)
        hs.append(h)
    np.testing.assert_allclose(h_seq, np.stack(hs, axis=1), rtol=1e-13, atol=1e-14)

    dx, dWx, dWh, db = np.zeros_like(x), np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    dprev_h, dprev_c = np.zeros_like(h0), cell.zero_state(N, H)[1]
    for t in reversed(range(T)):
        dx[:, t], dprev_h, dprev_c, dWx_t, dWh_t, db_t = cell.step_back(dh[:, t] + dprev_h, dprev_c, caches[t])
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    for got, want in zip(grads_seq, (dx, dprev_h, dWx, dWh, db)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


# the variants torch computes: its GRU resets after the recurrent product
TORCH_CELLS = [(name, cell.forward, cell.backward, options) for name, cell, options in CELL_VARIANTS
               if options.get("reset_after", True)]


@pytest.mark.parametrize("name, fwd, bwd, options", TORCH_CELLS, ids=[c[0] for c in TORCH_CELLS])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_forward_and_backward_match_pytorch(name, fwd, bwd, options, seed):
    """Do outputs and all gradients equal torch.nn.RNN/LSTM/GRU's in float64 with copied weights?"""
    cell = name.split("_")[0]                                  # torch_mapping's cell names: rnn, lstm, gru
    rng = np.random.default_rng(seed)
    N, T, D, H = (int(v) for v in rng.integers(2, 7, size=4))
    module = make_module(cell, D, H, seed)
    Wx, Wh, b = weights_from_torch(module, cell)
    x, h0, dh = rng.standard_normal((N, T, D)), rng.standard_normal((N, H)), rng.standard_normal((N, T, H))

    x_t = torch.tensor(x, requires_grad=True)
    h0_t = torch.tensor(h0[None], requires_grad=True)
    state = (h0_t, torch.zeros(1, N, H, dtype=torch.float64)) if rc.get_cell(cell).has_cell_state else h0_t
    out_t, _ = module(x_t, state)
    (out_t * torch.from_numpy(dh)).sum().backward()

    h, cache = fwd(x, h0, Wx, Wh, b, **options)
    dx, dh0, dWx, dWh, db = bwd(dh, cache)
    np.testing.assert_allclose(h, out_t.detach().numpy(), rtol=1e-12, atol=1e-13)
    for ours, theirs in zip((dx, dh0, dWx, dWh, db),
                            (x_t.grad.numpy(), h0_t.grad.numpy()[0], *grads_from_torch(module, cell))):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_gru_reset_before_differs_from_reset_after(rng):
    """Are the two GRU variants really different cells (for the same weights)?"""
    args = cell_args(rng, 3, 2, 4, 3, 5)
    before, _ = rc.gru_forward(*args, reset_after=False)
    after, _ = rc.gru_forward(*args, reset_after=True)
    assert np.abs(before - after).max() > 1e-3


@pytest.mark.parametrize("name, fwd, bwd, gates, options", CELLS, ids=CELL_IDS)
def test_no_function_changes_its_inputs(name, fwd, bwd, gates, options, rng):
    """Are x, h0, the weights and dh untouched by forward and backward?"""
    args = cell_args(rng, gates, 2, 3, 4, 5)
    dh = rng.standard_normal((2, 3, 5))
    copies = [a.copy() for a in (*args, dh)]
    _, cache = fwd(*args, **options)
    bwd(dh, cache)
    for a, c in zip((*args, dh), copies):
        np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("name, fwd, bwd, gates, options", CELLS, ids=CELL_IDS)
def test_float32_runs_in_float32(name, fwd, bwd, gates, options, rng):
    """Does a float32 problem stay float32 and agree with float64 to float32 precision?"""
    args = cell_args(rng, gates, 3, 4, 5, 6)
    h64, _ = fwd(*args, **options)
    h32, cache = fwd(*(a.astype(np.float32) for a in args), **options)
    grads = bwd(np.ones_like(h32), cache)
    assert h32.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)
    np.testing.assert_allclose(h32, h64, atol=1e-5)


@pytest.mark.parametrize("name, fwd, bwd, gates, options", CELLS, ids=CELL_IDS)
def test_wrong_shapes_and_dtypes_are_refused(name, fwd, bwd, gates, options):
    """Do wrong shapes, mixed dtypes and a wrong upstream gradient raise clear ValueErrors?"""
    N, T, D, H = 2, 3, 4, 5
    x, h0, Wx, Wh, b = cell_args(np.random.default_rng(0), gates, N, T, D, H)
    G = f"{gates}H" if gates > 1 else "H"
    with pytest.raises(ValueError, match=rf"Wx must have shape \(D, {G}\)"):
        fwd(x, h0, Wx[:, :-1], Wh, b, **options)
    with pytest.raises(ValueError, match=rf"Wh must have shape \(H, {G}\)"):
        fwd(x, h0, Wx, Wh[:-1], b, **options)
    with pytest.raises(ValueError, match="h0 must have shape"):
        fwd(x, h0[:1], Wx, Wh, b, **options)
    with pytest.raises(ValueError, match="x must have 3 dimensions"):
        fwd(x[:, 0], h0, Wx, Wh, b, **options)
    with pytest.raises(ValueError, match="share one dtype"):
        fwd(x.astype(np.float32), h0, Wx, Wh, b, **options)
    with pytest.raises(ValueError, match="floating-point"):
        fwd(x.astype(int), h0, Wx, Wh, b, **options)
    _, cache = fwd(x, h0, Wx, Wh, b, **options)
    with pytest.raises(ValueError, match="dh must have shape"):
        bwd(np.ones((N, T + 1, H)), cache)


def test_a_broken_backward_is_caught_by_the_gradient_check(rng):
    """Would the numeric check notice a BPTT that forgets to carry dprev_h to the previous step?"""
    def rnn_backward_without_carry(dh, cache):
        x, h0, Wx, Wh, h = (cache[k] for k in ("x", "h0", "Wx", "Wh", "h"))
        dz = dh * (1 - h ** 2)                     # every step sees only its own loss: the carry is dropped
        h_prev = np.concatenate([h0[:, None], h[:, :-1]], axis=1)
        return (dz @ Wx.T, dz[:, 0] @ Wh.T, np.einsum("ntd,nth->dh", x, dz),
                np.einsum("ntk,nth->kh", h_prev, dz), dz.sum(axis=(0, 1)))
    N, T, D, H = random_sizes(rng)
    args = cell_args(rng, 1, N, T, D, H)
    dh = rng.standard_normal((N, T, H))
    honest = rc.check_gradients(rc.rnn_forward, rc.rnn_backward, args, dh, names=ARG_NAMES)
    broken = rc.check_gradients(rc.rnn_forward, rnn_backward_without_carry, args, dh, names=ARG_NAMES)
    assert max(honest.values()) < 1e-7
    assert broken["Wh"] > 1e-3 and broken["x"] > 1e-3, broken
