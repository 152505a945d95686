"""The paper's sections as notebooks, in dependency order (pretraining before the probes and analyses)."""
from __future__ import annotations

from dataclasses import dataclass

# The notebooks/ folder: the checkout's, or the copy an installed wheel ships; re-exported here.
from kamim_paper.locations import notebooks_dir  # noqa: F401


@dataclass(frozen=True)
class Section:
    """One notebook of the reproduction.

    Attributes:
        name: short name used by ``--only`` and for output folders.
        notebook: file name inside ``notebooks/``.
        paper: the part of the paper it regenerates.
        needs: sections whose outputs (or training runs) this one reads: run first when selected with ``--only``,
            and finished before it starts when notebooks run at once.
    """

    name: str
    notebook: str
    paper: str
    needs: tuple[str, ...] = ()


SECTIONS: tuple[Section, ...] = (
    Section("method", "01_method.ipynb", "§3 method figure: keypoints → density → weights → masked loss"),
    Section("pretrain", "02_pretrain.ipynb", "§4 SimMIM vs KAMIM pretraining: loss curves, reconstructions"),
    Section("linprobe", "03_linear_probe.ipynb", "Table: linear probing top-1/top-5", ("pretrain",)),
    Section("finetune", "04_finetune.ipynb", "Table: fine-tuning top-1/top-5", ("pretrain",)),
    # 05 and 06 reuse notebook 2's SimMIM and KAMIM runs (same run ids): they start after it, so that no two
    # notebooks running at once (--jobs) train the same run.
    Section("detectors", "05_detector_ablation.ipynb", "Ablation: FAST vs SIFT vs ORB", ("pretrain",)),
    Section("sweep", "06_wps_temperature_sweep.ipynb", "Ablation: w_ps x T heatmap", ("pretrain",)),
    Section("attention", "07_attention.ipynb", "Analysis: attention maps, distance, NMI", ("pretrain",)),
    Section("fourier", "08_fourier.ipynb", "Analysis: Fourier ΔLog amplitude of features", ("pretrain",)),
    Section("tokens", "09_tokens.ipynb", "Analysis: token t-SNE, pre/post-attention PCA", ("pretrain",)),
    Section("reconstructions", "10_reconstructions.ipynb", "Analysis: reconstructions, PSNR/SSIM", ("pretrain",)),
    Section("masking", "11_masking.ipynb", "Masking strategies: random vs AttMask vs keypoint density, x KAMIM "
                                           "weights x norm-pix target"),
    Section("peers", "12_peers.ipynb", "Peers: SimMIM, KAMIM, AttMask, SemanticMIM (+KAMIM); PSS fine-tuning and "
            "dynamic inference, paired seeds"),
)


def resolve_sections(only: list[str] | None = None, available: tuple[Section, ...] = SECTIONS) -> list[Section]:
    """Sections to run, in catalogue order, with what the selected ones need added in front.

    Raises:
        ValueError: a name in ``only`` is not a section.
    """
    by_name = {section.name: section for section in available}
    if not only:
        return list(available)
    unknown = [name for name in only if name not in by_name]
    if unknown:
        raise ValueError(f"--only: unknown section(s) {', '.join(unknown)}; choose from {', '.join(by_name)}.")
    wanted: set[str] = set()

    def add(name: str) -> None:
        if name not in wanted:
            wanted.add(name)
            for need in by_name[name].needs:
                add(need)

    for name in only:
        add(name)
    return [section for section in available if section.name in wanted]
