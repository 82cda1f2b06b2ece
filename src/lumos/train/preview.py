"""What a recipe's augmentation does to the training images, as one picture.

The images go through the trainer's own ``prepare`` (resize, box- and mask-aware warps,
colour, noise, MixUp/CutMix), so the preview shows exactly what the network will see.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw

from lumos.data import Dataset
from lumos.recipe import Recipe
from lumos.train.trainer import Trainer

CELL = 96


def augmentation_grid(
    recipe: Recipe, dataset: Dataset, records: int = 4, variants: int = 5
) -> Image.Image:
    """``records`` training images in rows: the image as stored, then ``variants`` draws."""
    trainer = Trainer(recipe.model_copy(update={"workers": 0}), dataset)
    images, labels = next(iter(trainer.loader))
    images = images[:records]
    take = len(images)
    repeated = images.repeat_interleave(variants, dim=0)
    if isinstance(labels, list):  # detection targets: one dict per image
        labels = [t for t in labels[:take] for _ in range(variants)]
    else:
        labels = labels[:take].repeat_interleave(variants, dim=0)
    with torch.no_grad():
        augmented, targets = trainer.prepare(repeated, labels, train=True)
    stored = trainer.prepare(images, labels[::variants], train=False)[0]
    sheet = Image.new("RGB", ((variants + 1) * CELL + 8, take * CELL), (24, 24, 24))
    for row in range(take):
        sheet.paste(_cell(stored[row]), (0, row * CELL))
        for k in range(variants):
            i = row * variants + k
            boxes = targets[i]["boxes"] if isinstance(targets, list) else None
            sheet.paste(_cell(augmented[i], boxes), ((k + 1) * CELL + 8, row * CELL))
    return sheet


def _cell(image: torch.Tensor, boxes: torch.Tensor | None = None) -> Image.Image:
    pixels = (
        (image.float().clamp(0, 1).cpu().permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    )
    picture = Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels).convert("RGB")
    scale = CELL / max(picture.size)
    picture = picture.resize(
        (max(1, round(picture.width * scale)), max(1, round(picture.height * scale))),
        Image.Resampling.NEAREST,
    )
    if boxes is not None:
        draw = ImageDraw.Draw(picture)
        for box in (boxes.cpu() * scale).tolist():
            draw.rectangle(box, outline=(255, 210, 0), width=1)
    cell = Image.new("RGB", (CELL, CELL), (24, 24, 24))
    cell.paste(picture, ((CELL - picture.width) // 2, (CELL - picture.height) // 2))
    return cell
