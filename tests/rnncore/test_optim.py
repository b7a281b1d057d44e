"""Optimizers: the slides' formulas, PyTorch's iterates, and one shared interface."""
import numpy as np
import pytest
import torch

import rnncore as rc

ALL = [rc.SGD(lr=0.1), rc.Momentum(lr=0.1, beta=0.8), rc.Nesterov(lr=0.1, beta=0.8), rc.Adagrad(lr=0.5),
       rc.RMSprop(lr=0.05, rho=0.9), rc.Adam(lr=0.1)]


def quadratic(A, c):
    """f(x) = 1/2 (x - c)^T A (x - c) and its gradient."""
    return lambda x: 0.5 * (x - c) @ A @ (x - c), lambda x: A @ (x - c)


def test_gradient_descent_reproduces_the_slide_example():
    """Does SGD on f(x) = x^2 - 2 from x0 = 3 with eta = 0.4 give the slide's x_1..x_5?"""
    path = rc.minimize(rc.SGD(lr=0.4), lambda x: 2 * x, np.array(3.0), steps=5)
    np.testing.assert_allclose([float(x) for x in path[1:]], [0.6, 0.12, 0.024, 0.0048, 0.00096], rtol=1e-12)
    np.testing.assert_allclose([float(x) ** 2 - 2 for x in path[1:]],
                               [-1.64, -1.9856, -1.999424, -1.99997696, -1.9999990784], rtol=1e-12)


def _slide_formulas(name, theta, grad, steps, lr, beta=0.8, b1=0.9, b2=0.999, eps=1e-8, rho=0.9):
    """The slides' update rules written out literally, for comparison."""
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    for t in range(1, steps + 1):
        if name == "momentum":
            m = beta * m + lr * grad(theta)
            theta = theta - m
        elif name == "nesterov":
            v = beta * v + lr * grad(theta - beta * v)
            theta = theta - v
        elif name == "adagrad":
            g = grad(theta)
            m = m + g ** 2
            theta = theta - lr * g / np.sqrt(m + eps)
        elif name == "rmsprop":
            g = grad(theta)
            v = rho * v + (1 - rho) * g ** 2
            theta = theta - lr * g / np.sqrt(v + eps)
        elif name == "adam":
            g = grad(theta)
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g ** 2
            theta = theta - lr * (m / (1 - b1 ** t)) / np.sqrt(v / (1 - b2 ** t) + eps)
    return theta


@pytest.mark.parametrize("name, opt", [("momentum", rc.Momentum(lr=0.05, beta=0.8)),
                                       ("nesterov", rc.Nesterov(lr=0.05, beta=0.8)),
                                       ("adagrad", rc.Adagrad(lr=0.3)),
                                       ("rmsprop", rc.RMSprop(lr=0.05, rho=0.9)),
                                       ("adam", rc.Adam(lr=0.1))])
def test_each_optimizer_follows_the_slide_formula(name, opt, rng):
    """After 20 steps on a random quadratic, is theta what the slide's formula gives?"""
    M = rng.standard_normal((3, 3))
    _, grad = quadratic(M @ M.T + np.eye(3), rng.standard_normal(3))
    theta0 = rng.standard_normal(3)
    np.testing.assert_allclose(rc.minimize(opt, grad, theta0, 20)[-1],
                               _slide_formulas(name, theta0, grad, 20, opt.lr), rtol=1e-12)


def _torch_path(make_opt, grad, theta0, steps):
    p = torch.tensor(theta0, requires_grad=True)
    opt = make_opt([p])
    path = []
    for _ in range(steps):
        opt.zero_grad()
        p.grad = torch.from_numpy(grad(p.detach().numpy().copy()))
        opt.step()
        path.append(p.detach().numpy().copy())
    return np.array(path)


@pytest.mark.parametrize("ours, theirs", [
    (rc.SGD(lr=0.1), lambda ps: torch.optim.SGD(ps, lr=0.1)),
    (rc.Momentum(lr=0.1, beta=0.7), lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.7)),
    (rc.Adagrad(lr=0.3, eps=1e-10, eps_inside_sqrt=False), lambda ps: torch.optim.Adagrad(ps, lr=0.3, eps=1e-10)),
    (rc.RMSprop(lr=0.01, rho=0.9, eps_inside_sqrt=False), lambda ps: torch.optim.RMSprop(ps, lr=0.01, alpha=0.9)),
    (rc.Adam(lr=0.05, eps_inside_sqrt=False), lambda ps: torch.optim.Adam(ps, lr=0.05)),
], ids=["sgd", "momentum", "adagrad", "rmsprop", "adam"])
def test_pytorch_placement_of_eps_matches_torch_optim(ours, theirs, rng):
    """With eps_inside_sqrt=False, are the iterates those of torch.optim in float64?"""
    M = rng.standard_normal((4, 4))
    _, grad = quadratic(M @ M.T + np.eye(4), rng.standard_normal(4))
    theta0 = rng.standard_normal(4)
    path = np.array(rc.minimize(ours, grad, theta0, 15)[1:])
    np.testing.assert_allclose(path, _torch_path(theirs, grad, theta0, 15), rtol=1e-10, atol=1e-12)


def test_nesterov_iterates_match_torch_after_the_change_of_variable(rng):
    """Is PyTorch's nesterov iterate p equal to the slides' theta - beta v (after the same steps)?"""
    lr, beta = 0.05, 0.8
    M = rng.standard_normal((3, 3))
    _, grad = quadratic(M @ M.T + np.eye(3), rng.standard_normal(3))
    theta0 = rng.standard_normal(3)
    opt = rc.Nesterov(lr=lr, beta=beta)
    theta, state = theta0, opt.init(theta0)
    ours = []
    for _ in range(10):
        theta, state = opt.step(theta, grad, state)
        ours.append(theta - beta * state["v"])
    # torch's buffer b is the slides' v / lr, and torch keeps the look-ahead point as its parameter
    theirs = _torch_path(lambda ps: torch.optim.SGD(ps, lr=lr, momentum=beta, nesterov=True), grad, theta0, 10)
    np.testing.assert_allclose(np.array(ours), theirs, rtol=1e-10, atol=1e-12)


def test_nesterov_evaluates_the_gradient_at_the_look_ahead_point():
    """Does Nesterov call grad_fn at theta - beta v, not at theta?"""
    calls = []

    def grad(x):
        calls.append(float(x))
        return 2 * x
    opt = rc.Nesterov(lr=0.1, beta=0.5)
    theta, state = opt.step(np.array(1.0), grad, opt.init(np.array(1.0)))   # v = 0.2, theta = 0.8
    opt.step(theta, grad, state)
    assert calls == pytest.approx([1.0, 0.8 - 0.5 * 0.2])


def test_eps_placement_matters_only_for_tiny_gradients():
    """Do the two eps placements agree for ordinary gradients and differ for tiny ones?"""
    inside, outside = rc.Adam(lr=0.1, eps=1e-8), rc.Adam(lr=0.1, eps=1e-8, eps_inside_sqrt=False)
    for scale, close in ((1.0, True), (1e-9, False)):
        grad = lambda x: scale * 2 * x
        a = rc.minimize(inside, grad, np.array([1.0]), 3)[-1]
        b = rc.minimize(outside, grad, np.array([1.0]), 3)[-1]
        assert np.allclose(a, b, rtol=1e-6) == close


@pytest.mark.parametrize("opt", ALL, ids=lambda o: type(o).__name__)
def test_step_is_pure_and_works_on_dicts(opt, rng):
    """Does step leave theta and state untouched, and treat a dict of arrays leaf by leaf?"""
    theta = {"W": rng.standard_normal((2, 3)), "b": rng.standard_normal(3)}
    grad = lambda p: {k: 2 * v for k, v in p.items()}
    state = opt.init(theta)
    snapshot = {k: v.copy() for k, v in theta.items()}
    state_snapshot = {k: ({kk: vv.copy() for kk, vv in v.items()} if isinstance(v, dict) else v)
                      for k, v in state.items()}
    new_theta, new_state = opt.step(theta, grad, state)
    for k in theta:
        np.testing.assert_array_equal(theta[k], snapshot[k])
    for k, v in state.items():
        if isinstance(v, dict):
            for kk in v:
                np.testing.assert_array_equal(v[kk], state_snapshot[k][kk])
    single = opt.step(theta["W"], lambda p: 2 * p, opt.init(theta["W"]))[0]
    np.testing.assert_allclose(new_theta["W"], single)
    assert new_state["t"] == 1


@pytest.mark.parametrize("opt", ALL, ids=lambda o: type(o).__name__)
def test_every_optimizer_decreases_a_convex_loss(opt):
    """After 200 steps on a well-conditioned quadratic, is every optimizer close to the minimum?"""
    f, grad = quadratic(np.diag([1.0, 2.0]), np.array([1.0, -1.0]))
    assert f(rc.minimize(opt, grad, np.array([3.0, 2.0]), 200)[-1]) < 1e-2 * f(np.array([3.0, 2.0]))


@pytest.mark.parametrize("make, message", [
    (lambda: rc.SGD(lr=0), "lr must be positive"),
    (lambda: rc.Momentum(beta=1.0), r"beta must lie in \[0, 1\)"),
    (lambda: rc.Adam(eps=0), "eps must be positive"),
    (lambda: rc.minimize(rc.SGD(), lambda x: x, np.zeros(1), -1), "non-negative integer"),
    (lambda: rc.SGD().step({"a": np.zeros(1)}, lambda p: {"b": np.zeros(1)}, {"t": 0}), "keys"),
])
def test_bad_hyperparameters_are_refused(make, message):
    """Do impossible hyperparameters and mismatched gradients raise clear ValueErrors?"""
    with pytest.raises(ValueError, match=message):
        make()
