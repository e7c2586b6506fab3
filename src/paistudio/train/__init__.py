"""Flow-matching training of the PAI-Studio DiT with accelerate (+ peft LoRA or a full fine-tune).

    config.py     TrainConfig from a TOML file (configs/train/*.toml), validated field by field
    cases.py      training cases: synthetic panning shots, plain clip folders (frames/ + masks/)
    augment.py    the paper's augmentations: illumination perturbation, mask defects, 1-3 references, dropouts
    loop.py       the loss (owned by one function) and the training loop, checkpoints, EMA, logs, samples
"""
