"""Misuse that `mypy --strict` must report (scripts/check-typing.sh expects an error on every line
marked `# expect-error`): proof that the package's hints say something. Never run."""
from __future__ import annotations

import numpy as np

import descent
from descent import optim, schedules

w = np.zeros(3)
descent.gd_step(w, np.ones(3), "0.1")                              # expect-error
wrong: descent.Tensor = descent.sigmoid(np.zeros(3))               # expect-error
loss_only: tuple[float, float] = descent.mse_loss(w, w, with_grad=False)   # expect-error
opt = optim.SGD([w], lr=0.1)
flag: str = opt.step([w])                                          # expect-error
schedules.LRScheduler(opt, 0.1)                                    # expect-error
schedules.cosine_annealing(t_max="ten")                            # expect-error
count: str = descent.tensor([1.0]).size                            # expect-error
descent.clip.clip_grad_norm([w], max_norm=None)                    # expect-error
