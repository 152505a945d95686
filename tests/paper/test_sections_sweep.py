"""Known answers of the w_ps x T sweep section's heatmap grid (kamim_paper.sections.sweep)."""
from kamim_paper.experiments import runs as experiments
from kamim_paper.sections import sweep


def test_heatmap_panels_put_each_cell_at_its_w_ps_row_and_t_column_centred_on_simmim():
    grid = experiments.sweep_variants([4, 8], [0.25, 1.0])
    labels = [variant.label for variant in grid]
    evidence = {"val_masked_l1": {"simmim": [0.5, 0.7], **{label: [index, index + 2.0]
                                                          for index, label in enumerate(labels)}},
                "top1": {label: [10.0 * index] * 2 for index, label in enumerate(labels)}}
    panels, centers, seed_values = sweep.heatmap_panels(evidence, grid, [4, 8], seeds=2)
    l1_panel, top1_panel = list(panels)
    assert l1_panel.endswith(", mean of 2 seed(s)")
    # Means over seeds ([i, i + 2] -> i + 1), rows by w_ps, columns by T.
    assert panels[l1_panel] == [[1.0, 2.0], [3.0, 4.0]]   # sweep_variants is row-major: (4, .25), (4, 1), ...
    assert centers[l1_panel] == 0.6 and centers[top1_panel] is None   # no SimMIM top-1: no centre
    assert seed_values[l1_panel] == [[[0, 2.0], [1, 3.0]], [[2, 4.0], [3, 5.0]]]   # the seeds behind each mean
    # A w_ps that has no cell gives an empty row rather than another row's values.
    assert sweep.heatmap_panels(evidence, grid, [4, 16], seeds=2)[0][l1_panel][1] == []
