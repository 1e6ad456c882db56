"""What category "Finish my drawing" should send: validation drawings (every third category, 10 each) cut at
half their ink, completed with the true category, with the served classifier's top guess on the half drawing
and with none; prints the judge's top-1 (of the true category) for each. `python scripts/finish_as_guess.py
[SKETCH_WEIGHTS]` (default: the shipped model)."""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from doodlelab.classifier.recognizer import Recognizer
from doodlelab.data import cache
from doodlelab.data import strokes as pipeline
from doodlelab.data.categories import categories
from doodlelab.generative.evaluate import Judge, balanced_sample
from doodlelab.generative.sketch_eval import half_ink
from doodlelab.generative.sketch_sample import load


def main() -> None:
    sk = load(sys.argv[1] if len(sys.argv) > 1 else "sketch")
    judge, rec = Judge(), Recognizer()
    official = list(categories())
    names = official[::3]
    sa = cache.load_split_arrays("val", names)
    has = np.flatnonzero(sa.drawing >= 0)
    picks = has[balanced_sample(sa.labels[has], 10, [official.index(n) for n in names], 0)]
    imgs = {"prefix": [], "true": [], "guess": [], "none": []}
    targets, guess_right = [], []
    t = time.time()
    for k, i in enumerate(picks.tolist()):
        name = official[int(sa.labels[i])]
        prefix = half_ink(sa.strokes_of(i))
        imgs["prefix"].append(pipeline.render(prefix))
        probs = rec.probabilities(imgs["prefix"][-1][None])[0]
        guess = rec.classes[int(np.argmax(probs))]
        guess_right.append(guess == name)
        for key, cat in (("true", name), ("guess", guess), ("none", None)):
            new = sk.complete(prefix, False, cat, 1, [0, k])[0]
            imgs[key].append(pipeline.render(prefix + new))
        targets.append(judge.classes.index(name))
    y = np.asarray(targets)
    out = {k: round(float((judge.run(np.stack(v))[0] == y).mean()), 4) for k, v in imgs.items()}
    out["recognizer_top1_on_prefix"] = round(float(np.mean(guess_right)), 4)
    out["n"] = len(picks)
    out["s"] = round(time.time() - t)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
