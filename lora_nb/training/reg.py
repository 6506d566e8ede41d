"""Regularization (class) images, balanced against the training images as kohya's sd-scripts balances them.

DreamBooth's prior preservation, in the form kohya trains LoRAs with: `reg_data_dir` holds `N_class`
folders of images of the subject's class (other cats, for a LoRA of one cat), captioned with the class
words only, never the trigger. Each epoch shows as many reg samples as train samples (train images x
repeats), so an epoch has twice the samples and twice the steps:

- reg images enter in folder order with their folder's repeats until the train count is reached; the
  rest are not used (kohya: "some of reg images are not used");
- when the reg set is smaller, further passes add one repeat per image in order until the counts match.

A reg sample's loss is multiplied by `prior_loss_weight` (kohya's default 1.0), a train sample's by 1, so
the LoRA is pulled towards what the base model already draws for the class prompt: it learns the subject
behind the trigger and leaves the class alone.
"""

from __future__ import annotations


def balance_reg_repeats(num_train_samples: int, reg_repeats: list[int]) -> list[int]:
    """Repeats per reg image (0: not used this run) so the reg samples per epoch match `num_train_samples`.

    `reg_repeats`: each reg image's folder repeats, in scan order. kohya's rule (library/train_util.py,
    DreamBoothDataset): a first pass takes images with their own repeats until the count is reached (it
    may overshoot by the last image's repeats), later passes add one repeat at a time.
    """
    out = [0] * len(reg_repeats)
    n, first = 0, True
    while reg_repeats and n < num_train_samples:
        for i, repeats in enumerate(reg_repeats):
            out[i] += repeats if first else 1
            n += repeats if first else 1
            if n >= num_train_samples:
                break
        first = False
    return out

