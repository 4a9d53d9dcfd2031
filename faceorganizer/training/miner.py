"""Online triplet selection inside a mini-batch of P people x K faces (FaceNet, section 3.2).

Every anchor-positive pair of the batch is used (both orders: each face is the anchor
once for each other face of its person). For each pair, the negative is chosen among
the batch's other people:

1. **semi-hard** (the paper's choice): negatives farther from the anchor than the
   positive but still inside the margin, ``d(a,p) < d(a,n) < d(a,p) + alpha``; the
   closest of them is taken (the hardest semi-hard one).
2. **fallback** when there is none but some negatives are *closer* than the positive:
   the farthest of those (the least hard hard negative, as TensorFlow's
   ``triplet_semihard_loss`` does). The hardest negatives are avoided, since the paper
   found that they collapse the model early in training.
3. otherwise every negative is already beyond the margin: the pair is satisfied, its
   closest negative is recorded and its triplet's loss is zero.

Distances are squared L2 on the batch's embeddings, computed without gradients.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from faceorganizer.training.loss import squared_distances

SEMI_HARD, FALLBACK, EASY = 0, 1, 2


@dataclass(frozen=True)
class Triplets:
    anchor: torch.Tensor    # indices into the batch, int64
    positive: torch.Tensor
    negative: torch.Tensor
    kind: torch.Tensor      # SEMI_HARD, FALLBACK or EASY per triplet

    def __len__(self) -> int:
        return int(self.anchor.numel())

    def count(self, kind: int) -> int:
        return int((self.kind == kind).sum())


def mine(embeddings: torch.Tensor, labels: torch.Tensor, margin: float) -> Triplets:
    """One triplet per ordered anchor-positive pair of ``embeddings`` (N, D) with ``labels`` (N,)."""
    with torch.no_grad():
        distances = squared_distances(embeddings.detach().float())
        same = labels[:, None] == labels[None, :]
        eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
        anchor, positive = torch.nonzero(same & ~eye, as_tuple=True)
        if anchor.numel() == 0:
            empty = torch.empty(0, dtype=torch.long, device=labels.device)
            return Triplets(empty, empty, empty, empty)
        d_ap = distances[anchor, positive][:, None]       # (T, 1)
        d_an = distances[anchor]                          # (T, N)
        negative_mask = ~same[anchor]                     # (T, N)
        inf = torch.tensor(float("inf"), device=d_an.device)

        semi = negative_mask & (d_an > d_ap) & (d_an < d_ap + margin)
        semi_pick = torch.where(semi, d_an, inf).argmin(dim=1)
        hard = negative_mask & (d_an <= d_ap)
        hard_pick = torch.where(hard, d_an, -inf).argmax(dim=1)
        easy_pick = torch.where(negative_mask, d_an, inf).argmin(dim=1)

        has_semi = semi.any(dim=1)
        has_hard = hard.any(dim=1)
        negative = torch.where(has_semi, semi_pick, torch.where(has_hard, hard_pick, easy_pick))
        kind = torch.where(has_semi, SEMI_HARD, torch.where(has_hard, FALLBACK, EASY))
        keep = negative_mask.any(dim=1)  # a batch of one person has no negatives at all
        return Triplets(anchor[keep], positive[keep], negative[keep], kind[keep])
