"""`kamim rehearsal-data OUT_DIR`: data folders in the paper's layouts, cut from the bundled photos, for the
`paper-dryrun` rehearsal (docs/paper-rehearsal.md)."""
from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "rehearsal-data", help="write ImageNet-1K and Imagenette2-160 layouts from bundled photos (dry runs)",
        description="Write OUT_DIR/imagenet (1000 class folders named by the real WordNet ids, a few small JPEGs "
                    "each) and OUT_DIR/imagenette2-160 (validation with the real class counts, 3925 images), cut "
                    "from photos bundled with scikit-image and scikit-learn, for `kamim reproduce --profile "
                    "paper-dryrun`. The pictures are not ImageNet's: numbers measured on them only say that the "
                    "code runs.")
    parser.add_argument("out_dir", type=Path, metavar="OUT_DIR",
                        help="parent folder; its imagenet/ and imagenette2-160/ must not exist or be empty")
    parser.add_argument("--imagenet-train-per-class", type=int, default=2, metavar="N",
                        help="training JPEGs per ImageNet class folder (default 2)")
    parser.add_argument("--imagenet-val-per-class", type=int, default=1, metavar="N",
                        help="validation JPEGs per ImageNet class folder (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="which photo windows are cut (default 0)")
    parser.set_defaults(func=run)


def dry_run_command(imagenet_root, imagenette_root) -> str:
    """The `kamim reproduce` command line that rehearses the paper path on the written roots."""
    return (f"kamim reproduce --profile paper-dryrun --set data_root={imagenet_root} "
            f"--set analysis_data_root={imagenette_root}")


def run(args: argparse.Namespace) -> int:
    # Imported here, not at the top: building `kamim`'s parser must not import torch (kamim_paper/cli/__init__.py).
    from kamim_lib.data.rehearsal import write_rehearsal_data
    from kamim_lib.engine.run_dir import check_writable_folder

    check_writable_folder(args.out_dir, "OUT_DIR")  # before any work
    written = write_rehearsal_data(args.out_dir, imagenet_train_per_class=args.imagenet_train_per_class,
                                   imagenet_val_per_class=args.imagenet_val_per_class, seed=args.seed)
    for folder in (written.imagenet, written.imagenette):
        counts = ", ".join(f"{split} {count}" for split, count in folder.images.items())
        print(f"{folder.root}: {folder.classes} classes, {counts} images, {folder.bytes / 1e6:.1f} MB")
    # One --set per assignment: `--set` takes a single NAME=VALUE (a second one would be a stray argument).
    print(f"wrote in {written.seconds:.1f} s; rehearse the paper path with\n"
          f"  {dry_run_command(written.imagenet.root, written.imagenette.root)}\n"
          "  (add --set device=cpu where there is no GPU)")
    return 0
