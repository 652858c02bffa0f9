"""Learning-rate schedules against torch.optim.lr_scheduler (skipped without torch) and by formula."""
import math

import numpy as np
import pytest

from pyengine import optim
from pyengine.optim import lr_scheduler as sched

from .test_optimizers import P

CASES = [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[2, 5, 5, 9], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=4, eta_min=0.001)),
    ("LinearLR", dict(start_factor=0.1, total_iters=4)),
]


@pytest.mark.parametrize("name,kwargs", CASES, ids=[c[0] for c in CASES])
def test_schedule_matches_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    ours = getattr(sched, name)(optim.SGD([P(np.ones(2))], lr=0.1), **kwargs)
    t_opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(2))], lr=0.1)
    theirs = getattr(torch.optim.lr_scheduler, name)(t_opt, **kwargs)
    for epoch in range(14):
        assert ours.get_last_lr()[0] == pytest.approx(theirs.get_last_lr()[0], rel=1e-12, abs=1e-15), epoch
        ours.optimizer.step()
        t_opt.step()
        ours.step()
        theirs.step()


def test_reduce_on_plateau_matches_torch():
    torch = pytest.importorskip("torch")
    ours = sched.ReduceLROnPlateau(optim.SGD([P(np.ones(2))], lr=0.1), patience=1, factor=0.5, cooldown=1)
    t_opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(2))], lr=0.1)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(t_opt, patience=1, factor=0.5, cooldown=1)
    for metric in [1.0, 0.9, 0.95, 0.95, 0.96, 0.8, 0.85, 0.85, 0.85, 0.85]:
        ours.step(metric)
        theirs.step(metric)
        assert ours.get_last_lr()[0] == pytest.approx(theirs.get_last_lr()[0])


def test_step_lr_closed_form_and_state_dict():
    opt = optim.SGD([P(np.ones(2))], lr=0.01)
    s = sched.StepLR(opt, step_size=5, gamma=0.2)
    lrs = []
    for _ in range(12):
        lrs.append(s.get_last_lr()[0])
        s.step()
    assert lrs == pytest.approx([0.01 * 0.2 ** (e // 5) for e in range(12)])
    state = s.state_dict()
    assert "optimizer" not in state and state["last_epoch"] == 12
    s2 = sched.StepLR(optim.SGD([P(np.ones(2))], lr=0.01), step_size=1)
    s2.load_state_dict(state)
    assert s2.step_size == 5 and s2.last_epoch == 12


def test_cosine_reaches_eta_min():
    opt = optim.SGD([P(np.ones(2))], lr=1.0)
    s = sched.CosineAnnealingLR(opt, T_max=10, eta_min=0.1)
    for _ in range(10):
        s.step()
    assert s.get_last_lr()[0] == pytest.approx(0.1)
    assert math.isclose(opt.param_groups[0]["lr"], 0.1)
