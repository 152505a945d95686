"""The method section (kamim_paper.sections.method) on one bundled photo: its summary, figure and loss numbers."""
import json

import pytest

from kamim_paper.sections import method
from kamim_paper.sections.params import MethodParams


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("method")
    return method.compute(MethodParams(profile="tiny", photos=["astronaut"], img_size=96, output_dir=str(out)))


def test_compute_writes_the_summary_it_returns(result):
    written = json.loads((result.out_dir / "method" / "summary.json").read_text())
    assert written == result.summary
    assert list(written["per_image"]) == ["astronaut"] and written["per_image"]["astronaut"]["keypoint_pixels"] > 0


def test_kamim_weights_at_least_one_make_the_unnormalised_loss_no_smaller_than_simmims(result):
    losses = method.losses(result)
    assert list(losses) == ["simmim", "kamim (÷ 3ΣM)", "kamim (÷ 3ΣM·ω)"]
    assert losses["kamim (÷ 3ΣM)"] >= losses["simmim"] > 0


def test_pipeline_figure_is_saved_and_returned(result):
    figure = method.pipeline_figure(result)
    assert (result.out_dir / "figures" / "method_keypoint_weights.png").stat().st_size > 0
    assert figure.axes
