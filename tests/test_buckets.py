from lora_nb.dataset.buckets import choose_bucket, closest_bucket, make_buckets


def test_buckets_are_64_multiples_within_area():
    buckets = make_buckets(512, 256, 1024)
    assert (512, 512) in buckets and (448, 576) in buckets
    for w, h in buckets:
        assert w % 64 == 0 and h % 64 == 0 and w * h <= 512 * 512 and min(w, h) >= 256


def test_bucket_choice_keeps_aspect_and_never_upscales():
    buckets = make_buckets(512, 256, 1024)
    b, up = choose_bucket((1200, 800), buckets, allow_upscale=False)
    assert not up and abs(b[0] / b[1] - 1.5) < 0.2
    b, up = choose_bucket((300, 300), buckets, allow_upscale=False)
    assert b == (256, 256) and not up          # its own smaller bucket, not an upscale to 512
    assert choose_bucket((100, 100), buckets, allow_upscale=False, min_side=256) == (None, False)
    b, up = choose_bucket((100, 100), buckets, allow_upscale=True, min_side=256)
    assert up and b == (512, 512)


def test_closest_bucket_weighs_portrait_and_landscape_alike():
    buckets = make_buckets(512, 256, 1024)
    w, h = closest_bucket(1000, 500, buckets)
    assert w > h and abs(w / h - 2) < 0.3
    w, h = closest_bucket(500, 1000, buckets)
    assert h > w and abs(h / w - 2) < 0.3
