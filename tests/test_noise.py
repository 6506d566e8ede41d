import torch

from lora_nb.training.noise import make_noise


def test_plain_noise_is_deterministic_for_a_generator():
    lat = torch.zeros(2, 4, 16, 16)
    a = make_noise(lat, torch.Generator().manual_seed(1))
    b = make_noise(lat, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a.shape == lat.shape


def test_noise_offset_shifts_channel_means():
    lat = torch.zeros(64, 4, 8, 8)
    plain = make_noise(lat, torch.Generator().manual_seed(0))
    offset = make_noise(lat, torch.Generator().manual_seed(0), noise_offset=0.5)
    # per-(sample, channel) means vary far more with an offset (a constant per channel)
    assert offset.mean(dim=(2, 3)).std() > 3 * plain.mean(dim=(2, 3)).std()


def test_multires_noise_has_unit_std_and_low_frequency_energy():
    lat = torch.zeros(16, 4, 32, 32)
    plain = make_noise(lat, torch.Generator().manual_seed(0))
    multi = make_noise(lat, torch.Generator().manual_seed(0), multires_iterations=6, multires_discount=0.8)
    assert abs(multi.std().item() - 1) < 0.05
    low = lambda x: torch.nn.functional.avg_pool2d(x, 8).std()  # noqa: E731
    assert low(multi) > 1.5 * low(plain)
