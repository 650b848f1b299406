"""NumPy references for every update rule, written from the formulas in docs/optimizers.md
(PyTorch torch.optim semantics), never calling descent. Arithmetic happens in the arrays' dtype
(NumPy 2 keeps float32 arrays float32 when multiplied by Python floats), scalars such as bias
corrections in float64, as the library does.

`Reference(rule, param, **hyper).step(grad)` keeps its own state; `reference.param` is the result.
"""
import math

import numpy as np

DEFAULTS = {
    "sgd": dict(lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, momentum_form="pytorch"),
    "adagrad": dict(lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10,
                    eps_inside_sqrt=False),
    "adadelta": dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0),
    "rmsprop": dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                    eps_inside_sqrt=False),
    "adam": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, bias_correction=True,
                 eps_inside_sqrt=False),
    "adamw": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, bias_correction=True,
                  eps_inside_sqrt=False),
    "adamax": dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, bias_correction=True),
    "nadam": dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, momentum_decay=4e-3),
    "radam": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0),
    "lion": dict(lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0),
}


class Reference:
    def __init__(self, rule, param, **hyper):
        self.rule = rule
        self.h = dict(DEFAULTS[rule])
        self.h.setdefault("maximize", False)
        self.h.setdefault("decoupled_weight_decay", rule in ("adamw", "lion"))
        self.h.update(hyper)
        self.param = np.array(param, copy=True)
        self.dtype = self.param.dtype
        zeros = lambda: np.zeros_like(self.param)  # noqa: E731
        self.state = {}
        if rule == "adagrad":
            self.state["sum"] = np.full_like(self.param, self.h["initial_accumulator_value"])
        self.zeros = zeros
        self.t = 0
        self.mu_product = 1.0

    def _slot(self, name):
        if name not in self.state:
            self.state[name] = self.zeros()
        return self.state[name]

    def step(self, grad):
        self.t += 1
        h, t, w = self.h, self.t, self.param
        lr, wd = h["lr"], h["weight_decay"]
        g = np.array(grad, dtype=self.dtype, copy=True)
        if h["maximize"]:
            g = -g
        decay = 1.0
        if h["decoupled_weight_decay"]:
            decay = 1 - lr * wd
        elif wd != 0:
            g = g + wd * w
        getattr(self, "_" + self.rule)(w, g, t, h, decay)
        return self.param

    def _sgd(self, w, g, t, h, decay):
        mu, lr = h["momentum"], h["lr"]
        if mu == 0:
            w[...] = w * decay - lr * g
            return
        b = self._slot("momentum_buffer")
        form = h["momentum_form"]
        if form == "cs231n":
            b[...] = mu * b - lr * g
            w[...] = w * decay + b
            return
        if form == "ema":
            b[...] = mu * b + (1 - mu) * g
        elif t == 1:
            b[...] = g
        else:
            b[...] = mu * b + (1 - h["dampening"]) * g
        d = g + mu * b if h["nesterov"] else b
        w[...] = w * decay - lr * d

    def _adagrad(self, w, g, t, h, decay):
        clr = h["lr"] / (1 + (t - 1) * h["lr_decay"])
        s = self.state["sum"]
        s[...] = s + g * g
        denominator = np.sqrt(s + h["eps"]) if h["eps_inside_sqrt"] else np.sqrt(s) + h["eps"]
        w[...] = w * decay - clr * g / denominator

    def _adadelta(self, w, g, t, h, decay):
        rho, eps = h["rho"], h["eps"]
        v, u = self._slot("square_avg"), self._slot("acc_delta")
        v[...] = rho * v + (1 - rho) * g * g
        delta = np.sqrt(u + eps) / np.sqrt(v + eps) * g
        u[...] = rho * u + (1 - rho) * delta * delta
        w[...] = w * decay - h["lr"] * delta

    def _rmsprop(self, w, g, t, h, decay):
        alpha, eps, mu = h["alpha"], h["eps"], h["momentum"]
        v = self._slot("square_avg")
        v[...] = alpha * v + (1 - alpha) * g * g
        square = v
        if h["centered"]:
            mean = self._slot("grad_avg")
            mean[...] = alpha * mean + (1 - alpha) * g
            square = v - mean * mean
        d = np.sqrt(square + eps) if h["eps_inside_sqrt"] else np.sqrt(square) + eps
        if mu > 0:
            b = self._slot("momentum_buffer")
            b[...] = mu * b + g / d
            w[...] = w * decay - h["lr"] * b
        else:
            w[...] = w * decay - h["lr"] * g / d

    def _adam(self, w, g, t, h, decay):
        b1, b2 = h["betas"]
        m, v = self._slot("exp_avg"), self._slot("exp_avg_sq")
        m[...] = b1 * m + (1 - b1) * g
        v[...] = b2 * v + (1 - b2) * g * g
        second = v
        if h["amsgrad"]:
            vmax = self._slot("max_exp_avg_sq")
            vmax[...] = np.maximum(vmax, v)
            second = vmax
        c1 = 1 - b1 ** t if h["bias_correction"] else 1.0
        c2 = 1 - b2 ** t if h["bias_correction"] else 1.0
        if h["eps_inside_sqrt"]:
            d = np.sqrt(second / c2 + h["eps"])
        else:
            d = np.sqrt(second) / math.sqrt(c2) + h["eps"]
        w[...] = w * decay - (h["lr"] / c1) * m / d

    _adamw = _adam

    def _adamax(self, w, g, t, h, decay):
        b1, b2 = h["betas"]
        m, u = self._slot("exp_avg"), self._slot("exp_inf")
        m[...] = b1 * m + (1 - b1) * g
        u[...] = np.maximum(b2 * u, np.abs(g) + h["eps"])
        c1 = 1 - b1 ** t if h["bias_correction"] else 1.0
        w[...] = w * decay - (h["lr"] / c1) * m / u

    def _nadam(self, w, g, t, h, decay):
        b1, b2 = h["betas"]
        psi, lr = h["momentum_decay"], h["lr"]
        mu = b1 * (1 - 0.5 * 0.96 ** (t * psi))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
        self.mu_product *= mu
        product = self.mu_product
        m, v = self._slot("exp_avg"), self._slot("exp_avg_sq")
        m[...] = b1 * m + (1 - b1) * g
        v[...] = b2 * v + (1 - b2) * g * g
        d = np.sqrt(v / (1 - b2 ** t)) + h["eps"]
        w[...] = (w * decay - (lr * (1 - mu) / (1 - product)) * g / d
                  - (lr * mu_next / (1 - product * mu_next)) * m / d)

    def _radam(self, w, g, t, h, decay):
        b1, b2 = h["betas"]
        lr = h["lr"]
        m, v = self._slot("exp_avg"), self._slot("exp_avg_sq")
        m[...] = b1 * m + (1 - b1) * g
        v[...] = b2 * v + (1 - b2) * g * g
        c1, c2 = 1 - b1 ** t, 1 - b2 ** t
        rho_inf = 2 / (1 - b2) - 1
        rho_t = rho_inf - 2 * t * b2 ** t / c2
        if rho_t > 5:
            r = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            w[...] = w * decay - (lr * r * math.sqrt(c2) / c1) * m / (np.sqrt(v) + h["eps"])
        else:
            w[...] = w * decay - (lr / c1) * m

    def _lion(self, w, g, t, h, decay):
        b1, b2 = h["betas"]
        m = self._slot("exp_avg")
        c = b1 * m + (1 - b1) * g
        w[...] = w * decay - h["lr"] * np.sign(c)
        m[...] = b2 * m + (1 - b2) * g


# Every rule and variant the suites cover: (rule, options).
VARIANTS = [
    ("sgd", dict(lr=0.05)),
    ("sgd", dict(lr=0.05, weight_decay=0.01)),
    ("sgd", dict(lr=0.05, momentum=0.9)),
    ("sgd", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("sgd", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("sgd", dict(lr=0.05, momentum=0.9, momentum_form="ema")),
    ("sgd", dict(lr=0.05, momentum=0.9, momentum_form="cs231n", maximize=True)),
    ("sgd", dict(lr=0.05, momentum=0.5, weight_decay=0.1, decoupled_weight_decay=True)),
    ("adagrad", dict()),
    ("adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1)),
    ("adagrad", dict(eps_inside_sqrt=True, eps=1e-6, maximize=True)),
    ("adadelta", dict()),
    ("adadelta", dict(lr=0.5, rho=0.95, weight_decay=0.01, maximize=True)),
    ("rmsprop", dict()),
    ("rmsprop", dict(centered=True, momentum=0.9, weight_decay=0.01)),
    ("rmsprop", dict(centered=True, eps_inside_sqrt=True, eps=1e-4)),
    ("rmsprop", dict(momentum=0.5, decoupled_weight_decay=True, weight_decay=0.1)),
    ("adam", dict()),
    ("adam", dict(lr=1e-2, betas=(0.9, 0.99), eps=1e-8)),  # the textbook notes' setting
    ("adam", dict(amsgrad=True, weight_decay=0.01)),
    ("adam", dict(bias_correction=False, eps_inside_sqrt=True, maximize=True)),
    ("adam", dict(decoupled_weight_decay=True, weight_decay=0.1, amsgrad=True, eps_inside_sqrt=True)),
    ("adamw", dict()),
    ("adamw", dict(lr=1e-2, weight_decay=0.1, amsgrad=True)),
    ("adamax", dict()),
    ("adamax", dict(weight_decay=0.01, bias_correction=False, maximize=True)),
    ("nadam", dict()),
    ("nadam", dict(weight_decay=0.01, momentum_decay=1e-2)),
    ("nadam", dict(weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("radam", dict()),
    ("radam", dict(lr=1e-2, weight_decay=0.01, betas=(0.8, 0.99))),
    ("radam", dict(weight_decay=0.1, decoupled_weight_decay=True)),
    ("lion", dict()),
    ("lion", dict(lr=1e-3, weight_decay=0.1)),
    ("lion", dict(lr=1e-3, weight_decay=0.1, decoupled_weight_decay=False, maximize=True)),
]


def variant_id(variant):
    rule, options = variant
    return rule + ("-" + "-".join(f"{k}={v}" for k, v in options.items()) if options else "")
