"""`mnist-toolkit explain`: a picture per file of what the model saw, and the review page's links to them."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from toolkit import explain, report, scans
from toolkit.imaging import normalise
from toolkit.predict import decode

SAMPLES = Path(__file__).resolve().parent.parent / "artifacts" / "samples"


def sample(label: int) -> Path:
    return sorted(SAMPLES.glob(f"*-label-{label}.png"))[0]


def test_the_inputs_drawn_are_the_ones_predict_scores():
    for path in (sample(7), next(SAMPLES.glob("*.jpg")), next(SAMPLES.glob("*.tif"))):
        seen = explain.look(str(path))
        (item,) = decode.prepare_path(str(path))
        assert seen.problem is None and seen.tensors is not None
        np.testing.assert_array_equal(seen.tensors[0], item.tensor)


def test_a_page_with_a_form_box_shows_the_lines_and_each_digit(tmp_path):
    glyphs = [(normalise.normalize(Image.open(sample(d))) * 255).astype(np.uint8) for d in (4, 2)]
    page = scans.render_page(glyphs, [4, 2], np.random.default_rng(1), height=60, box=True, header=True)
    page.image.save(tmp_path / "form.png")
    seen = explain.look(str(tmp_path / "form.png"), multi_digit=True)
    assert seen.lines is not None and seen.lines.any()
    assert seen.boxes and seen.tensors is not None and len(seen.tensors) == len(seen.boxes) >= 2
    result = explain.explain_files([str(tmp_path / "form.png")], tmp_path / "out", multi_digit=True)
    (picture,) = result.written
    assert result.lines() == [f"wrote {picture}"]
    with Image.open(picture) as image:
        assert image.width >= 800 and len(image.convert("RGB").getcolors(1 << 24) or []) > 10


def test_cli_draws_each_file_and_says_so_for_a_bad_one(tmp_path, cli):
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    result = cli("explain", sample(3), tmp_path / "bad.png", "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "wrote" in result.stderr and f"could not read {tmp_path / 'bad.png'}" in result.stderr
    assert len(list((tmp_path / "out").glob("*.png"))) == 2  # the bad file's picture says why


def test_missing_files_and_a_file_as_out_are_one_line_errors(tmp_path, cli):
    result = cli("explain", tmp_path / "nope.png", "--out", tmp_path / "out")
    assert result.exit_code == 2 and result.stderr == (
        f"error: {tmp_path / 'nope.png'}: no such file; see 'mnist-toolkit explain --help'\n"
    )
    (tmp_path / "file").write_text("")
    result = cli("explain", sample(3), "--out", tmp_path / "file")
    assert result.exit_code == 2 and "is a file; give a folder" in result.stderr


def test_the_review_page_links_records_to_their_pictures(tmp_path, monkeypatch, cli):
    monkeypatch.chdir(tmp_path)
    for label in (7, 4):
        shutil.copy(sorted(SAMPLES.glob(f"*-label-{label}.png"))[0], tmp_path / f"d{label}.png")
    predictions = tmp_path / "p.csv"
    assert cli("predict", "d7.png", "d4.png", "--out", predictions, "--min-confidence", "1").exit_code == 0
    result = cli("report", predictions, "--out", "review/r.html", "--explain", "pictures", "--explain-limit", "1")
    assert result.exit_code == 0, result.output
    assert "1 explain pictures made" in result.stderr
    html = (tmp_path / "review" / "r.html").read_text("utf-8")
    assert html.count('class="explain"') == 1
    assert f'href="../pictures/{explain.picture_name("d7.png")}"' in html
    assert report.build(predictions, "again.html", explain_dir="pictures", explain_limit=0).explained == 0
    assert Path("again.html").read_text("utf-8").count('class="explain"') == 1  # an existing picture is linked


def _page_with(tmp_path: Path, name: str, mark) -> Path:
    """A blank 1000x1400 page with one mark drawn on it by `mark(pixels)`."""
    import cv2

    pixels = np.full((1400, 1000), 235, np.uint8)
    mark(pixels)
    cv2.imwrite(str(tmp_path / name), pixels)
    return tmp_path / name


def test_the_picture_says_what_predicts_record_says_flags_the_model_adds_included(tmp_path):
    import cv2

    from toolkit.predict import predict_images

    blot = _page_with(tmp_path, "blot.png", lambda p: cv2.circle(p, (500, 600), 18, 60, -1))
    bar = _page_with(tmp_path, "bar.png", lambda p: cv2.line(p, (300, 300), (340, 420), 40, 4))
    scorer = explain._scorer(None)
    expected = {blot: (None, "not-a-digit"), bar: (1, "straight-stroke"), sample(7): (7, None)}
    for path, (digit, flags) in expected.items():
        seen = explain.look(str(path))
        probs = scorer.score(seen.tensors, with_not_digit=True)
        said = explain.record(str(path), seen, probs)
        (made,) = predict_images([str(path)])
        for column in ("digit", "confidence", "low_confidence", "flags", "not_digit"):
            assert said[column] == made[column], (path, column)
        assert (said["digit"], said["flags"]) == (digit, flags)
        line = explain.headline(seen, probs, said)
        if flags:
            # The segmenter found nothing to say: the flag is the model's (rejected, or a bar read as a 1).
            assert flags not in seen.result.flags and line.endswith(f"flags: {flags}")
    line = explain.headline(seen, probs, said)
    assert line.startswith("reads 7 (confidence ") and "flags" not in line
    seen = explain.look(str(blot))
    probs = scorer.score(seen.tensors, with_not_digit=True)
    assert explain.headline(seen, probs, explain.record(str(blot), seen, probs)) == (
        "no digit: no mark is read as one; low confidence   flags: not-a-digit"
    )


def test_a_number_pictured_reads_as_its_record(tmp_path):
    from toolkit.predict import predict_images

    glyphs = [(normalise.normalize(Image.open(sample(d))) * 255).astype(np.uint8) for d in (4, 2)]
    page = scans.render_page(glyphs, [4, 2], np.random.default_rng(1), height=60, box=True, header=True)
    page.image.save(tmp_path / "form.png")
    seen = explain.look(str(tmp_path / "form.png"), multi_digit=True)
    probs = explain._scorer(None).score(seen.tensors, with_not_digit=True)
    said = explain.record(str(tmp_path / "form.png"), seen, probs, multi_digit=True)
    (made,) = predict_images([str(tmp_path / "form.png")], multi_digit=True)
    assert said["text"] == made["text"] == "42" and said["flags"] == made["flags"]
    assert explain.headline(seen, probs, said).startswith("reads 42 (confidence ")
