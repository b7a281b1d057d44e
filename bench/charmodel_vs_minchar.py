"""The char-level model: rnncore's batched trainer against a min-char-rnn-style loop.

    python bench/charmodel_vs_minchar.py [--seconds 30]

Both train a vanilla RNN language model (hidden 100, unroll 25, Adagrad lr 0.1, clipping at 5)
on the same bundled corpus for the same wall-clock budget, each in its own one-thread process.
The baseline is Karpathy's min-char-rnn loop (one sequence, column vectors, a Python loop over
the 25 steps); rnncore trains several streams at once with rnn_forward / rnn_backward (4 and 32:
more streams process more characters per second but make fewer updates per second). Reported:
characters per second of training, the training loss over the last 2,500 characters seen, and
the loss on 20,000 held-out characters after the budget, both models evaluated by the same
rnncore code (nats per character; ln V for a uniform guess).
"""
import argparse
import json
import math
import sys
import time

from timing import measure_in_process

HIDDEN, UNROLL, LR, CLIP = 100, 25, 0.1, 5.0
TRAIN_CHARS, EVAL_CHARS = 400_000, 20_000
STREAMS = [4, 32]                    # parallel streams of the rnncore trainer


def corpus():
    import rnncore
    text = rnncore.load_corpus()
    vocab = rnncore.Vocabulary.from_sequences([text])
    ids = vocab.encode(text)
    return ids[:TRAIN_CHARS], ids[-EVAL_CHARS:], len(vocab)


def held_out_loss(params, ids):
    """Mean cross-entropy of the next character over `ids`, one stream from a zero state."""
    import rnncore
    loss, _, _ = rnncore.char_model_loss(params, ids[None, :-1], ids[None, 1:], rnncore.zero_state(params, 1))
    return float(loss)


def train_minchar(train, V, seconds):
    """min-char-rnn (Karpathy, 2015), unchanged in substance: one sequence, per-step Python loop."""
    import numpy as np
    rng = np.random.default_rng(0)
    Wxh, Whh, Why = (rng.standard_normal(s) * 0.01 for s in ((HIDDEN, V), (HIDDEN, HIDDEN), (V, HIDDEN)))
    bh, by = np.zeros((HIDDEN, 1)), np.zeros((V, 1))
    mem = [np.zeros_like(p) for p in (Wxh, Whh, Why, bh, by)]
    hprev, p, chars, start, losses = np.zeros((HIDDEN, 1)), 0, 0, time.perf_counter(), []
    while time.perf_counter() - start < seconds:
        if p + UNROLL + 1 >= len(train):
            hprev, p = np.zeros((HIDDEN, 1)), 0
        inputs, targets = train[p:p + UNROLL], train[p + 1:p + UNROLL + 1]
        xs, hs, ps = {}, {-1: hprev}, {}
        for t in range(len(inputs)):                                     # forward
            xs[t] = np.zeros((V, 1))
            xs[t][inputs[t]] = 1
            hs[t] = np.tanh(Wxh @ xs[t] + Whh @ hs[t - 1] + bh)
            y = Why @ hs[t] + by
            ps[t] = np.exp(y - y.max()) / np.sum(np.exp(y - y.max()))
            losses.append(-np.log(ps[t][targets[t], 0]))
        dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
        dbh, dby, dhnext = np.zeros_like(bh), np.zeros_like(by), np.zeros_like(hprev)
        for t in reversed(range(len(inputs))):                           # backward
            dy = ps[t].copy()
            dy[targets[t]] -= 1
            dWhy += dy @ hs[t].T
            dby += dy
            dh = Why.T @ dy + dhnext
            dhraw = (1 - hs[t] * hs[t]) * dh
            dbh += dhraw
            dWxh += dhraw @ xs[t].T
            dWhh += dhraw @ hs[t - 1].T
            dhnext = Whh.T @ dhraw
        for param, dparam, m in zip((Wxh, Whh, Why, bh, by), (dWxh, dWhh, dWhy, dbh, dby), mem):
            np.clip(dparam, -CLIP, CLIP, out=dparam)
            m += dparam * dparam
            param += -LR * dparam / np.sqrt(m + 1e-8)                    # Adagrad
        hprev, p, chars = hs[len(inputs) - 1], p + UNROLL, chars + UNROLL
    params = {"Wx": Wxh.T.copy(), "Wh": Whh.T.copy(), "b": bh[:, 0].copy(), "Wy": Why.T.copy(), "by": by[:, 0].copy()}
    return params, chars, time.perf_counter() - start, float(np.mean(losses[-2500:]))


def train_rnncore(train, V, seconds, n_streams):
    """rnncore.train_char_model: n_streams parallel streams, truncated BPTT, the same optimizer and clipping."""
    import rnncore
    start = time.perf_counter()
    params, history = rnncore.train_char_model(train, V, hidden=HIDDEN, seq_len=UNROLL, batch=n_streams,
                                               steps=10 ** 9, clip=CLIP, seed=0, progress=False,
                                               max_seconds=seconds, optimizer=rnncore.Adagrad(lr=LR))
    chars = len(history["loss"]) * n_streams * UNROLL
    recent = history["loss"][-100:]
    return params, chars, time.perf_counter() - start, sum(recent) / len(recent)


def worker(side, seconds):
    train, held_out, V = corpus()
    if side == "minchar":
        params, chars, elapsed, recent = train_minchar(train, V, seconds)
    else:
        params, chars, elapsed, recent = train_rnncore(train, V, seconds, int(side.split(":")[1]))
    return {"chars_per_second": chars / elapsed, "chars": chars, "recent_training_loss": recent,
            "held_out_loss": held_out_loss(params, held_out), "V": V}


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        print(json.dumps(worker(sys.argv[2], float(sys.argv[3]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30, help="training budget of each side")
    parser.add_argument("--json", help="also write the result to this file")
    args = parser.parse_args()
    theirs = measure_in_process(__file__, ["minchar", args.seconds], 1)
    ours = {n: measure_in_process(__file__, [f"rnncore:{n}", args.seconds], 1) for n in STREAMS}
    result = {"seconds": args.seconds, "minchar": theirs, "rnncore": ours, "uniform_loss": math.log(theirs["V"]),
              "speedup_chars_per_second": {n: r["chars_per_second"] / theirs["chars_per_second"] for n, r in ours.items()}}
    print(f"training budget {args.seconds:g} s each, one thread, hidden {HIDDEN}, unroll {UNROLL}, Adagrad lr {LR}")
    rows = [("min-char-rnn loop", theirs)] + [(f"rnncore, {n} streams", r) for n, r in ours.items()]
    for name, r in rows:
        print(f"{name:22} {r['chars_per_second']:9.0f} chars/s ({r['chars_per_second'] / theirs['chars_per_second']:4.1f}x)   "
              f"training loss (last 2500 chars) {r['recent_training_loss']:.3f}   "
              f"held-out loss {r['held_out_loss']:.3f} nats/char")
    print(f"uniform guess ln V = {result['uniform_loss']:.3f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
