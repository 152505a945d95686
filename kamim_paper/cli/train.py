"""`kamim pretrain | finetune | linprobe`: train from a config file plus ``--set key=value`` overrides.

Every key is listed (type, default, meaning) by ``kamim <command> --help``, generated from the configuration
dataclasses. Several GPUs (or CPU processes): ``torchrun --nproc_per_node N --no-python kamim pretrain ...``.
TPU: ``--set device=xla`` (one process drives every core, SPMD) or ``--set device=xla xla_mode=multiprocess``
(``fit`` starts one replica per core with ``torch_xla.launch``; do not wrap it in torchrun).
"""
from __future__ import annotations

import argparse
import json
import sys
import time

COMMANDS = {
    "pretrain": "SimMIM / KAMIM masked-image-modelling pretraining",
    "finetune": "fine-tune a pretrained encoder with a linear head (top-1/top-5)",
    "linprobe": "linear probe (and kNN) on a frozen pretrained encoder",
}


def _epilog(command: str):
    """The configuration keys of ``command`` (imports the library: called only when the help is printed)."""
    def text() -> str:
        from kamim_lib.config import describe_config

        return (f"configuration keys (YAML file, or --set key=value):\n\n{describe_config(command)}\n\n"
                "exit codes: 0 done, 2 bad input, 3 non-finite loss, 74 cannot write outputs, 75 preempted "
                "(checkpoint saved; requeue), 130 Ctrl-C")
    return text


def register(subparsers) -> None:
    for command, summary in COMMANDS.items():
        parser = subparsers.add_parser(
            command, help=summary, formatter_class=argparse.RawDescriptionHelpFormatter,
            description=f"{summary}. Results go to out_dir/{command}/<run_id>/ (config.json, env.json, "
                        "metrics.jsonl, summary.json, checkpoints/); a rerun resumes the run's last checkpoint "
                        "or, when finished, prints its summary. SIGTERM/SIGUSR1 (a scheduler's warning) and "
                        "Ctrl-C save a checkpoint at the next optimiser step and exit with 75 (130 for Ctrl-C); "
                        "run the same command again to resume.",
            epilog=_epilog(command))
        parser.add_argument("--config", metavar="YAML", default=None,
                            help="configuration file (e.g. params/train/smoke.yaml); default: the built-in "
                                 "defaults (the original's ImageNet protocol)")
        parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                            nargs="+", help="override keys, e.g. --set method=simmim epochs=2 'betas=[0.9,0.95]'")
        parser.add_argument("--print-config", action="store_true",
                            help="print the resolved configuration and run directory, then exit")
        parser.set_defaults(func=run, section=command)


def _print_summary(summary: dict, seconds: float) -> None:
    lines = [f"run: {summary['run_dir']}"]
    first, last = summary.get("train_loss_first_epoch"), summary.get("train_loss_last_epoch")
    if first is not None and last is not None:
        lines.append(f"train loss: {first:.4f} (epoch 1) -> {last:.4f} (epoch {summary['epochs']})")
    if "val_top1" in summary:
        lines.append(f"val top-1 {summary['val_top1']:.2f}%  top-5 {summary['val_top5']:.2f}%")
    if "knn_top1" in summary:
        lines.append(f"kNN (k={summary['knn_k']}) top-1 {summary['knn_top1']:.2f}%  top-5 {summary['knn_top5']:.2f}%")
    lines.append(f"wall time {seconds:.1f} s")
    print("\n".join(lines))


def run(args: argparse.Namespace) -> int:
    from kamim_lib.config import config_to_dict, load_config, run_dir
    from kamim_paper.cli.errors import EXIT_NON_FINITE
    from kamim_lib.engine import NonFiniteLossError, fit

    overrides = [item for group in args.overrides for item in group]
    config = load_config(args.config, overrides, section=args.section)
    if args.print_config:
        print(json.dumps({"run_dir": str(run_dir(config)), "config": config_to_dict(config)}, indent=2))
        return 0
    start = time.perf_counter()
    try:
        summary = fit(config)
    except NonFiniteLossError as error:
        print(f"kamim {args.section}: stopped: {error}", file=sys.stderr)
        return EXIT_NON_FINITE
    from kamim_lib.runtime import torchrun_environment

    launch = torchrun_environment()
    if launch is None or launch["rank"] == 0:
        _print_summary(summary, time.perf_counter() - start)
    return 0
