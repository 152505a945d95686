"""Section 8's API (kamim_paper.sections.fourier): table and generated conclusions from a hand-made summary, known
answers; the notebook runs end to end in test_analysis_notebooks.py."""
from kamim_paper.experiments.analysis_models import RANDOM_INIT
from kamim_paper.sections import fourier
from kamim_paper.sections.outputs import SectionResult


def _rows(values):
    return {"layer": ["x", *range(1, len(values))], "value": list(values)}


def _result(tmp_path) -> SectionResult:
    summary = {"model": "vit_micro12", "provenance": {"profile": "tiny"},
               "models": {"simmim": {"delta_log_amplitude": _rows([-1.0, -1.5, -2.0])},
                          "kamim": {"delta_log_amplitude": _rows([-1.0, -2.0, -3.0])},
                          RANDOM_INIT: {"delta_log_amplitude": _rows([-0.5, -0.5, -0.5])}}}
    return SectionResult("fourier", fourier.Params(profile="tiny", dataset="textured_digits"), tmp_path, summary)


def test_the_conclusions_are_generated_from_the_numbers(tmp_path):
    lines = fourier.conclusions(_result(tmp_path)).splitlines()
    assert lines[0] == ("- SimMIM: ΔLog amplitude -1.00 at the embedding output and -2.00 after the last block (range "
                        "-2.00 to -1.00).")
    # KAMIM is below SimMIM in 2 of 3 layers (equal at "x"); mean paired difference (0 - 0.5 - 1) / 3 = -0.50.
    assert any(line.startswith("- KAMIM's ΔLog amplitude is below SimMIM's in 2 of 3 layers; paired difference over "
                               "layers -0.50") for line in lines)
    assert any(line.startswith("- KAMIM's ΔLog amplitude is below random init's in 3 of 3 layers") for line in lines)
    assert lines[-1].startswith("- In the paper (read off the paper's figures (±0.5 %), ViT-B), KAMIM's ΔLog "
                                "amplitude is below SimMIM's in")


def test_the_table_is_written_under_its_name(tmp_path):
    table = fourier.amplitude_table(_result(tmp_path))
    assert (tmp_path / "tables" / "fourier_delta_log_amplitude.md").read_text() == table
    assert table.startswith("### Fourier ΔLog amplitude per layer (vit_micro12)")
    assert "| 2 | -2.00 | -3.00 | -0.50 |" in table
