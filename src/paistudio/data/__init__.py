"""`paistudio data build`: the CineStudio-style dataset pipeline, one module per step.

    settings.py    BuildSettings (every step's parameters, hashed into the item ids)
    ingest.py      1. find and probe inputs (videos, clip folders, list files); unsafe or unreadable -> failures
    shots.py       2. shot splitting (PySceneDetect's adaptive detector), minimum / maximum shot length
    motion.py      3. camera and foreground motion from DIS optical flow; range filter
    foreground.py  4. foreground masks: given masks, a chroma key, or a registered segmenter (pluggable)
    greenscreen.py 5. green-screen foreground video and its illumination-perturbed version, optional mask defects
    references.py  6. begin / middle / end references with the foreground removed (the benchmark's clean plates)
    caption.py     7. the structured caption from measured facts; pluggable captioner
    shards.py      8. WebDataset-style tar shards, the versioned manifest, the reader training uses
    build.py       the runner: local process pool or Ray, resumable, atomic; `inspect` for contact sheets
"""
