"""Training input sources: several globs or folders, image files only, crops drawn in
proportion to image area."""

import ml_collections
import numpy as np
import pytest
from PIL import Image

from laplace_codec import images
from laplace_codec.errors import InputError
from laplace_codec.training import data


def _write(path, height, width, value):
    Image.fromarray(np.full((height, width, 3), value, np.uint8)).save(path)


@pytest.fixture()
def two_folders(tmp_path):
    big, small = tmp_path / "big", tmp_path / "small"
    big.mkdir()
    small.mkdir()
    _write(big / "a.png", 96, 96, 10)  # 9216 pixels
    (big / "SOURCES.md").write_text("credits")
    for i in range(3):
        _write(small / f"s{i}.jpg", 32, 32, 200)  # 1024 pixels each, 3072 in all
    (small / "notes.txt").write_text("not an image")
    return big, small


def test_image_files_take_globs_and_folders_and_skip_other_files(two_folders):
    big, small = two_folders
    files = images.image_files(f"{big},{small}/*.jpg")
    assert [p.rsplit("/", 1)[-1] for p in files] == ["a.png", "s0.jpg", "s1.jpg", "s2.jpg"]
    assert images.image_files([str(big), str(big / "a.png")]) == [str(big / "a.png")]


def test_image_files_name_the_entry_without_images(two_folders, tmp_path):
    big, _ = two_folders
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "SOURCES.md").write_text("credits only")
    with pytest.raises(InputError, match="no image files in .*empty"):
        images.image_files(f"{big},{empty}")
    with pytest.raises(InputError, match="no image glob or folder"):
        images.image_files(" , ")


def test_crops_are_drawn_in_proportion_to_image_area(two_folders):
    big, small = two_folders
    config = ml_collections.ConfigDict(dict(train_glob=f"{big},{small}", crop=16,
                                            batch_size=64))
    batches = data.make_dataset(config, seed=3)
    values = np.concatenate([next(batches)[:, 0, 0, 0] for _ in range(8)])  # 512 crops
    share_big = np.mean(values == 10)
    # 9216 / (9216 + 3072) = 0.75 of the pixels; drawn per image, the big one would get 0.25.
    assert abs(share_big - 0.75) < 0.06, share_big
