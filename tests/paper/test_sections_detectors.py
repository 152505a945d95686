"""Known answers of the detector-ablation section's generated coverage table and warning
(kamim_paper.sections.detectors)."""
from kamim_paper.sections import detectors


def _row(with_keypoints: int, images: int = 100, median: float = 12.0) -> dict:
    return {"images": images, "with_keypoints": with_keypoints, "share": with_keypoints / images,
            "median_keypoints": median}


def test_a_detector_below_90_percent_coverage_is_warned_about_and_one_at_90_is_not():
    coverage = {"fast": _row(100), "sift": _row(90), "orb": _row(89)}
    assert detectors.COVERAGE_WARNING_SHARE == 0.9
    assert detectors.coverage_warnings(coverage) == [
        "orb finds keypoints on only 89 % of the images: KAMIM-orb is close to SimMIM here, and its row says little "
        "about the detector."]


def test_every_detector_under_the_threshold_gets_its_own_sentence_in_order():
    coverage = {"sift": _row(0), "orb": _row(45)}
    warnings = detectors.coverage_warnings(coverage)
    assert [warning.split(" ")[0] for warning in warnings] == ["sift", "orb"]
    assert "only 0 %" in warnings[0] and "only 45 %" in warnings[1]
    assert detectors.coverage_warnings(coverage, threshold=0.0) == []


def test_coverage_markdown_lists_each_detector_with_its_share_in_percent():
    text = detectors.coverage_markdown({"fast": _row(97, median=31.0)}, "photo_crops", 96)
    assert text.startswith("### Images with at least one keypoint (photo_crops train, 96 px, OpenCV defaults)")
    row = next(line for line in text.splitlines() if line.startswith("| fast"))
    assert [cell.strip() for cell in row.strip("|").split("|")] == ["fast", "100", "97", "97.0", "31.0", "n/a"]


def test_coverage_verdict_lists_the_warnings_or_says_that_every_detector_passed():
    assert detectors.coverage_verdict({"fast": _row(95), "sift": _row(90)}) == \
        "Every detector finds keypoints on at least 90 % of the images."
    assert detectors.coverage_verdict({"fast": _row(95), "orb": _row(50)}) == \
        ("- orb finds keypoints on only 50 % of the images: KAMIM-orb is close to SimMIM here, and its row says "
         "little about the detector.")
