"""Gradient-descent optimizers with the slides' formulas.

One interface for all of them. An optimizer is a small frozen dataclass of hyperparameters;
the moving parts live in an explicit `state` dict that you pass in and get back:

    opt = Adam(lr=0.1)
    state = opt.init(theta)
    for _ in range(steps):
        theta, state = opt.step(theta, grad_fn, state)

theta is an array or a dict {name: array}; grad_fn(theta) returns the gradient of the loss
with the same structure. The optimizer calls grad_fn itself because Nesterov's method evaluates
the gradient at a look-ahead point, not at theta. step never changes theta or state in place.

Notation of the slides (g = grad L(theta), eta = learning rate):

    SGD       theta = theta - eta g
    Momentum  m = beta m + eta g;                       theta = theta - m
    Nesterov  v = beta v + eta grad L(theta - beta v);  theta = theta - v
    Adagrad   G = G + g^2;                              theta = theta - eta g / sqrt(G + eps)
    RMSprop   v = rho v + (1 - rho) g^2;                theta = theta - eta g / sqrt(v + eps)
    Adam      m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
              m^ = m / (1 - b1^t);    v^ = v / (1 - b2^t);  theta = theta - eta m^ / sqrt(v^ + eps)

Where eps goes: the slides put eps inside the square root. PyTorch (torch.optim) and the Adam
paper use sqrt(.) + eps. Both are available: `eps_inside_sqrt=True` (default, the slides) or
False (PyTorch). They differ only while the squared-gradient average is comparable to eps.
Momentum as written here equals torch.optim.SGD(momentum=beta) with m = eta * buffer; the
slides' Nesterov iterate theta relates to PyTorch's nesterov=True iterate p by p = theta - beta v.
"""
from dataclasses import dataclass

import numpy as np

from ._validate import check_positive


def tree_map(fn, *trees):
    """Apply fn leaf by leaf to arrays or to dicts of arrays with the same keys."""
    first = trees[0]
    if isinstance(first, dict):
        for other in trees[1:]:
            if not isinstance(other, dict) or other.keys() != first.keys():
                raise ValueError(f"expected a dict with keys {sorted(first)}, got "
                                 f"{sorted(other) if isinstance(other, dict) else type(other).__name__}")
        return {k: fn(*(t[k] for t in trees)) for k in first}
    return fn(*(np.asarray(t, dtype=np.float64) if np.isscalar(t) else t for t in trees))


def _zeros_like(theta):
    return tree_map(lambda p: np.zeros_like(p, dtype=np.result_type(p, np.float64)), theta)


def _root(x, eps, inside):
    """sqrt(x + eps) (the slides) or sqrt(x) + eps (PyTorch, the Adam paper)."""
    return np.sqrt(x + eps) if inside else np.sqrt(x) + eps


def _check_beta(name, beta):
    if not 0 <= beta < 1:
        raise ValueError(f"{name} must lie in [0, 1), got {beta}")


@dataclass(frozen=True)
class SGD:
    """Plain gradient descent: theta = theta - lr * g."""
    lr: float = 0.01

    def __post_init__(self):
        check_positive("lr", self.lr)

    def init(self, theta):
        return {"t": 0}

    def step(self, theta, grad_fn, state):
        g = grad_fn(theta)
        new_theta = tree_map(lambda p, g: p - self.lr * g, theta, g)
        return new_theta, {"t": state["t"] + 1}


@dataclass(frozen=True)
class Momentum:
    """SGD with momentum: m = beta m + lr g; theta = theta - m."""
    lr: float = 0.01
    beta: float = 0.9

    def __post_init__(self):
        check_positive("lr", self.lr)
        _check_beta("beta", self.beta)

    def init(self, theta):
        return {"t": 0, "m": _zeros_like(theta)}

    def step(self, theta, grad_fn, state):
        g = grad_fn(theta)
        m = tree_map(lambda m, g: self.beta * m + self.lr * g, state["m"], g)   # velocity
        return tree_map(lambda p, m: p - m, theta, m), {"t": state["t"] + 1, "m": m}


@dataclass(frozen=True)
class Nesterov:
    """Nesterov accelerated gradient: v = beta v + lr grad L(theta - beta v); theta = theta - v."""
    lr: float = 0.01
    beta: float = 0.9

    def __post_init__(self):
        check_positive("lr", self.lr)
        _check_beta("beta", self.beta)

    def init(self, theta):
        return {"t": 0, "v": _zeros_like(theta)}

    def step(self, theta, grad_fn, state):
        lookahead = tree_map(lambda p, v: p - self.beta * v, theta, state["v"])
        g = grad_fn(lookahead)                                            # gradient where momentum will carry us
        v = tree_map(lambda v, g: self.beta * v + self.lr * g, state["v"], g)
        return tree_map(lambda p, v: p - v, theta, v), {"t": state["t"] + 1, "v": v}


@dataclass(frozen=True)
class Adagrad:
    """Adagrad: G = G + g^2; theta = theta - lr g / sqrt(G + eps) (see eps_inside_sqrt)."""
    lr: float = 0.01
    eps: float = 1e-8
    eps_inside_sqrt: bool = True

    def __post_init__(self):
        check_positive("lr", self.lr)
        check_positive("eps", self.eps)

    def init(self, theta):
        return {"t": 0, "G": _zeros_like(theta)}

    def step(self, theta, grad_fn, state):
        g = grad_fn(theta)
        G = tree_map(lambda G, g: G + g * g, state["G"], g)              # sum of squared gradients
        new_theta = tree_map(lambda p, g, G: p - self.lr * g / _root(G, self.eps, self.eps_inside_sqrt),
                             theta, g, G)
        return new_theta, {"t": state["t"] + 1, "G": G}


@dataclass(frozen=True)
class RMSprop:
    """RMSprop: v = rho v + (1 - rho) g^2; theta = theta - lr g / sqrt(v + eps) (see eps_inside_sqrt)."""
    lr: float = 0.01
    rho: float = 0.99
    eps: float = 1e-8
    eps_inside_sqrt: bool = True

    def __post_init__(self):
        check_positive("lr", self.lr)
        check_positive("eps", self.eps)
        _check_beta("rho", self.rho)

    def init(self, theta):
        return {"t": 0, "v": _zeros_like(theta)}

    def step(self, theta, grad_fn, state):
        g = grad_fn(theta)
        v = tree_map(lambda v, g: self.rho * v + (1 - self.rho) * g * g, state["v"], g)   # running mean of g^2
        new_theta = tree_map(lambda p, g, v: p - self.lr * g / _root(v, self.eps, self.eps_inside_sqrt),
                             theta, g, v)
        return new_theta, {"t": state["t"] + 1, "v": v}


@dataclass(frozen=True)
class Adam:
    """Adam with bias correction; theta = theta - lr m^ / sqrt(v^ + eps) (see eps_inside_sqrt)."""
    lr: float = 0.001
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    eps_inside_sqrt: bool = True

    def __post_init__(self):
        check_positive("lr", self.lr)
        check_positive("eps", self.eps)
        _check_beta("beta1", self.beta1)
        _check_beta("beta2", self.beta2)

    def init(self, theta):
        return {"t": 0, "m": _zeros_like(theta), "v": _zeros_like(theta)}

    def step(self, theta, grad_fn, state):
        g = grad_fn(theta)
        t = state["t"] + 1
        m = tree_map(lambda m, g: self.beta1 * m + (1 - self.beta1) * g, state["m"], g)      # mean of g
        v = tree_map(lambda v, g: self.beta2 * v + (1 - self.beta2) * g * g, state["v"], g)  # mean of g^2

        def update(p, m, v):
            m_hat = m / (1 - self.beta1 ** t)                 # undo the bias towards the zero start
            v_hat = v / (1 - self.beta2 ** t)
            return p - self.lr * m_hat / _root(v_hat, self.eps, self.eps_inside_sqrt)
        return tree_map(update, theta, m, v), {"t": t, "m": m, "v": v}


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "nesterov": Nesterov,
              "adagrad": Adagrad, "rmsprop": RMSprop, "adam": Adam}


def minimize(optimizer, grad_fn, theta0, steps):
    """Run `steps` optimizer steps from theta0 and return the trajectory [theta0, theta1, ...].

    Handy for plotting optimizer paths on a function of a few variables.
    """
    if int(steps) != steps or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps}")
    theta = theta0 if isinstance(theta0, dict) else np.asarray(theta0, dtype=np.result_type(theta0, np.float64))
    state = optimizer.init(theta)
    path = [theta]
    for _ in range(int(steps)):
        theta, state = optimizer.step(theta, grad_fn, state)
        path.append(theta)
    return path
