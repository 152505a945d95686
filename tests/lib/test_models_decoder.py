import pytest
import torch
from einops import rearrange

from kamim_lib.models.decoder import SimMIMDecoder


@pytest.mark.parametrize("in_dim, stride, grid", [(32, 12, 8), (16, 32, 3), (8, 4, 5)])
def test_decoder_equals_the_convolution_then_pixel_shuffle_it_stands_for(in_dim, stride, grid):
    torch.manual_seed(0)
    decoder = SimMIMDecoder(in_dim=in_dim, stride=stride)
    tokens = torch.randn(2, grid * grid, in_dim, requires_grad=True)
    upstream = torch.randn(2, 3, grid * stride, grid * stride)
    reference = decoder.shuffle(decoder.proj(rearrange(tokens, "b (h w) d -> b d h w", h=grid, w=grid)))
    (reference_grads) = torch.autograd.grad((reference * upstream).sum(), (tokens, decoder.proj.weight))
    output = decoder(tokens, grid)
    grads = torch.autograd.grad((output * upstream).sum(), (tokens, decoder.proj.weight))
    assert output.shape == (2, 3, grid * stride, grid * stride)
    torch.testing.assert_close(output, reference, rtol=1e-5, atol=1e-6)
    for grad, reference_grad in zip(grads, reference_grads):
        torch.testing.assert_close(grad, reference_grad, rtol=1e-4, atol=1e-4)
