"""`kamim inspect-checkpoint PATH`: what the original's analysis notebooks really loaded from a checkpoint."""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "inspect-checkpoint", help="replay the original analysis notebooks' strict=False load of a checkpoint",
        description="Load a checkpoint exactly as the original's analysis notebooks did (transformers 4.38 "
                    "ViTForMaskedImageModeling, the local models/simmim.py copy, the installed transformers, or "
                    "the MoCo v3 path; load_state_dict(..., strict=False)) and print how many parameters each "
                    "really set, the missing and unexpected keys, whether the result is numerically the fresh "
                    "random initialisation, and what kamim's strict loader says.")
    parser.add_argument("path", help="checkpoint file (.pth/.pt/.bin/.pth.tar), read with weights_only=True")
    parser.add_argument("--model", default="vit_b",
                        help="registry name of the size the notebooks built (default vit_b, the paper's)")
    parser.add_argument("--trust-pickle", action="store_true",
                        help="read with weights_only=False, as the original's torch.load did (only for files you "
                             "trust: unpickling runs code); needed when the file stores Python objects")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kamim_paper.original.loader_report import format_original_loader_report, original_loader_report

    print(format_original_loader_report(original_loader_report(args.path, args.model,
                                                                trust_pickle=args.trust_pickle)))
    return 0
