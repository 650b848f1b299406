"""End to end: a two-layer network trained on the cs231n spiral data set with mini-batch
gradient descent, every piece of math done by descent.

    forward   h = relu(X W1ᵀ + b1), s = h W2ᵀ + b2          (descent.dense_forward)
    loss      softmax cross-entropy + L2 penalty              (descent.softmax_cross_entropy, l2_penalty)
    backward  dense_backward through both layers              (descent.dense_backward)
    update    Adam over the four parameter arrays, in place   (descent.optim.Adam)
    schedule  linear warmup, then cosine annealing per step   (descent.schedules)
    clipping  global L2 norm of all gradients                 (descent.clip.GradientGroup)

Mini-batches of 32 from a fresh shuffle every epoch; He initialization, seeded.
"""
import numpy as np

import descent
from descent import clip, optim, schedules

classes, per_class, hidden = 3, 100, 64
rng = np.random.default_rng(0)
points, labels = [], []
for k in range(classes):  # three interleaved spirals (cs231n's toy data)
    radius = np.linspace(0.0, 1.0, per_class)
    angle = np.linspace(4.0 * k, 4.0 * (k + 1), per_class) + 0.2 * rng.standard_normal(per_class)
    points.append(np.c_[radius * np.sin(angle), radius * np.cos(angle)])
    labels.append(np.full(per_class, k))
X, y = np.concatenate(points), np.concatenate(labels).astype(np.int64)

W1 = descent.init_weights((hidden, 2), "he_normal", seed=1)
b1 = np.zeros(hidden)
W2 = descent.init_weights((classes, hidden), "he_normal", seed=2)
b2 = np.zeros(classes)
params = [W1, b1, W2, b2]

epochs, batch, lam = 200, 32, 1e-3
steps_per_epoch = -(-len(X) // batch)
total_steps = epochs * steps_per_epoch
opt = optim.Adam(params, lr=1e-2)
# No lr0: the schedule starts from the optimizer's lr (1e-2), as a torch.optim scheduler does.
schedule = schedules.with_warmup(schedules.cosine_annealing(t_max=total_steps - 50, eta_min=1e-4), 50)
driver = schedules.LRScheduler(opt, schedule, interval="step")
grads = [np.zeros_like(p) for p in params]
group = clip.GradientGroup(grads)


def forward(inputs):
    z1, h = descent.dense_forward(inputs, W1, b1, activation="relu")
    _, scores = descent.dense_forward(h, W2, b2)
    return z1, h, scores


for epoch in range(epochs):
    order = rng.permutation(len(X))
    for start in range(0, len(X), batch):
        index = order[start:start + batch]
        xb, yb = X[index], y[index]
        z1, h, scores = forward(xb)
        loss, dscores = descent.softmax_cross_entropy(scores, yb)
        _, dW2_l2 = descent.l2_penalty(W2, lam)
        _, dW1_l2 = descent.l2_penalty(W1, lam)
        dW2, db2, dh = descent.dense_backward(h, W2, scores, dscores)
        dW1, db1, _ = descent.dense_backward(xb, W1, z1, dh, activation="relu")
        for target, value in zip(grads, (dW1 + dW1_l2, db1, dW2 + dW2_l2, db2)):
            target[...] = value
        group.clip_norm(5.0)
        opt.step(grads)
        driver.step()
    if epoch % 40 == 0 or epoch == epochs - 1:
        _, _, scores = forward(X)
        full_loss = descent.softmax_cross_entropy(scores, y, with_grad=False)
        accuracy = np.mean(np.argmax(scores, axis=1) == y)
        print(f"epoch {epoch:3d}  lr {opt.param_groups[0]['lr']:.2e}  loss {full_loss:.4f}  accuracy {accuracy:.3f}")

assert accuracy > 0.9, accuracy
print(f"trained: accuracy {accuracy:.3f} on {len(X)} spiral points ({total_steps} Adam steps)")
