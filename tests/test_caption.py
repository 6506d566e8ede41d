"""Captioners end to end on tiny offline models built with the real classes.

BLIP and Florence-2 are built from small configs and saved with save_pretrained (tokenizers and
image processors included), then loaded by the same `from_pretrained(path)` call a hub id takes.
The WD14 tagger is a tiny ONNX graph with the real input/output contract plus a generated
selected_tags.csv. Random weights give meaningless captions, so the tests check the pipeline:
files written or skipped, prefix/suffix, batching, backups, atomic writes, errors.
"""

import csv
import string

import numpy as np
import pytest
from PIL import Image

from lora_nb.dataset.caption import (
    DEFAULT_MODELS,
    WD14_THRESHOLD,
    BlipCaptioner,
    CaptionOptions,
    Florence2Captioner,
    WD14Tagger,
    caption_folder,
    make_captioner,
    read_selected_tags,
)
from lora_nb.errors import ConfigError, DatasetError, ModelLoadError

WD14_TAGS = [  # (name, category, logit bias, weight on the red channel)
    ("1girl", 0, 5.0, 0.0),
    ("long_hair", 0, 0.0, 0.0),  # p = 0.5: in at threshold 0.35, out at 0.6
    ("^_^", 0, 5.0, 0.0),
    ("red_theme", 0, -12.0, 0.1),  # only images with a strong red channel
    ("toy_character", 4, 0.0, 0.0),  # p = 0.5: a character below the default 0.85
    ("general", 9, 5.0, 0.0),
    ("sensitive", 9, 0.0, 0.0),
]


# --- tiny model builders ---------------------------------------------------------------------------
def build_tiny_wd14(path, size=32, fixed_batch=None):
    """model.onnx (NHWC BGR float32 in, sigmoid probabilities out) + selected_tags.csv."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    path.mkdir(parents=True, exist_ok=True)
    n = len(WD14_TAGS)
    w = np.zeros((3, n), np.float32)
    w[2, :] = [t[3] for t in WD14_TAGS]  # channel 2 of BGR is red
    b = np.array([t[2] for t in WD14_TAGS], np.float32)
    nodes = [
        helper.make_node("ReduceMean", ["input_1:0"], ["mean"], axes=[1, 2], keepdims=0),
        helper.make_node("MatMul", ["mean", "W"], ["logits0"]),
        helper.make_node("Add", ["logits0", "B"], ["logits"]),
        helper.make_node("Sigmoid", ["logits"], ["predictions_sigmoid"]),
    ]
    batch = fixed_batch or "batch"
    graph = helper.make_graph(
        nodes, "tiny_wd14",
        [helper.make_tensor_value_info("input_1:0", TensorProto.FLOAT, [batch, size, size, 3])],
        [helper.make_tensor_value_info("predictions_sigmoid", TensorProto.FLOAT, [batch, n])],
        initializer=[numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path / "model.onnx")
    with open(path / "selected_tags.csv", "w", newline="", encoding="utf-8") as fh:
        wr = csv.writer(fh)
        wr.writerow(["tag_id", "name", "category", "count"])
        for i, (name, cat, _, _) in enumerate(WD14_TAGS):
            wr.writerow([i, name, cat, 1000 - i])
    return path


def build_tiny_blip(path, word="cat"):
    """BLIP captioning model with a tiny BERT WordPiece tokenizer; the decoder bias favours `word`
    so every caption is that word repeated (non-empty, whatever the random weights)."""
    import torch
    from transformers import BertTokenizer, BlipConfig, BlipForConditionalGeneration, BlipProcessor
    from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil

    words = "a an the of on in with and photo picture red blue green circle square cat dog background".split()
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words, ".", ","])}
    vocab["[DEC]"] = len(vocab)  # BLIP's decoder start token, as in Salesforce's vocab
    tok = BertTokenizer(vocab=vocab, bos_token="[DEC]", model_max_length=40)
    proc = BlipProcessor(image_processor=BlipImageProcessorPil(size={"height": 32, "width": 32}), tokenizer=tok)
    text = dict(vocab_size=len(vocab), hidden_size=32, encoder_hidden_size=32, intermediate_size=64,
                projection_dim=32, num_hidden_layers=1, num_attention_heads=2, max_position_embeddings=64,
                bos_token_id=tok.bos_token_id, eos_token_id=tok.sep_token_id, pad_token_id=tok.pad_token_id,
                sep_token_id=tok.sep_token_id)
    vision = dict(hidden_size=32, intermediate_size=64, projection_dim=32, num_hidden_layers=1,
                  num_attention_heads=2, image_size=32, patch_size=8)
    torch.manual_seed(0)
    model = BlipForConditionalGeneration(BlipConfig(text_config=text, vision_config=vision, projection_dim=32))
    with torch.no_grad():
        model.text_decoder.cls.predictions.bias[vocab[word]] = 50.0
    model.save_pretrained(path)
    proc.save_pretrained(path)
    return path


def build_tiny_florence2(path):
    """Florence-2 (DaViT vision tower + BART) with a byte-level BPE tokenizer of letters only and
    min_new_tokens in its generation config, so captions are non-empty letter strings."""
    import torch
    from transformers import BartTokenizer, Florence2Config, Florence2ForConditionalGeneration, Florence2Processor
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    vocab = {t: i for i, t in enumerate(["<s>", "<pad>", "</s>", "<unk>", *string.ascii_lowercase, "<mask>"])}
    tok = BartTokenizer(vocab=vocab, merges=[], extra_special_tokens={"image_token": "<image>"},
                        model_max_length=128)
    # 32 px through strides 4 and 2 -> a 4x4 grid + 1 temporal token = 17 image tokens
    image_proc = CLIPImageProcessorPil(size={"height": 32, "width": 32}, crop_size={"height": 32, "width": 32},
                                       do_center_crop=False, image_seq_length=17)
    proc = Florence2Processor(image_processor=image_proc, tokenizer=tok, post_processor_config={"pure_text": {}})
    text = dict(model_type="bart", vocab_size=len(tok), max_position_embeddings=128, d_model=32,
                encoder_layers=1, decoder_layers=1, encoder_ffn_dim=32, decoder_ffn_dim=32,
                encoder_attention_heads=2, decoder_attention_heads=2, bos_token_id=tok.bos_token_id,
                eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                decoder_start_token_id=tok.eos_token_id, forced_bos_token_id=tok.bos_token_id)
    vision = dict(depths=[1, 1], patch_size=[7, 3], patch_stride=[4, 2], patch_padding=[3, 1],
                  patch_prenorm=[False, True], embed_dim=[16, 32], num_heads=[1, 2], num_groups=[1, 2],
                  window_size=4, projection_dim=32, max_position_embeddings=16)
    torch.manual_seed(0)
    model = Florence2ForConditionalGeneration(Florence2Config(text_config=text, vision_config=vision,
                                                              image_token_id=tok.image_token_id))
    model.generation_config.min_new_tokens = 4
    model.generation_config.bad_words_ids = [[tok.convert_tokens_to_ids(t)] for t in ("<pad>", "<unk>", "<mask>")]
    model.save_pretrained(path)
    proc.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def wd14_dir(tmp_path_factory):
    return build_tiny_wd14(tmp_path_factory.mktemp("models") / "wd14")


@pytest.fixture(scope="module")
def blip_dir(tmp_path_factory):
    return build_tiny_blip(tmp_path_factory.mktemp("models") / "blip")


@pytest.fixture(scope="module")
def florence_dir(tmp_path_factory):
    return build_tiny_florence2(tmp_path_factory.mktemp("models") / "florence2")


def _images(folder, colours, size=(32, 32)):
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, c in enumerate(colours):
        p = folder / f"{i:02d}.png"
        Image.new("RGB", size, c).save(p)
        paths.append(p)
    return paths


class Spy:
    """Wraps a captioner and records each batch size."""

    def __init__(self, inner):
        self.inner, self.name, self.batches = inner, inner.name, []

    def caption_images(self, images):
        self.batches.append(len(images))
        return self.inner.caption_images(images)


# --- WD14 ------------------------------------------------------------------------------------------
def test_wd14_folder_end_to_end(wd14_dir, tmp_path):
    red, blue = (220, 40, 40), (40, 70, 220)
    paths = _images(tmp_path / "data" / "5_toy", [red, blue, red])
    (tmp_path / "data" / "5_toy" / "02.txt").write_text("hand written caption")  # kept
    rep = caption_folder(tmp_path / "data", backend="wd14", model=str(wd14_dir), progress=False)
    assert rep.skipped == [paths[2]] and len(rep.written) == 2 and not rep.failed
    assert (paths[2].with_suffix(".txt")).read_text() == "hand written caption"
    red_tags = paths[0].with_suffix(".txt").read_text().strip().split(", ")
    blue_tags = paths[1].with_suffix(".txt").read_text().strip().split(", ")
    # default threshold 0.6 (LoRA explainer): sure tags only; rating dropped; underscores -> spaces, kaomoji kept
    assert red_tags[0] == "red theme" and sorted(red_tags) == ["1girl", "^_^", "red theme"]  # surest first
    assert sorted(blue_tags) == ["1girl", "^_^"]
    assert "general" not in red_tags and "long hair" not in red_tags and "toy character" not in red_tags


def test_wd14_thresholds_rating_and_underscores(wd14_dir):
    img = Image.new("RGB", (32, 32), (40, 70, 220))
    many = WD14Tagger(str(wd14_dir), general_threshold=0.35, character_threshold=0.4, keep_rating=True,
                      replace_underscores=False)
    tags = many.caption_images([img])[0].split(", ")
    assert tags[0] == "toy_character"  # characters first
    assert set(tags[1:-1]) == {"1girl", "long_hair", "^_^"} and tags[-1] == "general"
    assert many.size == 32 and many.fixed_batch is None
    with pytest.raises(ConfigError, match="threshold"):
        WD14Tagger(str(wd14_dir), general_threshold=0)


def test_wd14_preprocess_matches_reference(wd14_dir):
    tagger = WD14Tagger(str(wd14_dir))
    im = Image.new("RGBA", (16, 8), (255, 0, 0, 255))
    arr = tagger.preprocess(im)
    assert arr.shape == (32, 32, 3) and arr.dtype == np.float32
    assert tuple(arr[16, 16]) == (0.0, 0.0, 255.0)  # BGR: red is the last channel
    assert tuple(arr[0, 16]) == (255.0, 255.0, 255.0)  # padded to a square with white
    clear = tagger.preprocess(Image.new("RGBA", (32, 32), (0, 0, 0, 0)))
    assert float(clear.min()) == 255.0  # transparency composited on white


def test_wd14_fixed_batch_export(tmp_path):
    d = build_tiny_wd14(tmp_path / "wd14fixed", size=24, fixed_batch=1)
    tagger = WD14Tagger(str(d))
    assert tagger.size == 24 and tagger.fixed_batch == 1
    probs = tagger.predict([Image.new("RGB", (10, 10), "red")] * 3)
    assert probs.shape == (3, len(WD14_TAGS))


def test_wd14_bad_files(tmp_path, wd14_dir):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(wd14_dir, bad)
    (bad / "selected_tags.csv").write_text("tag_id,name,category,count\n0,a,0,1\n")
    with pytest.raises(ModelLoadError, match="lists 1 tags but the model outputs 7"):
        WD14Tagger(str(bad))
    (bad / "selected_tags.csv").write_text("id;tag\n")
    with pytest.raises(ModelLoadError, match="tag_id,name,category,count"):
        read_selected_tags(bad / "selected_tags.csv")
    (bad / "model.onnx").unlink()
    with pytest.raises(ModelLoadError, match=r"missing model\.onnx"):
        WD14Tagger(str(bad))


# --- BLIP ------------------------------------------------------------------------------------------
def test_blip_end_to_end_batched_with_prefix(blip_dir, tiny_dataset):
    cap = BlipCaptioner(str(blip_dir), max_new_tokens=4, num_beams=2)
    assert cap.device == "cpu"
    spy = Spy(cap)
    for p in tiny_dataset.rglob("*.txt"):
        p.unlink()
    rep = caption_folder(tiny_dataset, captioner=spy, prefix="uehxbfklaq", suffix="best quality", batch_size=3,
                         progress=False)
    assert spy.batches == [3, 3, 1]
    assert len(rep.written) == 7 and not rep.skipped and not rep.empty
    text = (tiny_dataset / "2_toycircle" / "000.txt").read_text()
    assert text == "uehxbfklaq, cat cat cat cat, best quality\n"
    again = caption_folder(tiny_dataset, captioner=spy, progress=False)  # everything captioned now: all skipped
    assert len(again.skipped) == 7 and not again.written and spy.batches == [3, 3, 1]


def test_blip_by_backend_name_with_prompt(blip_dir, tmp_path):
    paths = _images(tmp_path / "d", [(0, 0, 0), (255, 255, 255)], size=(40, 30))
    rep = caption_folder(tmp_path / "d", backend="blip", model=str(blip_dir), max_new_tokens=3, prompt="a photo of",
                         progress=False)
    assert rep.written == [p.with_suffix(".txt") for p in paths]
    assert paths[0].with_suffix(".txt").read_text().startswith("a photo of cat")


def test_overwrite_backs_up_and_replaces(blip_dir, tiny_dataset):
    first = tiny_dataset / "1_toysquare" / "000.txt"
    old = first.read_bytes()
    rep = caption_folder(tiny_dataset, backend="blip", model=str(blip_dir), overwrite=True, max_new_tokens=2,
                         progress=False)
    assert len(rep.written) == 7 and first.read_text() == "cat cat\n"
    assert (rep.backup / "1_toysquare" / "000.txt").read_bytes() == old
    assert "backed up" in rep.summary()


# --- Florence-2 ------------------------------------------------------------------------------------
def test_florence2_end_to_end(florence_dir, tmp_path):
    paths = _images(tmp_path / "d" / "3_thing", [(10, 200, 10), (200, 10, 10), (10, 10, 200)], size=(48, 32))
    paths[1].with_suffix(".txt").write_bytes(b"")  # an empty caption file does not count as a caption
    cap = Florence2Captioner(str(florence_dir), task="caption", max_new_tokens=6, num_beams=2)
    assert cap.task == "<CAPTION>"
    spy = Spy(cap)
    rep = caption_folder(tmp_path / "d", captioner=spy, batch_size=2, prefix="xqzv", progress=False)
    assert spy.batches == [2, 1] and len(rep.written) == 3 and not rep.empty
    for p in paths:
        text = p.with_suffix(".txt").read_text().strip()
        assert text.startswith("xqzv, ")
        body = text[len("xqzv, "):]
        assert 4 <= len(body) <= 6 and body.isalpha()  # min_new_tokens..max_new_tokens letters


def test_florence2_tasks_and_remote_code_ids(florence_dir):
    for task in ("detailed", "<MORE_DETAILED_CAPTION>"):
        out = Florence2Captioner(str(florence_dir), task=task, max_new_tokens=5, num_beams=1).caption_images(
            [Image.new("RGB", (32, 32), "white")])
        assert len(out) == 1 and out[0]
    with pytest.raises(ConfigError, match="task"):
        Florence2Captioner(str(florence_dir), task="<OD>")
    with pytest.raises(ModelLoadError, match="florence-community/Florence-2-large"):
        Florence2Captioner("microsoft/Florence-2-large")


# --- the driver's contract, any backend --------------------------------------------------------------
class Fixed:
    name = "fixed"

    def __init__(self, outputs=None, fail_after=None):
        self.outputs, self.fail_after, self.calls = outputs, fail_after, 0

    def caption_images(self, images):
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise RuntimeError("out of memory")
        return list(self.outputs or ["a caption"] * len(images))[:len(images)]


def test_bad_images_and_empty_outputs_are_reported(tmp_path):
    paths = _images(tmp_path, [(0, 0, 0)] * 3)
    paths[1].write_bytes(b"not an image")
    (tmp_path / "gone.txt").write_text("caption of a deleted image")
    rep = caption_folder(tmp_path, captioner=Fixed(["ok\x00 caption", "  \n"]), batch_size=4, progress=False)
    assert rep.written == [paths[0].with_suffix(".txt")]
    assert paths[0].with_suffix(".txt").read_text() == "ok caption\n"
    assert list(rep.failed) == [paths[1]] and "cannot read the image" in rep.failed[paths[1]]
    assert rep.empty == [paths[2]] and not paths[2].with_suffix(".txt").exists()
    assert "no caption produced" in rep.summary() and "01.png" in rep.summary()
    assert rep.orphan_captions == [tmp_path / "gone.txt"] and "gone.txt" in rep.summary()


def test_writes_are_atomic_and_a_crash_keeps_finished_batches(tmp_path):
    paths = _images(tmp_path, [(0, 0, 0)] * 5)
    with pytest.raises(RuntimeError):
        caption_folder(tmp_path, captioner=Fixed(fail_after=1), batch_size=2, progress=False)
    assert [p.with_suffix(".txt").exists() for p in paths] == [True, True, False, False, False]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left behind
    rep = caption_folder(tmp_path, captioner=Fixed(), batch_size=2, progress=False)  # a re-run finishes the rest
    assert len(rep.skipped) == 2 and len(rep.written) == 3


def test_existing_captions_in_any_encoding_are_skipped(tmp_path):
    paths = _images(tmp_path, [(0, 0, 0)] * 3)
    paths[0].with_suffix(".txt").write_bytes("黑色头发".encode("gbk"))
    paths[1].with_suffix(".txt").write_bytes(b"caf\xe9 \x80")  # undecodable: still the user's file
    paths[2].with_suffix(".txt").write_bytes(b"\xef\xbb\xbf\r\n")  # BOM + CRLF only: empty
    rep = caption_folder(tmp_path, captioner=Fixed(), progress=False)
    assert rep.skipped == paths[:2] and rep.written == [paths[2].with_suffix(".txt")]
    assert rep.backup is not None  # the (empty) file it replaced was backed up
    assert paths[1].with_suffix(".txt").read_bytes() == b"caf\xe9 \x80"


def test_nothing_to_do_loads_no_model(tiny_dataset):
    rep = caption_folder(tiny_dataset, backend="blip", model="/no/such/model", progress=False)
    assert len(rep.skipped) == 7


def test_prefix_and_suffix_joining():
    from lora_nb.dataset.caption import _affix

    assert _affix("trig", "a cat", "") == "trig, a cat"
    assert _affix("trig,", "a cat", "") == "trig, a cat"
    assert _affix("This is trig. ", "A cat.", " Photo.") == "This is trig. A cat. Photo."
    assert _affix("", "a cat", "hd") == "a cat, hd"


def test_missing_models_say_what_to_download(tmp_path):
    with pytest.raises(ModelLoadError) as e:
        make_captioner("blip", model="lora-nb-test/no-such-blip")
    msg = str(e.value)
    assert "hf download lora-nb-test/no-such-blip" in msg and "HF_HUB_OFFLINE" in msg and "cache" in msg
    with pytest.raises(ModelLoadError, match="wd14-missing.*does not exist"):
        make_captioner("wd14", model=str(tmp_path / "wd14-missing"))
    with pytest.raises(ModelLoadError, match="hf download SmilingWolf/wd-vit-tagger-v3"):
        make_captioner("wd14")
    with pytest.raises(ModelLoadError, match="florence-community/Florence-2-base"):
        make_captioner("florence2")
    with pytest.raises(ModelLoadError, match="not a complete BLIP model folder"):
        make_captioner("blip", model=str(tmp_path))


def _put_in_hub_cache(cache, repo_id, folder):
    """Lay out `folder` as the Hugging Face cache does after `hf download repo_id`."""
    import shutil

    repo = cache / f"models--{repo_id.replace('/', '--')}"
    commit = "0123456789abcdef0123456789abcdef01234567"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    shutil.copytree(folder, repo / "snapshots" / commit)


def test_hub_ids_load_from_the_local_cache_offline(wd14_dir, blip_dir, tmp_path, monkeypatch):
    import huggingface_hub.constants

    from lora_nb.env import offline

    assert offline()  # conftest: no network; the cache is the only source
    cache = tmp_path / "hub"
    _put_in_hub_cache(cache, "lora-nb-test/tiny-wd14", wd14_dir)
    _put_in_hub_cache(cache, "lora-nb-test/tiny-blip", blip_dir)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    paths = _images(tmp_path / "d", [(220, 40, 40)])
    rep = caption_folder(tmp_path / "d", backend="wd14", model="lora-nb-test/tiny-wd14", progress=False)
    assert rep.written == [paths[0].with_suffix(".txt")]
    rep = caption_folder(tmp_path / "d", backend="blip", model="lora-nb-test/tiny-blip", overwrite=True,
                         max_new_tokens=1, progress=False)
    assert paths[0].with_suffix(".txt").read_text() == "cat\n"
    with pytest.raises(ModelLoadError, match=str(cache)):  # the message names the cache actually used
        make_captioner("wd14", model="lora-nb-test/not-there")


def test_bad_arguments(tmp_path):
    with pytest.raises(ConfigError, match="use one of blip, florence2, wd14"):
        make_captioner("deepbooru")
    with pytest.raises(ConfigError, match="check the option names"):
        make_captioner("wd14", threshold=0.5)
    with pytest.raises(DatasetError, match="no images"):
        caption_folder(tmp_path, captioner=Fixed())
    with pytest.raises(ConfigError, match="ready captioner"):
        caption_folder(tmp_path, captioner=Fixed(), backend="wd14", threshold=0.5)
    with pytest.raises(ConfigError, match="batch_size"):
        caption_folder(tmp_path, captioner=Fixed(), batch_size=0)
    with pytest.raises(DatasetError, match="not a folder"):
        caption_folder(tmp_path / "nope", captioner=Fixed())



# --- CaptionOptions: the one place of caption_folder's settings --------------------------------------
def test_caption_options_defaults_bounds_and_backend_checks():
    from lora_nb.textio import CAPTION_EXT

    o = CaptionOptions()
    assert (o.backend, o.model, o.overwrite, o.batch_size, o.ext) == ("blip", None, False, 8, CAPTION_EXT)
    info = {i["name"]: i for i in CaptionOptions.field_info()}
    assert info["backend"]["choices"] == tuple(DEFAULT_MODELS) and info["batch_size"]["min"] == 1
    assert info["threshold"]["help"].startswith("wd14 only: ") and str(WD14_THRESHOLD) in info["threshold"]["help"]
    assert info["num_beams"]["help"].startswith("blip/florence2 only: ")
    assert all(v in info["model"]["help"] for v in DEFAULT_MODELS.values())
    with pytest.raises(ConfigError, match="batch_size: 0 is below the minimum 1"):
        CaptionOptions(batch_size=0)
    with pytest.raises(ConfigError, match=r"'florence' is not one of blip, florence2, wd14 \(did you mean"):
        CaptionOptions(backend="florence")
    with pytest.raises(ConfigError, match="threshold: 1.5 is above the maximum 1.0"):
        CaptionOptions(backend="wd14", threshold=1.5)
    with pytest.raises(ConfigError, match="threshold: applies to wd14, not blip -> leave it empty"):
        CaptionOptions(threshold=0.5)
    with pytest.raises(ConfigError, match="keep_rating: applies to wd14, not florence2 -> leave it off"):
        CaptionOptions(backend="florence2", keep_rating=True)
    with pytest.raises(ConfigError, match="prompt: applies to blip, not wd14"):
        CaptionOptions(backend="wd14", prompt="a photo of")
    with pytest.raises(ConfigError, match="task: '<OD>' is not a Florence-2 caption task"):
        CaptionOptions(backend="florence2", task="<OD>")
    assert CaptionOptions().backend_options() == {}
    wd = CaptionOptions(backend="wd14", threshold=0.35, keep_underscores=True, device="cpu")
    assert wd.backend_options() == {"device": "cpu", "general_threshold": 0.35, "replace_underscores": False}
    assert CaptionOptions(backend="florence2", task="caption", num_beams=1).backend_options() == {
        "task": "caption", "num_beams": 1}


def test_caption_folder_honours_options_and_keyword_overrides(tmp_path):
    paths = _images(tmp_path, [(0, 0, 0)] * 3)
    opts = CaptionOptions(prefix="trig", batch_size=2)
    cap = Fixed()
    rep = caption_folder(tmp_path, opts, captioner=cap, progress=False)
    assert cap.calls == 2 and len(rep.written) == 3
    assert paths[0].with_suffix(".txt").read_text() == "trig, a caption\n"
    rep = caption_folder(tmp_path, opts, captioner=Fixed(), overwrite=True, suffix="hd", ext=".caption",
                         progress=False)  # keywords override the options object, which stays as it was
    assert rep.written == [p.with_suffix(".caption") for p in paths] and opts == CaptionOptions(prefix="trig",
                                                                                                 batch_size=2)
    assert paths[0].with_suffix(".caption").read_text() == "trig, a caption, hd\n"
    with pytest.raises(ConfigError, match="caption_folder: unknown field 'general_threshold'"):
        caption_folder(tmp_path, captioner=Fixed(), general_threshold=0.5)
    with pytest.raises(ConfigError, match="expected CaptionOptions, got str"):
        caption_folder(tmp_path, "wd14")


def test_caption_folder_builds_the_named_backend_with_its_options(tmp_path, monkeypatch):
    from lora_nb.dataset import caption

    built = []

    class Recorder(Fixed):
        def __init__(self, **kw):
            super().__init__()
            built.append(kw)

    monkeypatch.setitem(caption.BACKENDS, "wd14", Recorder)
    _images(tmp_path, [(0, 0, 0)])
    rep = caption_folder(tmp_path, CaptionOptions(backend="wd14", model="some/tagger", threshold=0.35),
                         keep_rating=True, device="cpu", progress=False)
    assert built == [{"model": "some/tagger", "general_threshold": 0.35, "keep_rating": True, "device": "cpu"}]
    assert rep.backend == "wd14" and len(rep.written) == 1


def test_notebook_form_shows_the_caption_options():
    """03_caption's form cell, run on its parameters cell: one widget per CaptionOptions field, holding
    the parameters; the caption cell passes the form's options."""
    import json
    from dataclasses import fields
    from pathlib import Path

    from lora_nb import ui

    nb = json.loads((Path(__file__).parents[1] / "notebooks" / "03_caption.ipynb").read_text(encoding="utf-8"))
    cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    code = ["".join(c["source"]) for c in cells]
    params = next(src for c, src in zip(cells, code) if "parameters" in c["metadata"].get("tags", []))
    form_cell = next(c for c in code if "ui.options_form(CaptionOptions(" in c)
    ns = {"ui": ui}
    exec(params, ns)
    exec(form_cell, ns)
    form = ns["form"]
    assert set(form.widgets) == {f.name for f in fields(CaptionOptions)}
    assert form.options == CaptionOptions(backend=ns["CAPTIONER"], model=ns["MODEL"] or None,
                                          overwrite=ns["OVERWRITE"], prefix=ns["PREFIX"], batch_size=ns["BATCH_SIZE"])
    assert any("caption_folder(folder, form.options, captioner=mode_captioner())" in c for c in code)


# --- CLI -------------------------------------------------------------------------------------------
def test_cli_caption(wd14_dir, tmp_path, capsys):
    from lora_nb.cli import main

    paths = _images(tmp_path / "data", [(220, 40, 40), (40, 70, 220)])
    assert main(["caption", str(tmp_path / "data"), "--backend", "wd14", "--model", str(wd14_dir),
                 "--threshold", "0.35", "--keep-underscores", "true", "--prefix", "xqzv"]) == 0
    assert "wrote 2 caption(s)" in capsys.readouterr().out
    assert paths[1].with_suffix(".txt").read_text().startswith("xqzv, ")
    assert "long_hair" in paths[1].with_suffix(".txt").read_text()
    assert main(["caption", str(tmp_path / "data"), "--backend", "wd14", "--model", str(wd14_dir)]) == 0
    assert "skipped 2" in capsys.readouterr().out

    assert main(["caption", str(tmp_path / "data"), "--backend", "blip", "--threshold", "0.5"]) == 2
    assert "threshold: applies to wd14" in capsys.readouterr().err
    assert main(["caption", str(tmp_path / "data"), "--backend", "wd14", "--model", str(tmp_path / "x"),
                 "--overwrite", "true"]) == 2
    assert "does not exist" in capsys.readouterr().err



def test_cli_caption_flags_are_the_options_fields(tmp_path, capsys):
    from dataclasses import fields

    from lora_nb.cli import build_parser, main
    from lora_nb.commands._option_flags import options_from_args

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices["caption"]
    flags = {a.option_strings[0]: a for a in sub._actions if a.option_strings and a.dest != "help"}
    assert set(flags) == {"--" + f.name.replace("_", "-") for f in fields(CaptionOptions)}
    for info in CaptionOptions.field_info():
        assert flags["--" + info["name"].replace("_", "-")].help.startswith(info["help"])
    args = parser.parse_args(["caption", "d", "--backend", "wd14", "--threshold", "0.35", "--keep-rating", "true",
                              "--batch-size", "3", "--ext", ".caption"])
    assert args.dir == "d" and options_from_args(args, CaptionOptions, "cap_") == CaptionOptions(
        backend="wd14", threshold=0.35, keep_rating=True, batch_size=3, ext=".caption")
    paths = _images(tmp_path / "data", [(0, 0, 0)])
    assert main(["caption", str(tmp_path / "data"), "--batch-size", "0"]) == 2
    assert "batch_size: 0 is below the minimum 1" in capsys.readouterr().err
    assert main(["caption", str(tmp_path / "data"), "--backend", "blip", "--model", str(tmp_path / "none"),
                 "--ext", ".caption"]) == 2  # the model is needed: the image has no .caption file
    assert "does not exist" in capsys.readouterr().err and not paths[0].with_suffix(".caption").exists()


# --- GPU ---------------------------------------------------------------------------------------------
@pytest.mark.gpu
def test_gpu_blip_and_florence2_fp16(blip_dir, florence_dir, tmp_path):
    import torch

    paths = _images(tmp_path / "d", [(0, 0, 0), (255, 0, 0), (0, 255, 0)])
    blip = BlipCaptioner(str(blip_dir), max_new_tokens=3)
    assert blip.device == "cuda" and blip.dtype == torch.float16
    assert next(blip.model.parameters()).dtype == torch.float16
    rep = caption_folder(tmp_path / "d", captioner=blip, batch_size=2, progress=False)
    assert len(rep.written) == 3 and paths[0].with_suffix(".txt").read_text() == "cat cat cat\n"
    blip.close()
    flo = Florence2Captioner(str(florence_dir), max_new_tokens=5)
    assert flo.device == "cuda"
    rep = caption_folder(tmp_path / "d", captioner=flo, overwrite=True, progress=False)
    assert len(rep.written) == 3
    flo.close()
