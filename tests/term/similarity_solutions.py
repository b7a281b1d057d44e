"""Independent correct solutions of a3_rnn_bptt, and copies of them planted the way students disguise a copy.

INDEPENDENT: three complete solutions written separately, each in its own style (explicit loops and dict
caches; einsum and tuple caches; @ and list caches). They compute what the reference computes
(tests/term/test_similarity.py checks them against rnncore numerically) and share only what the task forces.
The copies: renamed variables, changed comments, statements reordered; and rnncore's own code with
renamed variables.
"""
import ast
import inspect
import re
import textwrap

INDEPENDENT = {
    "loops": {
        "rel_error": """\
num = np.sqrt(np.sum((np.asarray(a, float) - np.asarray(b, float)) ** 2))
den = np.sqrt(np.sum(np.asarray(a, float) ** 2)) + np.sqrt(np.sum(np.asarray(b, float) ** 2))
if den == 0:
    return 0.0
return float(num / den)""",
        "numeric_gradient": """\
x_work = np.array(x, dtype=np.float64, copy=True)
g = np.zeros(x_work.shape)
it = np.nditer(x_work, flags=["multi_index"])
while not it.finished:
    idx = it.multi_index
    old = x_work[idx]
    x_work[idx] = old + h
    fp = f(x_work.copy())
    x_work[idx] = old - h
    fm = f(x_work.copy())
    x_work[idx] = old
    g[idx] = np.sum((np.asarray(fp) - np.asarray(fm)) * dout) / (2.0 * h)
    it.iternext()
return g""",
        "rnn_step_forward": """\
a = np.dot(x, Wx) + np.dot(prev_h, Wh) + b
h_new = np.tanh(a)
cache = {"x": x, "h_prev": prev_h, "Wx": Wx, "Wh": Wh, "h": h_new}
return h_new, cache""",
        "rnn_step_backward": """\
da = dnext_h * (1.0 - cache["h"] * cache["h"])
grads_x = np.dot(da, cache["Wx"].T)
grads_h = np.dot(da, cache["Wh"].T)
gWx = np.dot(cache["x"].T, da)
gWh = np.dot(cache["h_prev"].T, da)
gb = np.sum(da, axis=0)
return grads_x, grads_h, gWx, gWh, gb""",
        "rnn_forward": """\
n, steps, d = x.shape
states = []
step_caches = []
h_t = h0
for t in range(steps):
    h_t, c = rnn_step_forward(x[:, t, :], h_t, Wx, Wh, b)
    states.append(h_t)
    step_caches.append(c)
return np.stack(states, axis=1), step_caches""",
        "rnn_backward": """\
n, steps, hidden = dh.shape
d = cache[0]["x"].shape[1]
dx = np.empty((n, steps, d))
dWx_total = np.zeros((d, hidden))
dWh_total = np.zeros((hidden, hidden))
db_total = np.zeros(hidden)
carry = np.zeros((n, hidden))
t = steps - 1
while t >= 0:
    g = rnn_step_backward(dh[:, t, :] + carry, cache[t])
    dx[:, t, :] = g[0]
    carry = g[1]
    dWx_total = dWx_total + g[2]
    dWh_total = dWh_total + g[3]
    db_total = db_total + g[4]
    t -= 1
return dx, carry, dWx_total, dWh_total, db_total""",
        "clip_by_value": """\
out = {}
for key in grads:
    out[key] = np.minimum(np.maximum(grads[key], -limit), limit)
return out""",
        "clip_by_global_norm": """\
total = 0.0
for g in grads.values():
    total += float(np.vdot(g, g))
norm = total ** 0.5
factor = max_norm / norm if norm > max_norm else 1.0
clipped = {}
for key, g in grads.items():
    clipped[key] = factor * g
return clipped, norm""",
        "hidden_gradient_norms": """\
h_all, caches = rnn_forward(x, h0, Wx, Wh, b)
steps = x.shape[1]
out = np.zeros(steps + 1)
grad = np.ones_like(h_all[:, -1])
out[steps] = np.sqrt(np.sum(grad ** 2))
for t in range(steps - 1, -1, -1):
    _, grad, _, _, _ = rnn_step_backward(grad, caches[t])
    out[t] = np.sqrt(np.sum(grad ** 2))
return out""",
        "explore_gradient_norms": """\
figure = plt.figure(figsize=(8, 4))
for s in scales:
    curve = hidden_gradient_norms(x_demo, h0_demo, Wx_demo, s * W0, b_demo)
    plt.plot(range(len(curve)), curve, marker=".", label=f"scale {s}")
plt.yscale("log")
plt.title("Нормы градиента по шагам")
plt.xlabel("t")
plt.ylabel("норма")
plt.legend()
plt.show()""",
    },
    "einsum": {
        "rel_error": """\
u = np.array(a, dtype=float).ravel()
v = np.array(b, dtype=float).ravel()
total = np.linalg.norm(u) + np.linalg.norm(v)
return float(np.linalg.norm(u - v) / total) if total > 0 else 0.0""",
        "numeric_gradient": """\
flat = x.astype(np.float64).ravel().copy()
result = np.zeros_like(flat)
weights = np.asarray(dout, dtype=np.float64)
for k in range(flat.size):
    step = np.zeros_like(flat)
    step[k] = h
    up = np.sum(weights * f((flat + step).reshape(x.shape)))
    down = np.sum(weights * f((flat - step).reshape(x.shape)))
    result[k] = (up - down) / (2 * h)
return result.reshape(x.shape)""",
        "rnn_step_forward": """\
pre = np.einsum("nd,dh->nh", x, Wx) + np.einsum("nk,kh->nh", prev_h, Wh) + b[None, :]
out = np.tanh(pre)
return out, (out, Wh, Wx, prev_h, x)""",
        "rnn_step_backward": """\
out, Wh, Wx, prev_h, x = cache
g = (1 - np.square(out)) * dnext_h
return (np.einsum("nh,dh->nd", g, Wx), np.einsum("nh,kh->nk", g, Wh),
        np.einsum("nd,nh->dh", x, g), np.einsum("nk,nh->kh", prev_h, g), g.sum(0))""",
        "rnn_forward": """\
T = x.shape[1]
hs = np.empty((x.shape[0], T, Wh.shape[0]))
memo = [None] * T
state = h0
for step in range(T):
    state, memo[step] = rnn_step_forward(x[:, step], state, Wx, Wh, b)
    hs[:, step] = state
return hs, memo""",
        "rnn_backward": """\
memo = cache
T = dh.shape[1]
dx_steps = [None] * T
grads = [0.0, 0.0, 0.0]
upstream = 0.0
for step in reversed(range(T)):
    ddx, upstream, gx, gh, gb = rnn_step_backward(dh[:, step] + upstream, memo[step])
    dx_steps[step] = ddx
    grads = [grads[0] + gx, grads[1] + gh, grads[2] + gb]
return np.stack(dx_steps, axis=1), upstream, grads[0], grads[1], grads[2]""",
        "clip_by_value": """\
return dict((k, np.clip(v, -limit, limit)) for k, v in grads.items())""",
        "clip_by_global_norm": """\
squares = [np.sum(np.square(v)) for v in grads.values()]
norm = float(np.sqrt(np.sum(squares)))
if norm <= max_norm or norm == 0:
    return {k: v.copy() for k, v in grads.items()}, norm
ratio = max_norm / norm
return {k: v * ratio for k, v in grads.items()}, norm""",
        "hidden_gradient_norms": """\
_, memo = rnn_forward(x, h0, Wx, Wh, b)
T = len(memo)
upstream = np.ones((x.shape[0], Wh.shape[0]))
norms = [np.linalg.norm(upstream)]
for step in range(T - 1, -1, -1):
    upstream = rnn_step_backward(upstream, memo[step])[1]
    norms.append(np.linalg.norm(upstream))
return np.array(norms[::-1])""",
        "explore_gradient_norms": """\
fig, axis = plt.subplots()
for factor in scales:
    axis.plot(hidden_gradient_norms(x_demo, h0_demo, Wx_demo, factor * W0, b_demo), label=str(factor))
axis.set_yscale("log")
axis.set_title("Затухание и взрыв градиента")
axis.set_xlabel("шаг")
axis.set_ylabel("||dL/dh||")
axis.legend(title="множитель Wh")
plt.show()""",
    },
    "matmul": {
        "rel_error": """\
diff = np.linalg.norm(np.subtract(a, b, dtype=np.float64))
sizes = np.linalg.norm(np.asarray(a, np.float64)) + np.linalg.norm(np.asarray(b, np.float64))
if sizes == 0.0:
    return 0.0
return float(diff / sizes)""",
        "numeric_gradient": """\
base = np.array(x, dtype=np.float64)
grad = np.zeros(base.shape)
for flat_index in range(base.size):
    idx = np.unravel_index(flat_index, base.shape)
    bumped = base.copy()
    bumped[idx] += h
    f_plus = f(bumped)
    bumped[idx] -= 2 * h
    f_minus = f(bumped)
    grad[idx] = np.sum(np.multiply(np.subtract(f_plus, f_minus), dout)) / (2 * h)
return grad""",
        "rnn_step_forward": """\
z = prev_h @ Wh + x @ Wx + b
h_next = np.tanh(z)
return h_next, [x, prev_h, Wx, Wh, h_next]""",
        "rnn_step_backward": """\
x, prev_h, Wx, Wh, h_next = cache
local = 1.0 - h_next ** 2
dz = local * dnext_h
dWh = prev_h.T @ dz
dWx = x.T @ dz
db = dz.sum(axis=0)
dprev_h = dz @ Wh.T
dx = dz @ Wx.T
return dx, dprev_h, dWx, dWh, db""",
        "rnn_forward": """\
N, T, D = x.shape
H = Wh.shape[0]
h = np.zeros((N, T, H))
cache = []
for t in range(T):
    h_prev = h0 if t == 0 else h[:, t - 1, :]
    h[:, t, :], step_cache = rnn_step_forward(x[:, t, :], h_prev, Wx, Wh, b)
    cache.append(step_cache)
return h, cache""",
        "rnn_backward": """\
N, T, H = dh.shape
D = cache[0][0].shape[1]
dx = np.zeros((N, T, D))
dWx = np.zeros((D, H))
dWh = np.zeros((H, H))
db = np.zeros((H,))
dh_next = np.zeros((N, H))
for t in range(T - 1, -1, -1):
    step = rnn_step_backward(dh[:, t, :] + dh_next, cache[t])
    dx[:, t, :] = step[0]
    dh_next = step[1]
    dWx += step[2]
    dWh += step[3]
    db += step[4]
dh0 = dh_next
return dx, dh0, dWx, dWh, db""",
        "clip_by_value": """\
clipped = {}
for name, grad in grads.items():
    clipped[name] = np.where(grad > limit, limit, np.where(grad < -limit, -limit, grad))
return clipped""",
        "clip_by_global_norm": """\
norm = 0.0
for name in grads:
    norm += np.sum(grads[name] * grads[name])
norm = float(np.sqrt(norm))
scale = 1.0
if norm > max_norm:
    scale = max_norm / norm
return {name: grads[name] * scale for name in grads}, norm""",
        "hidden_gradient_norms": """\
N, T, D = x.shape
states = [h0]
caches = []
for t in range(T):
    h_t, c_t = rnn_step_forward(x[:, t, :], states[-1], Wx, Wh, b)
    states.append(h_t)
    caches.append(c_t)
result = np.zeros(T + 1)
dh_t = np.ones_like(states[-1])
for t in range(T, 0, -1):
    result[t] = np.linalg.norm(dh_t)
    dh_t = rnn_step_backward(dh_t, caches[t - 1])[1]
result[0] = np.linalg.norm(dh_t)
return result""",
        "explore_gradient_norms": """\
plt.figure(figsize=(9, 4))
for k, scale in enumerate(scales):
    values = hidden_gradient_norms(x_demo, h0_demo, Wx_demo, W0 * scale, b_demo)
    plt.semilogy(values, linewidth=2, label="scale = " + str(scale))
plt.xlabel("номер шага")
plt.ylabel("норма градиента")
plt.title("Как градиент доходит до ранних шагов")
plt.grid(True)
plt.legend()
plt.show()""",
    },
}

# What a copier renames (whole words that are not attributes: `.T`, `np.dot` stay).
RENAMES = {
    "loops": {"x_work": "arr", "g": "grad", "it": "walker", "idx": "pos", "old": "keep", "fp": "plus_val",
              "fm": "minus_val", "a": "pre_act", "h_new": "hidden", "da": "delta",
              "grads_x": "d_input", "grads_h": "d_hidden", "gWx": "dW_in", "gWh": "dW_rec", "gb": "d_bias",
              "states": "hs", "step_caches": "mem_list", "h_t": "cur", "c": "mem", "carry": "back",
              "dWx_total": "sum_dWx", "dWh_total": "sum_dWh", "db_total": "sum_db", "out": "res", "key": "name",
              "total": "acc", "factor": "coef", "clipped": "result", "h_all": "all_h", "steps": "n_steps",
              "curve": "line", "figure": "fig", "num": "numer", "den": "denom"},
    "einsum": {"u": "first", "v": "second", "total": "norms_sum", "flat": "xs", "result": "grad", "weights": "up_grad",
               "step": "delta", "up": "f_up", "down": "f_down", "pre": "activation", "out": "h_out", "g": "dz",
               "hs": "all_states", "memo": "caches", "state": "h_cur", "dx_steps": "dxs", "grads": "sums",
               "upstream": "dh_carry", "ddx": "dx_t", "gx": "gw_x", "gh": "gw_h", "gb": "g_b", "squares": "sq",
               "ratio": "mult", "norms": "out_norms", "factor": "mult_w", "axis": "plot_ax", "fig": "figure"},
}


def rename(code, mapping):
    """The code with every whole-word identifier of `mapping` replaced (not after a dot: attributes stay)."""
    for old, new in mapping.items():
        code = re.sub(rf"(?<![\w.]){re.escape(old)}(?!\w)", new, code)
    return code


def recomment(code, words=("шаг", "градиент", "здесь считаем", "проверено")):
    """Every comment dropped, and a different one put after every third line."""
    lines = [re.sub(r"\s+#.*$", "", line) for line in code.splitlines() if not line.strip().startswith("#")]
    return "\n".join(line + (f"  # {words[i % len(words)]}" if i % 3 == 2 and line.strip() else "")
                     for i, line in enumerate(lines))


def reorder_statements(code):
    """Swap neighbouring assignment lines of the top level that do not depend on each other (what a copier does
    to look different): a line is moved above its predecessor when it does not read what that line assigns."""
    lines = code.splitlines()
    i = 1
    while i < len(lines):
        a, b = lines[i - 1], lines[i]
        flat = not a.startswith((" ", "\t")) and not b.startswith((" ", "\t"))
        assigns = re.match(r"^([\w, ]+)\s*=(?!=)", a)
        if flat and assigns and re.match(r"^[\w, ]+\s*=(?!=)", b) and not b.startswith("return"):
            names = {n.strip() for n in assigns.group(1).split(",")}
            if not any(re.search(rf"(?<![\w.]){re.escape(n)}(?!\w)", b) for n in names if n):
                lines[i - 1], lines[i] = b, a
                i += 2
                continue
        i += 1
    return "\n".join(lines)


def disguised(variant, how):
    """{grade_id: body} of an independent solution, disguised: how is a set of 'rename', 'comments', 'reorder'."""
    bodies = {}
    for cell, body in INDEPENDENT[variant].items():
        if "rename" in how:
            body = rename(body, RENAMES[variant])
        if "reorder" in how:
            body = reorder_statements(body)
        if "comments" in how:
            body = recomment(body)
        bodies[cell] = body
    return bodies


def rnncore_bodies():
    """{grade_id: body} taken from rnncore's own functions (their code under the docstring), variables renamed:
    what a student who copies the package hands in."""
    import rnncore
    from rnncore import bptt, clipping, gradcheck, rnn
    bodies = {}
    for module, names in ((gradcheck, ["rel_error", "numeric_gradient"]),
                          (rnn, ["rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward"]),
                          (clipping, ["clip_by_value", "clip_by_global_norm"])):
        tree = ast.parse(inspect.getsource(module))
        source = inspect.getsource(module).splitlines()
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name in names:
                start = node.body[1].lineno if isinstance(node.body[0], ast.Expr) and \
                    isinstance(node.body[0].value, ast.Constant) else node.body[0].lineno
                bodies[node.name] = textwrap.dedent("\n".join(source[start - 1:node.end_lineno]))
    assert set(bodies) >= {"rel_error", "numeric_gradient", "rnn_step_forward", "rnn_step_backward", "rnn_forward",
                           "rnn_backward", "clip_by_value", "clip_by_global_norm"}, sorted(bodies)
    del rnncore, bptt
    return {cell: rename(body, {"dz": "delta", "caches": "memories", "next_h": "h_out",
                                "prev_h": "h_before", "norm": "total_norm", "grad": "g_out"})
            for cell, body in bodies.items()}
