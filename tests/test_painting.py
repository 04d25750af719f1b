"""The distances to a painting that the painting-trained built-ins are measured by
(rtstyle.painting): unstyled is 100% / 0, a picture made of the painting's own texture
comes closer in style and moves away in content."""

import numpy as np
from conftest import make_photo

from rtstyle.painting import describe_painting_fidelity, painting_fidelity, resize_longer
from rtstyle.vgg import load_vgg16


def test_distances_to_a_painting(vgg_weights):
    vgg = load_vgg16(vgg_weights)
    rng = np.random.default_rng(0)
    painting = np.kron(rng.integers(0, 255, (12, 16, 3)), np.ones((4, 4, 1))).astype(np.uint8)  # bold patches
    photos = [resize_longer(make_photo(60, 80, seed=s), 70) for s in (1, 2)]
    assert photos[0].shape[:2] == (52, 70)

    unstyled = painting_fidelity(lambda x: x, photos, painting, vgg)
    assert unstyled["style_fraction"] == 1.0 and unstyled["content_distance"] == 0
    assert unstyled["photos"] == 2 and unstyled["photo_size"] == 70
    assert unstyled["sharpness"] == unstyled["photo_sharpness"] > 0

    def painted(x):  # the painting's patches, tiled over the photo
        reps = (-(-x.shape[0] // painting.shape[0]), -(-x.shape[1] // painting.shape[1]), 1)
        return np.tile(painting, reps)[: x.shape[0], : x.shape[1]]

    styled = painting_fidelity(painted, photos, painting, vgg)
    assert styled["style_fraction"] < 0.5 and styled["content_distance"] > 0
    assert "style distance" in describe_painting_fidelity(styled)
