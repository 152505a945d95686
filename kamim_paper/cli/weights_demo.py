"""`kamim weights-demo`: the method figure on real photos bundled with scikit-image."""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

DEFAULT_OUT = Path("results") / "figures" / "method_keypoint_weights.png"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "weights-demo", help="render image / keypoints / density / weights / mask for bundled photos",
        description="Render the paper's method figure (image, FAST keypoints, density, KAMIM weights, SimMIM mask) "
                    "for real photos shipped with scikit-image, and print per-image numbers.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"PNG path (default: {DEFAULT_OUT})")
    parser.add_argument("--photos", nargs="+", default=None, help="bundled photo names (default: four of them)")
    parser.add_argument("--img-size", type=int, default=192, help="crop side in pixels (default 192)")
    parser.add_argument("--detector", default="fast", help="fast | sift | orb (default fast)")
    parser.add_argument("--mode", default="faithful", help="faithful | points (default faithful)")
    parser.add_argument("--backend", default="opencv", help="opencv | torch (torch: fast only)")
    parser.add_argument("--weight-patch-size", type=int, default=8, help="w_ps (default 8)")
    parser.add_argument("--temperature", type=float, default=0.25, help="T (default 0.25)")
    parser.add_argument("--seed", type=int, default=0, help="mask seed (default 0)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kamim_paper.results.figures.method import compute_method_panels, render_method_figure
    from kamim_lib.sample_photos import PHOTO_NAMES, sample_photo_batch

    from kamim_lib.engine.run_dir import check_writable_folder

    check_writable_folder(args.out.parent, "--out")  # before any work
    names = tuple(args.photos) if args.photos else PHOTO_NAMES[:4]
    start = time.perf_counter()
    images = sample_photo_batch(names, size=args.img_size)
    panels = compute_method_panels(images, detector=args.detector, mode=args.mode, backend=args.backend,
                                   patch_size=args.weight_patch_size, temperature=args.temperature, seed=args.seed)
    title = (f"KAMIM weights: {args.detector} ({args.mode}, {args.backend}), w_ps={args.weight_patch_size}, "
             f"T={args.temperature}")
    path = render_method_figure(panels, args.out, title=title)
    summary = {name: row for name, row in zip(names, panels.summary())}
    settings = {key: value for key, value in vars(args).items() if key not in ("func", "command")}
    path.with_suffix(".json").write_text(json.dumps({"settings": settings, "per_image": summary}, indent=2,
                                                    default=str) + "\n")
    for name, row in summary.items():
        print(f"{name:>22}: " + ", ".join(f"{k}={v}" for k, v in row.items()))
    print(f"wrote {path} and {path.with_suffix('.json')} in {time.perf_counter() - start:.1f} s")
    return 0
