"""Character-level language model: Karpathy's min-char-rnn, batched, with any of the recurrent cells.

Sizes: N parallel streams of text (batch), T unrolled steps, V characters, H hidden.
The model reads one character and predicts the next:

    x_t = one_hot(c_t)                      # (N, V)
    h_t = cell(x_t, h_{t-1})                # rnn: tanh(x_t @ Wx + h_{t-1} @ Wh + b); or lstm, gru
    scores_t = h_t @ Wy + by                # (N, V), unnormalised log-probabilities of c_{t+1}
    p(c_{t+1}) = softmax(scores_t / temperature)

The loss is the mean cross-entropy of the next character (nats per character).
Training is truncated BPTT: the text is cut into chunks of T characters; each chunk starts from
the state the previous chunk ended in (min-char-rnn's hprev) and backpropagates only inside itself.
params is a dict with Wx (V, G*H), Wh (H, G*H), b (G*H,), Wy (H, V), by (V,); G = 1 (rnn), 4 (lstm), 3 (gru).
A state is a pair (h, c): h (N, H), and c (N, H) for the LSTM or None (None also stands for a zero c).
Every function takes the cell's name (default "rnn") and checks that params fit it.
"""
import time

import numpy as np

from ._training import as_rng, progress_bar
from ._validate import check_positive
from .cells import get_cell
from .clipping import clip_by_value
from .losses import softmax_cross_entropy
from .optim import Adagrad
from .text import one_hot

PARAM_NAMES = ("Wx", "Wh", "b", "Wy", "by")


def _check_params(params, cell):
    """Return (V, H) of params, or raise ValueError if they do not fit the Cell `cell`."""
    missing = [k for k in PARAM_NAMES if k not in params]
    if missing:
        raise ValueError(f"params lack {missing}; init_char_model makes a complete dict")
    H, V = params["Wy"].shape
    G = cell.gates
    if params["Wh"].shape != (H, G * H):
        label = f"{G}H" if G > 1 else "H"
        raise ValueError(f"params['Wh'] has shape {params['Wh'].shape}, but cell {cell.name!r} with H = {H} "
                         f"needs (H, {label}) = {(H, G * H)}: pass the cell the params were made for")
    return V, H


def init_char_model(V, H, cell="rnn", rng=0, scale=0.01):
    """Small random weights (N(0, scale^2), as min-char-rnn) and zero biases.

    For a cell with a forget gate (the LSTM) the forget-gate bias starts at 1, so it remembers by default.
    Returns the params dict described in the module docstring.
    """
    cell = get_cell(cell)
    rng = as_rng(rng)
    G = cell.gates
    params = {
        "Wx": rng.standard_normal((V, G * H)) * scale,
        "Wh": rng.standard_normal((H, G * H)) * scale,
        "b": np.zeros(G * H),
        "Wy": rng.standard_normal((H, V)) * scale,
        "by": np.zeros(V),
    }
    if cell.forget_block is not None:
        params["b"][cell.forget_block * H:(cell.forget_block + 1) * H] = 1.0
    return params


def zero_state(params, N, cell=None):
    """The initial state (h, c) of N streams: h = 0 (N, H), with H read from Wy (H, V).

    c is None unless `cell` is given and has a cell state (then c = 0). Every function here reads
    c = None as a zero cell state, so zero_state(params, N) starts any cell; `cell` also checks params.
    """
    H = params["Wy"].shape[0]
    if cell is None:
        return np.zeros((N, H), dtype=params["Wy"].dtype), None
    cell = get_cell(cell)
    _check_params(params, cell)
    return cell.zero_state(N, H, dtype=params["Wh"].dtype)


def char_model_forward(params, inputs, state, cell="rnn"):
    """Run the model over character ids and score the next character at every step.

    inputs (N, T): character ids; state: (h0, c0) from zero_state or from the previous chunk.
    Returns scores (N, T, V) (softmax gives the next-character probabilities), h (N, T, H),
    next_state (carries on to the next chunk) and a cache for char_model_backward.
    """
    spec = get_cell(cell)
    V, H = _check_params(params, spec)
    inputs = np.asarray(inputs)
    if inputs.ndim != 2:
        raise ValueError(f"inputs must have shape (N, T), got {inputs.shape}")
    x = one_hot(inputs, V)                                        # (N, T, V)
    h0, c0 = state
    h, c_last, cell_cache = spec.run(x, h0, c0, params["Wx"], params["Wh"], params["b"])
    N, T, _ = h.shape
    scores = (h.reshape(N * T, H) @ params["Wy"] + params["by"]).reshape(N, T, V)   # scores_t = h_t @ Wy + by
    cache = {"cell": cell, "cell_cache": cell_cache, "Wy": params["Wy"], "h_shape": h.shape}
    return scores, h, (h[:, -1].copy(), c_last), cache


def char_model_backward(dscores, cache):
    """Gradients of char_model_forward's scores.

    dscores (N, T, V): the loss gradient of the scores.
    Returns grads: a dict with the keys of params. (The initial state gets no gradient: truncated BPTT.)
    """
    spec = get_cell(cache["cell"])
    N, T, H = cache["h_shape"]
    h = cache["cell_cache"]["h"].reshape(N * T, H)                # the cell's own h: the caller's copy may have changed
    V = cache["Wy"].shape[1]
    dscores = dscores.reshape(N * T, V)
    grads = {"Wy": h.T @ dscores, "by": dscores.sum(axis=0)}      # scores = h @ Wy + by
    dh = (dscores @ cache["Wy"].T).reshape(N, T, H)
    _, _, _, grads["Wx"], grads["Wh"], grads["b"] = spec.run_backward(dh, None, cache["cell_cache"])
    return grads


def char_model_loss(params, inputs, targets, state, cell="rnn"):
    """Loss and gradients on one chunk of text.

    inputs, targets (N, T): character ids, targets[:, t] = inputs[:, t + 1] in the text;
    state: (h0, c0) from zero_state or from the previous chunk.
    Returns (loss, grads, next_state): grads has the keys of params; next_state carries on.
    """
    targets = np.asarray(targets)
    if np.shape(inputs) != targets.shape:
        raise ValueError(f"inputs and targets must have the same shape (N, T); "
                         f"got {np.shape(inputs)} and {targets.shape}")
    scores, _, next_state, cache = char_model_forward(params, inputs, state, cell)
    loss, dscores = softmax_cross_entropy(scores, targets)
    return loss, char_model_backward(dscores, cache), next_state


def sample_chars(params, prefix_ids, length, rng=0, temperature=1.0, cell="rnn", state=None):
    """Generate `length` character ids after reading prefix_ids (at least one id).

    state: (h, c) for one stream to start from (zero_state(params, 1, cell) if None).

    Lower temperature sharpens the distribution (more likely, more repetitive text); higher
    temperature flattens it (more surprising, more mistakes). Returns an int array (length,).
    """
    spec = get_cell(cell)
    V = _check_params(params, spec)[0]
    check_positive("temperature", temperature)
    rng = as_rng(rng)
    prefix_ids = np.asarray(prefix_ids)
    if prefix_ids.ndim != 1 or prefix_ids.size == 0:
        raise ValueError("prefix_ids must be a non-empty 1-d array of character ids")
    h, c = zero_state(params, 1, cell) if state is None else state
    out = np.empty(length, dtype=np.int64)

    def step(char_id, h, c):
        x = one_hot(np.array([char_id]), V)
        return spec.step(x, h, c, params["Wx"], params["Wh"], params["b"])[:2]

    for char_id in prefix_ids:                                     # warm the state up on the prefix
        h, c = step(char_id, h, c)
    for k in range(length):
        scores = (h @ params["Wy"] + params["by"])[0] / temperature
        p = np.exp(scores - scores.max())
        out[k] = rng.choice(V, p=p / p.sum())                      # draw the next character
        h, c = step(out[k], h, c)
    return out


def text_streams(ids, N):
    """Cut a 1-d array of ids into N equal contiguous streams, shape (N, len(ids) // N)."""
    L = len(ids) // N
    if L < 2:
        raise ValueError(f"a text of {len(ids)} characters is too short for {N} streams")
    return np.asarray(ids[:N * L]).reshape(N, L)


def train_char_model(ids, V, hidden=100, seq_len=25, batch=16, steps=1000, cell="rnn",
                     optimizer=None, clip=5.0, seed=0, progress=True, max_seconds=None):
    """Train a char-level model with truncated BPTT on a 1-d array of character ids.

    ids: the encoded text; V: vocabulary size; batch: number of parallel streams; steps: chunks to train on;
    optimizer: any rnncore optimizer (default Adagrad(lr=0.1), as min-char-rnn); clip: gradient clipping by value;
    max_seconds: stop earlier once this much wall-clock time has passed (a training budget);
    progress: show a tqdm bar (a string: the bar's label).
    Returns (params, history): history["loss"] lists the loss of every step (one step: batch * seq_len characters).
    """
    get_cell(cell)
    streams = text_streams(np.asarray(ids), batch)
    if streams.shape[1] <= seq_len:
        raise ValueError(f"each of the {batch} streams holds {streams.shape[1]} characters; "
                         f"seq_len = {seq_len} needs more")
    optimizer = optimizer or Adagrad(lr=0.1)
    params = init_char_model(V, hidden, cell, rng=seed)
    opt_state = optimizer.init(params)
    state, pos, history = zero_state(params, batch, cell), 0, {"loss": []}
    bar = progress_bar(steps, progress, "chunk")
    deadline = None if max_seconds is None else time.perf_counter() + max_seconds
    for _ in range(steps):
        if deadline is not None and time.perf_counter() >= deadline:
            break
        if pos + seq_len + 1 > streams.shape[1]:                   # end of the text: start again, forget
            state, pos = zero_state(params, batch, cell), 0
        inputs = streams[:, pos:pos + seq_len]
        targets = streams[:, pos + 1:pos + seq_len + 1]
        step_out = {}

        def grad_fn(p):
            loss, grads, step_out["state"] = char_model_loss(p, inputs, targets, state, cell)
            history["loss"].append(loss)
            return clip_by_value(grads, clip) if clip else grads
        params, opt_state = optimizer.step(params, grad_fn, opt_state)
        state, pos = step_out["state"], pos + seq_len                 # carry the state to the next chunk
        if bar is not None:
            bar.update(1)
            bar.set_postfix_str(f"L = {history['loss'][-1]:.3f}", refresh=False)
    if bar is not None:
        bar.close()
    return params, history
