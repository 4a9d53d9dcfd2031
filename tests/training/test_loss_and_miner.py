"""The triplet loss against hand-computed values, and the online miner's choices."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from faceorganizer.training.loss import squared_distances, triplet_loss
from faceorganizer.training.miner import EASY, FALLBACK, SEMI_HARD, mine


def t(*rows: tuple[float, ...]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64)


def test_the_loss_is_max_of_the_distance_gap_plus_the_margin_or_zero() -> None:
    anchor = t((1.0, 0.0), (1.0, 0.0), (1.0, 0.0), (0.0, 1.0))
    positive = t((0.6, 0.8), (0.6, 0.8), (0.6, 0.8), (0.0, 1.0))
    negative = t((0.0, 1.0), (0.8, 0.6), (0.28, 0.96), (0.0, -1.0))
    # ||a-p||^2 = 0.4^2 + 0.8^2 = 0.8 in the first three rows, 0 in the last.
    # ||a-n||^2: 2.0; 0.2^2 + 0.6^2 = 0.4; 0.72^2 + 0.96^2 = 1.44; 4.0.
    expected = [max(0.8 - 2.0 + 0.2, 0.0), 0.8 - 0.4 + 0.2, 0.0, 0.0]
    assert triplet_loss(anchor, positive, negative, 0.2).tolist() == pytest.approx(expected)
    # A wider margin makes the third triplet active: 0.8 - 1.44 + 0.7 = 0.06.
    assert triplet_loss(anchor, positive, negative, 0.7).tolist() == pytest.approx(
        [0.0, 1.1, 0.06, 0.0])


def test_the_loss_gradient_pulls_the_positive_in_and_pushes_the_negative_out() -> None:
    anchor = t((1.0, 0.0))
    positive = t((0.6, 0.8)).requires_grad_(True)
    negative = t((0.8, 0.6)).requires_grad_(True)
    triplet_loss(anchor, positive, negative, 0.2).sum().backward()
    # d/dp ||a-p||^2 = 2(p-a); d/dn -||a-n||^2 = -2(n-a)
    assert positive.grad[0].tolist() == pytest.approx([2 * (0.6 - 1.0), 2 * 0.8])
    assert negative.grad[0].tolist() == pytest.approx([-2 * (0.8 - 1.0), -2 * 0.6])


def test_squared_distances_match_the_definition() -> None:
    x = torch.nn.functional.normalize(torch.randn(7, 5, dtype=torch.float64), dim=1)
    expected = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    assert torch.allclose(squared_distances(x), expected, atol=1e-12)


def _points(angles: list[float]) -> torch.Tensor:
    return torch.tensor([[np.cos(a), np.sin(a)] for a in angles], dtype=torch.float64)


def test_a_hand_made_batch_gets_the_negatives_worked_out_by_hand() -> None:
    # Person 0 at angles 0 and 0.5 (d = 2 - 2cos 0.5 = 0.2448); person 1 at 0.62 and 3.0.
    # Anchor 0 (angle 0), positive 1: negatives at d(0.62) = 0.3722 (semi-hard: 0.2448 <
    # 0.3722 < 0.4448) and d(3.0) = 3.98 (easy) -> the semi-hard one, index 2.
    # Anchor 1 (0.5), positive 0: d(0.62) = 0.0144 is hard, d(3.0) = 3.60 easy -> no
    # semi-hard: the fallback takes the farthest hard negative, index 2.
    # Anchor 2 (0.62), positive 3 (d = 3.26): every negative is closer -> fallback, the
    # farthest of them: index 0 (d 0.372) rather than 1 (d 0.0144).
    # Anchor 3 (3.0), positive 2 (d = 2 - 2cos 2.38 = 3.448): negatives at d 3.980 (beyond
    # the margin) and 2 - 2cos 2.5 = 3.602 (inside it) -> semi-hard, index 1.
    x = _points([0.0, 0.5, 0.62, 3.0])
    labels = torch.tensor([0, 0, 1, 1])
    triplets = mine(x, labels, margin=0.2)
    got = {(a, p): (n, k) for a, p, n, k in zip(triplets.anchor.tolist(), triplets.positive.tolist(),
                                                 triplets.negative.tolist(), triplets.kind.tolist(),
                                                 strict=True)}
    assert got == {(0, 1): (2, SEMI_HARD), (1, 0): (2, FALLBACK), (2, 3): (0, FALLBACK),
                   (3, 2): (1, SEMI_HARD)}
    losses = triplet_loss(x[triplets.anchor], x[triplets.positive], x[triplets.negative], 0.2)
    assert (losses > 0).all()


def test_well_separated_people_give_easy_triplets_with_zero_loss() -> None:
    # Two tight pairs on opposite sides of the circle: d(a, p) <= 0.09, every negative
    # 3.9 or more; the closest negative of 0 and 1 is 3 (at pi + 0.3), of 2 is 1, of 3 is 0.
    x = _points([0.0, 0.1, np.pi, np.pi + 0.3])
    triplets = mine(x, torch.tensor([0, 0, 1, 1]), margin=0.2)
    assert triplets.kind.tolist() == [EASY] * 4
    assert dict(zip(triplets.anchor.tolist(), triplets.negative.tolist(), strict=True)) == {
        0: 3, 1: 3, 2: 1, 3: 0}
    losses = triplet_loss(x[triplets.anchor], x[triplets.positive], x[triplets.negative], 0.2)
    assert (losses == 0).all()


@pytest.mark.parametrize("seed", range(5))
def test_random_batches_get_every_anchor_positive_pair_and_only_valid_negatives(seed: int) -> None:
    rng = torch.Generator().manual_seed(seed)
    people, faces, margin = 6, 4, 0.2
    labels = torch.arange(people).repeat_interleave(faces)
    centres = torch.randn(people, 16, generator=rng, dtype=torch.float64)
    x = torch.nn.functional.normalize(
        centres[labels] + 0.9 * torch.randn(len(labels), 16, generator=rng, dtype=torch.float64), dim=1)
    triplets = mine(x, labels, margin)
    d = squared_distances(x)

    pairs = sorted(zip(triplets.anchor.tolist(), triplets.positive.tolist(), strict=True))
    expected = sorted((a, p) for a, p in itertools.permutations(range(len(labels)), 2)
                      if labels[a] == labels[p])
    assert pairs == expected
    kinds = set()
    for a, p, n, kind in zip(triplets.anchor.tolist(), triplets.positive.tolist(),
                             triplets.negative.tolist(), triplets.kind.tolist(), strict=True):
        kinds.add(kind)
        assert labels[n] != labels[a]
        negatives = [j for j in range(len(labels)) if labels[j] != labels[a]]
        semi = [j for j in negatives if d[a, p] < d[a, j] < d[a, p] + margin]
        hard = [j for j in negatives if d[a, j] <= d[a, p]]
        if kind == SEMI_HARD:
            assert d[a, p] < d[a, n] < d[a, p] + margin
            assert d[a, n] == min(d[a, j] for j in semi)
        elif kind == FALLBACK:
            assert not semi and d[a, n] <= d[a, p]
            assert d[a, n] == max(d[a, j] for j in hard)
        else:
            assert not semi and not hard and d[a, n] >= d[a, p] + margin
    assert SEMI_HARD in kinds  # the random batch is hard enough to need the real rule


def test_a_batch_of_one_person_has_no_triplets() -> None:
    x = _points([0.0, 0.1, 0.2])
    assert len(mine(x, torch.tensor([3, 3, 3]), 0.2)) == 0
