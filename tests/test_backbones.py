import pytest
import torch

from laat_core.models.backbones import BACKBONES, Conv4, make_backbone


@pytest.mark.parametrize("name", BACKBONES)
def test_each_backbone_maps_images_to_its_feature_width(name):
    backbone = make_backbone(name).eval()
    with torch.no_grad():
        features = backbone(torch.rand(2, 3, 32, 32))
    assert features.shape == (2, backbone.out_dim)


def test_conv4_widths_set_each_block_and_the_output_width():
    backbone = Conv4(widths=(32, 64, 128, 128))
    convs = [m for m in backbone.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [32, 64, 128, 128]
    assert backbone.out_dim == 128


def test_unknown_backbone_names_the_choices():
    with pytest.raises(ValueError, match="conv4-wide"):
        make_backbone("vgg")
