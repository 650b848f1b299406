"""NumPy references for the graph and training suites, written from the formulas in
include/descent.h (@@graphs@@, @@training@@) and docs/gradients.md, never calling descent.

Everything is computed in float64 from the (possibly float32) inputs. The SplitMix64 generator is
the suite's independent one (test_foundation_tensor.splitmix64, checked there against the
published sequence).
"""
import numpy as np

from test_foundation_tensor import splitmix64

TWO64 = 1 << 64


def f64(x):
    return np.asarray(x, dtype=np.float64)


# ---- SplitMix64 streams -------------------------------------------------------------------------

def sm_output(seed, index):
    """SplitMix64(seed).output(index) as a Python int."""
    return int(splitmix64(seed, index + 1)[index])


def unit53(seed, count):
    """unit53(i) = (output(i) >> 11) * 2^-53 for i in 0..count-1 of SplitMix64(seed)."""
    return (splitmix64(seed, count) >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


def dropout_mask(seed, step, count, p):
    """Element i of training step `step` keeps (scale 1/(1-p)) when unit53(i) of
    SplitMix64(SplitMix64(seed).output(step)) >= p, else 0."""
    u = unit53(sm_output(seed, step), count)
    return np.where(u >= p, 1.0 / (1.0 - p), 0.0)


def fisher_yates(n, seed, epoch):
    """The loader's documented shuffle: swap i from N-1 down to 1 with
    j = floor(output(N-1-i) * (i+1) / 2^64) of SplitMix64 seeded by SplitMix64(seed).output(epoch)."""
    order = list(range(n))
    if n < 2:
        return np.array(order, dtype=np.int64)
    outputs = [int(v) for v in splitmix64(sm_output(seed, epoch), n - 1)]
    for i in range(n - 1, 0, -1):
        j = (outputs[n - 1 - i] * (i + 1)) // TWO64
        order[i], order[j] = order[j], order[i]
    return np.array(order, dtype=np.int64)


def batches(n, batch_size, seed, epoch, shuffle=True, drop_last=False):
    """Index arrays of the batches of one epoch, in order."""
    order = fisher_yates(n, seed, epoch) if shuffle else np.arange(n)
    count = n // batch_size if drop_last else -(-n // batch_size)
    return [order[b * batch_size:(b + 1) * batch_size] for b in range(count)]


# ---- activations ------------------------------------------------------------------------------

def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def activation(z, kind, slope=0.01):
    z = f64(z)
    if kind == "identity":
        return z
    if kind == "sigmoid":
        return sigmoid(z)
    if kind == "tanh":
        return np.tanh(z)
    if kind == "relu":
        return np.where(z > 0, z, 0.0)
    if kind == "leaky_relu":
        return np.where(z > 0, z, slope * z)
    if kind == "softmax":
        return softmax(z)
    raise ValueError(kind)


def activation_vjp(z, g, kind, slope=0.01):
    """g ⊙ f'(z) (softmax: y ⊙ (g - Σ g y) along the last axis)."""
    z, g = f64(z), f64(g)
    if kind == "identity":
        return g
    if kind == "sigmoid":
        s = sigmoid(z)
        return g * s * (1 - s)
    if kind == "tanh":
        return g * (1 - np.tanh(z) ** 2)
    if kind == "relu":
        return g * (z > 0)
    if kind == "leaky_relu":
        return g * np.where(z > 0, 1.0, slope)
    if kind == "softmax":
        y = softmax(z)
        return y * (g - np.sum(g * y, axis=-1, keepdims=True))
    raise ValueError(kind)


# ---- costs: (value, d value / d prediction) ---------------------------------------------------

def cost(name, p, y, reduction="mean", parameter=0.0):
    p, y = f64(p), np.asarray(y)
    if name == "sse":
        r = p - y
        return 0.5 * np.sum(r * r), r
    if name == "quadratic":
        n = p.shape[0]
        r = p - y
        return np.sum(r * r) / (2 * n), r / n
    if name == "mse":
        r = p - y
        return np.mean(r * r), 2 * r / r.size
    factor = 1.0 / p.size if reduction == "mean" else 1.0
    if name == "bce":
        c = np.clip(p, parameter, 1 - parameter)
        loss = -(y * np.log(c) + (1 - y) * np.log(1 - c))
        return factor * np.sum(loss), factor * (c - y) / (c * (1 - c))
    if name == "bce_logits":
        loss = np.maximum(p, 0) - p * y + np.log1p(np.exp(-np.abs(p)))
        # σ(z) - y, written as (1-y)σ(z) - yσ(-z) so it keeps full precision where σ(z) ≈ y
        return factor * np.sum(loss), factor * ((1 - y) * sigmoid(p) - y * sigmoid(-p))
    batch = p.shape[0]
    factor = 1.0 / batch if reduction == "mean" else 1.0
    rows = np.arange(batch)
    if name == "softmax_cross_entropy":
        m = p.max(axis=1, keepdims=True)
        logsumexp = np.log(np.sum(np.exp(p - m), axis=1)) + m[:, 0]
        grad = softmax(p)
        grad[rows, y] -= 1
        return factor * np.sum(logsumexp - p[rows, y]), factor * grad
    if name == "multiclass_hinge":
        margins = p - p[rows, y][:, None] + parameter
        margins[rows, y] = 0
        active = (margins > 0).astype(np.float64)
        grad = active.copy()
        grad[rows, y] = -active.sum(axis=1)
        return factor * np.sum(np.maximum(margins, 0)), factor * grad
    raise ValueError(name)


# ---- batch normalization ----------------------------------------------------------------------

def batch_norm_train(x, gamma, beta, running_mean, running_var, momentum, eps):
    """(y, x̂, μ, σ², new running mean, new running var): biased σ² normalizes, the running
    variance takes the unbiased one."""
    x = f64(x)
    n = x.shape[0]
    mu = x.mean(axis=0)
    var = ((x - mu) ** 2).mean(axis=0)
    xhat = (x - mu) / np.sqrt(var + eps)
    y = f64(gamma) * xhat + f64(beta)
    rm = (1 - momentum) * f64(running_mean) + momentum * mu
    rv = (1 - momentum) * f64(running_var) + momentum * var * n / (n - 1)
    return y, xhat, mu, var, rm, rv


def batch_norm_train_vjp(x, gamma, dy, eps):
    """(dx, dγ, dβ) of training-mode batch norm, from the chain rule through μ and σ²."""
    x, dy = f64(x), f64(dy)
    n = x.shape[0]
    mu = x.mean(axis=0)
    var = ((x - mu) ** 2).mean(axis=0)
    inv = 1 / np.sqrt(var + eps)
    xhat = (x - mu) * inv
    dbeta = dy.sum(axis=0)
    dgamma = (dy * xhat).sum(axis=0)
    dxhat = dy * f64(gamma)
    dvar = np.sum(dxhat * (x - mu), axis=0) * -0.5 * inv ** 3
    dmu = -np.sum(dxhat * inv, axis=0) + dvar * np.mean(-2 * (x - mu), axis=0)
    dx = dxhat * inv + dvar * 2 * (x - mu) / n + dmu / n
    return dx, dgamma, dbeta


# ---- a NumPy MLP (forward and backward by hand) -----------------------------------------------

def mlp_forward_backward(x, params, target, *, activation_kind="relu", loss="softmax_cross_entropy",
                         batch_norm=False, bn_eps=1e-5, l2=0.0, slope=0.01, return_output=False):
    """Loss and gradients (one per param, in creation order) of the layers descent.MLP builds:
    hidden = f(x Wᵀ + b) (or f(BN(x Wᵀ)) with batch norm), last = x Wᵀ + b, then the cost
    (+ λ/2 Σ‖W‖² over the weight matrices). `params` is the creation-ordered list:
    W, b per layer, or W, γ, β per hidden layer with batch norm. With return_output, the last
    layer's output (the logits) comes third."""
    layers, i = [], 0
    params = [f64(p) for p in params]
    while i < len(params):
        W = params[i]
        if batch_norm and i + 2 != len(params):      # hidden layer: W, γ, β (no bias)
            layers.append(("bn", i, W, params[i + 1], params[i + 2]))
            i += 3
        else:                                         # W, b
            layers.append(("dense", i, W, params[i + 1], None))
            i += 2
    h, caches = f64(x), []
    for position, (kind, index, W, a, b) in enumerate(layers):
        last = position == len(layers) - 1
        if kind == "bn":
            z = h @ W.T
            bn_y, xhat, mu, var, _, _ = batch_norm_train(z, a, b, np.zeros_like(a), np.ones_like(a), 0.1, bn_eps)
            out = activation(bn_y, activation_kind, slope)
            caches.append((kind, index, h, z, bn_y))
        else:
            z = h @ W.T + a
            out = z if last else activation(z, activation_kind, slope)
            caches.append((kind, index, h, z, None))
        h = out
    output = h
    value, dh = cost(loss, h, target, "mean", 1.0 if loss == "multiclass_hinge" else 0.0)   # MLP: margin 1
    grads = [None] * len(params)
    for position in range(len(layers) - 1, -1, -1):
        kind, index, h_in, z, bn_y = caches[position]
        _, _, W, a, b = layers[position]
        last = position == len(layers) - 1
        if kind == "bn":
            dbn = activation_vjp(bn_y, dh, activation_kind, slope)
            dz, grads[index + 1], grads[index + 2] = batch_norm_train_vjp(z, a, dbn, bn_eps)
        else:
            dz = dh if last else activation_vjp(z, dh, activation_kind, slope)
            grads[index + 1] = dz.sum(axis=0)
        grads[index] = dz.T @ h_in
        dh = dz @ W
    if l2:
        for index, p in enumerate(params):
            if p.ndim == 2:
                value += 0.5 * l2 * np.sum(p * p)
                grads[index] = grads[index] + l2 * p
    return (value, grads, output) if return_output else (value, grads)
