"""`doodlelab train sketch`, `doodlelab complete`, and `doodlelab generate` / `evaluate generator` with
`--model sketch` (the stroke model)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from doodlelab.cli.common import add_config_args, config_from_args, progress_enabled
from doodlelab.errors import DataError
from doodlelab.generative.sketch_config import MAX_DRAWINGS

DIFFUSION_FLAGS = ("steps", "sampler", "guidance_interval", "eta")  # `generate` flags it lacks
COMPLETE_HELP = "finish drawings with the stroke model"


def register(groups: dict) -> None:
    from doodlelab.generative.sketch_config import SketchConfig

    if "train" in groups:
        train = groups["train"].add_parser(
            "sketch",
            help="train the class-conditional stroke model (transformer over pen moves)",
            description="Train the stroke model on the train split's stroke drawings. Every "
            "--checkpoint-every "
            "steps: a checkpoint, the validation loss, a sample grid and the curves in --out (rerun the same "
            "command to resume). Ends with sketch.safetensors.",
        )
        train.add_argument(
            "--out", type=Path, default=Path("runs") / "sketch", help="output folder (runs/sketch)"
        )
        train.add_argument(
            "--no-resume", action="store_true", help="start afresh even if --out has a checkpoint"
        )
        add_config_args(train, SketchConfig)
        train.set_defaults(handler=cmd_train)
    comp = groups["_top"].add_parser(
        "complete",
        help=COMPLETE_HELP,
        description="Each line of INPUT (an ndjson drawing, raw or simplified, detected per line) gets --n "
        "completions, written in input order as {word, key_id, drawing}: the input's strokes unchanged, then "
        "the new strokes in the input's coordinates. Category: --category, else the line's word, else none.",
    )
    comp.add_argument("input", type=Path, metavar="INPUT", help=".ndjson file of drawings (.gz too)")
    comp.add_argument("--out", type=Path, required=True, help="OUT.ndjson")
    comp.add_argument("--category", default=None, help="category for every line (default: each line's word)")
    comp.add_argument("--n", type=int, default=1, help=f"completions per line, 1..{MAX_DRAWINGS} (default 1)")
    add_sampling_args(comp)
    comp.set_defaults(handler=cmd_complete)


def add_sampling_args(parser: argparse.ArgumentParser, model: bool = True) -> None:
    """--seed, --temperature, --top-p (and --model, --guidance) of the stroke model; `generate` and
    `evaluate generator` have their own --model and --guidance, shared with diffusion."""
    if model:
        parser.add_argument("--model", default="sketch", help="sketch (shipped) or a sketch.safetensors file")
        parser.add_argument(
            "--seed", type=int, default=0, help="random seed: same seed, same strokes (default 0)"
        )
        parser.add_argument(
            "--guidance",
            type=float,
            default=None,
            help="classifier-free guidance w in [0, 10] toward the category (default: the model's)",
        )
    parser.add_argument(
        "--temperature",
        type=float,
        default=None,
        help="sketch: sampling temperature > 0 (default: the model's)",
    )
    parser.add_argument(
        "--top-p", type=float, default=None, help="sketch: nucleus size in (0, 1] (default: the model's)"
    )


def cmd_train(args: argparse.Namespace) -> int:
    from doodlelab.generative.sketch_config import SketchConfig
    from doodlelab.generative.sketch_train import train

    config = config_from_args(SketchConfig, args)
    state = train(config, args.out, progress=progress_enabled(), resume=not args.no_resume)
    from doodlelab.devices import leave

    if leave() != 0:
        return 0  # rank 0 reports
    print(f"{state['step']} steps in {state['seconds']:.0f} s; wrote {args.out / 'sketch.safetensors'}")
    return 0


def check_n(n: int) -> None:
    if not 1 <= n <= MAX_DRAWINGS:
        raise DataError(f"--n must be from 1 to {MAX_DRAWINGS}, got {n}")


def check_flags(args: argparse.Namespace, sketch: bool) -> None:
    """DataError for a flag of the other kind of model: diffusion settings given to the stroke model, or
    the stroke model's --temperature / --top-p given to a bitmap generator."""
    given = [f for f in DIFFUSION_FLAGS if getattr(args, f, None) is not None]
    if sketch and given:
        flag = "--" + given[0].replace("_", "-")
        raise DataError(f"{flag}: a diffusion setting; the stroke model draws point by point and has none")
    given = [f for f in ("temperature", "top_p") if getattr(args, f, None) is not None]
    if not sketch and given:
        raise DataError(f"--{given[0].replace('_', '-')}: a setting of the stroke model (--model sketch)")


def evaluate(args: argparse.Namespace, names: list[str] | None) -> dict:
    """`evaluate generator --model sketch`: the bitmap generators' yardstick on the pipeline's renderings
    of its doodles, and completion at half the ink (`sketch_eval`)."""
    from tqdm import tqdm

    from doodlelab.data.categories import categories
    from doodlelab.generative.evaluate import evaluate_generator
    from doodlelab.generative.sketch_eval import evaluate_completion, renderer
    from doodlelab.generative.sketch_sample import load

    check_flags(args, sketch=True)
    sketcher = load(args.model)
    temperature, top_p, guidance = sketcher.sampling(args.temperature, args.top_p, args.guidance)
    names = names or [c for c in categories() if c in sketcher.classes]
    for name in names:
        sketcher.label(name)  # every category known before any work
    settings = dict(temperature=temperature, top_p=top_p, guidance=guidance)
    with tqdm(total=len(names), desc="sampling", unit="category", disable=not progress_enabled()) as bar:
        report = evaluate_generator(
            renderer(sketcher, **settings),
            args.per_category,
            names,
            progress=lambda i, n: bar.update(1),
            split=args.split,
        )
    with tqdm(desc="completing", unit="drawing", disable=not progress_enabled()) as bar:
        report["completion"] = evaluate_completion(
            sketcher,
            args.per_category,
            names,
            split=args.split,
            progress=lambda i, n: bar.update(1),
            **settings,
        )
    return {"model": str(args.model), "weights": str(sketcher.path)} | settings | report


def is_sketch(model: str | Path) -> bool:
    """True for "sketch" or a stroke model file (read from its header), for `generate --model`."""
    from doodlelab import modelfile

    if str(model) == "sketch":
        return True
    try:
        return Path(model).is_file() and modelfile.load(model)[1].get("kind") == "sketch"
    except modelfile.ModelFileError:
        return False


def cmd_generate(args: argparse.Namespace) -> int:
    """`doodlelab generate --model sketch --category C [--n N] [--seed S] [--temperature T] --out OUT`."""
    from doodlelab.data.categories import resolve
    from doodlelab.generative import sketch_io
    from doodlelab.generative.sketch_sample import load

    check_flags(args, sketch=True)
    sketch_io.check_out(args.out)
    check_n(args.n)
    category = resolve(args.category)
    sketcher = load(args.model)
    drawings = sketcher.generate(category, args.n, args.seed, args.temperature, args.top_p, args.guidance)
    sketch_io.write_drawings(drawings, args.out, category)
    print(f"wrote {len(drawings)} {category} doodles to {args.out}", file=sys.stderr)
    return 0


def read_lines(path: Path) -> list[tuple[list, list, bool | None, str | None, str | None]]:
    """Every drawing of an ndjson file: (JSON drawing, parsed strokes, raw?, word, key_id), each line checked
    as `predict` checks it; the first bad line raises DataError naming the file and line, so nothing is
    written for a bad input."""
    from doodlelab.cli.predict import _lines, parse_line

    out = []
    for number, line in _lines(str(path)):
        try:
            strokes, key_id, raw = parse_line(line)
        except DataError as exc:
            raise DataError(exc.reason, path, number) from None
        record = json.loads(line)
        word = record.get("word") if isinstance(record, dict) else None
        drawing = record["drawing"] if isinstance(record, dict) else record
        out.append((drawing, strokes, raw, word if isinstance(word, str) else None, key_id))
    if not out:
        raise DataError(f"no drawings in {path}")
    return out


def cmd_complete(args: argparse.Namespace) -> int:
    from doodlelab.data.categories import resolve
    from doodlelab.data.strokes import to_json
    from doodlelab.generative import sketch_io
    from doodlelab.generative.sketch_config import check_sampling
    from doodlelab.generative.sketch_sample import load

    if args.out.suffix.lower() != ".ndjson" or args.out.is_dir():
        raise DataError(f"--out must end in .ndjson; got {args.out}")
    check_n(args.n)
    check_sampling(
        1.0 if args.temperature is None else args.temperature,
        1.0 if args.top_p is None else args.top_p,
        0.0 if args.guidance is None else args.guidance,
    )
    forced = resolve(args.category) if args.category is not None else None
    lines = read_lines(args.input)
    words = [forced or (resolve(w) if w else None) for _, _, _, w, _ in lines]
    sketcher = load(args.model)
    for word in dict.fromkeys(words):
        sketcher.label(word)  # every category known before any work
    records = []
    for i, ((drawing, strokes, raw, _, key_id), word) in enumerate(zip(lines, words)):
        seed = [args.seed, i]  # one stream per line: a line's completions do not depend on the others
        settings = (args.temperature, args.top_p, args.guidance)
        for new in sketcher.complete(strokes, raw, word, args.n, seed, *settings):
            records.append(sketch_io.record(word, list(drawing) + to_json(new), key_id))
    sketch_io.write_ndjson(args.out, records)
    print(f"wrote {len(records)} completions of {len(lines)} drawings to {args.out}", file=sys.stderr)
    return 0
