"""kohya-complete ss_* metadata from a real run, which tool takes which file (header + files.md), and the
adaptive optimizers (Prodigy, D-Adaptation) training the text encoder through the trainer."""

import json

import pytest
import torch

from lora_nb.config import Config
from lora_nb.errors import ConfigError, LoraNbError
from lora_nb.families.lorafiles import read_lora_file
from lora_nb.toy.testing import make_toy_dataset
from lora_nb.training.export.loaders import DIFFUSERS, LOADERS_KEY, NOTE_KEY, PEFT, loaders
from lora_nb.training.export.metadata import lora_metadata
from lora_nb.training.optimizers import make_optimizer
from lora_nb.training.trainer import train

# The keys sd-scripts' train_network.py writes into every LoRA it saves (the metadata dict, the dataset keys
# of a folder dataset, ss_network_args, ss_sd_model_name and the save-time keys), read from its source.
KOHYA_ALWAYS = [
    "ss_session_id", "ss_training_started_at", "ss_output_name", "ss_learning_rate", "ss_text_encoder_lr",
    "ss_unet_lr", "ss_num_train_images", "ss_num_validation_images", "ss_num_reg_images",
    "ss_num_batches_per_epoch", "ss_num_epochs", "ss_gradient_checkpointing", "ss_gradient_accumulation_steps",
    "ss_max_train_steps", "ss_lr_warmup_steps", "ss_lr_scheduler", "ss_network_module", "ss_network_dim",
    "ss_network_alpha", "ss_network_dropout", "ss_mixed_precision", "ss_full_fp16", "ss_v2",
    "ss_base_model_version", "ss_clip_skip", "ss_max_token_length", "ss_cache_latents", "ss_seed", "ss_lowram",
    "ss_noise_offset", "ss_multires_noise_iterations", "ss_multires_noise_discount", "ss_adaptive_noise_scale",
    "ss_zero_terminal_snr", "ss_training_comment", "ss_sd_scripts_commit_hash", "ss_optimizer", "ss_max_grad_norm",
    "ss_caption_dropout_rate", "ss_caption_dropout_every_n_epochs", "ss_caption_tag_dropout_rate",
    "ss_face_crop_aug_range", "ss_prior_loss_weight", "ss_min_snr_gamma", "ss_scale_weight_norms",
    "ss_ip_noise_gamma", "ss_debiased_estimation", "ss_noise_offset_random_strength",
    "ss_ip_noise_gamma_random_strength", "ss_loss_type", "ss_huber_schedule", "ss_huber_scale", "ss_huber_c",
    "ss_fp8_base", "ss_fp8_base_unet", "ss_validation_seed", "ss_validation_split", "ss_max_validation_steps",
    "ss_validate_every_n_epochs", "ss_validate_every_n_steps", "ss_resize_interpolation",
    # dataset keys (train_dataset_dir layout)
    "ss_batch_size_per_device", "ss_total_batch_size", "ss_resolution", "ss_color_aug", "ss_flip_aug",
    "ss_random_crop", "ss_shuffle_caption", "ss_enable_bucket", "ss_bucket_no_upscale", "ss_min_bucket_reso",
    "ss_max_bucket_reso", "ss_keep_tokens", "ss_dataset_dirs", "ss_reg_dataset_dirs", "ss_tag_frequency",
    "ss_bucket_info",
    "ss_network_args", "ss_sd_model_name",
    # written at each save
    "ss_training_finished_at", "ss_steps", "ss_epoch",
]
# flux_train_network.py's update_metadata
FLUX_EXTRAS = ["ss_model_type", "ss_apply_t5_attn_mask", "ss_weighting_scheme", "ss_logit_mean", "ss_logit_std",
               "ss_mode_scale", "ss_guidance_scale", "ss_timestep_sampling", "ss_sigmoid_scale",
               "ss_model_prediction_type", "ss_discrete_flow_shift"]
JSON_KEYS = ["ss_dataset_dirs", "ss_reg_dataset_dirs", "ss_tag_frequency", "ss_bucket_info", "ss_network_args"]
UIS = ["ComfyUI", "AUTOMATIC1111", "Forge"]


@pytest.fixture
def base(tiny_sd15, tmp_path):
    # 4 square images x 2 repeats and 3 wide (2:1) ones x 1: the wide ones go to the 64x64 bucket too
    data = make_toy_dataset(tmp_path / "data", {"toycircle": (2, 4)})
    make_toy_dataset(data, {"toysquare": (1, 3)}, size=(128, 64), seed=1)
    return dict(pretrained_model=str(tiny_sd15), train_data_dir=str(data), resolution=64, optimizer="adamw",
                learning_rate=1e-3, max_train_steps=2, save_every_n_steps=1, output_dir=str(tmp_path / "run"),
                save_precision="fp32")


def test_run_metadata_has_kohyas_keys_and_meanings(base):
    res = train(Config(**base, lr_warmup_ratio=0.5, training_comment="toy"))
    sd, md = read_lora_file(res.files["kohya"])
    assert set(KOHYA_ALWAYS) <= set(md), sorted(set(KOHYA_ALWAYS) - set(md))
    assert not set(FLUX_EXTRAS) & set(md)  # SD1.5: kohya's train_network.py adds no family keys
    assert all(isinstance(v, str) for v in md.values())
    for k in JSON_KEYS:
        json.loads(md[k])
    assert md["ss_num_train_images"] == "11"  # kohya: images x repeats = 4 x 2 + 3 x 1
    assert json.loads(md["ss_dataset_dirs"]) == {"2_toycircle": {"n_repeats": 2, "img_count": 4},
                                                 "1_toysquare": {"n_repeats": 1, "img_count": 3}}
    info = json.loads(md["ss_bucket_info"])
    assert info["buckets"] == {"0": {"resolution": [64, 64], "count": 11}}
    assert info["mean_img_ar_error"] == pytest.approx(3 * (2.0 - 1.0) / 7)  # the three 2:1 images, per image
    assert md["ss_num_batches_per_epoch"] == "11"  # batch 1: one batch per sample
    assert md["ss_lr_warmup_steps"] == "1"  # resolved from lr_warmup_ratio, not the config's 0
    assert md["ss_steps"] == "2" and md["ss_max_train_steps"] == "2" and md["ss_num_validation_images"] == "0"
    args = json.loads(md["ss_network_args"])
    assert args == {"target_modules": "to_q,to_k,to_v,to_out.0", "train_text_encoder": "False",
                    "train_mlp": "False"}
    assert md["ss_sd_scripts_commit_hash"] == "(unknown)" and md["ss_training_comment"] == "toy"


def test_files_say_which_tool_takes_them(base):
    res = train(Config(**base, save_formats=["kohya", "diffusers"]))
    out = res.output_dir
    _, kohya = read_lora_file(res.files["kohya"])
    assert json.loads(kohya[LOADERS_KEY]) == UIS + [DIFFUSERS] and kohya[NOTE_KEY] == ""
    _, diff = read_lora_file(res.files["diffusers"])
    assert json.loads(diff[LOADERS_KEY]) == [DIFFUSERS] and "ComfyUI" in diff[NOTE_KEY]  # only partly there
    assert json.loads(diff["lora_adapter_metadata"])["unet.lora_alpha"] == 8.0  # diffusers' own entry kept
    lines = (out / "files.md").read_text(encoding="utf-8").splitlines()
    files = [ln for ln in lines if ln.startswith("- ")]
    assert len(files) == 4  # step 1 and the final file, each in both formats: one line per file
    by_name = {ln.split("`")[1]: ln for ln in files}
    assert set(by_name) == {"lora.safetensors", "lora-step00000001.safetensors",
                            "lora_diffusers/pytorch_lora_weights.safetensors",
                            "lora-step00000001_diffusers/pytorch_lora_weights.safetensors"}
    assert "ComfyUI (models/loras)" in by_name["lora.safetensors"]
    assert "AUTOMATIC1111" in by_name["lora.safetensors"] and "diffusers" in by_name["lora.safetensors"]
    diff_line = by_name["lora_diffusers/pytorch_lora_weights.safetensors"]
    assert "pipe.load_lora_weights" in diff_line and "ComfyUI (models/loras)" not in diff_line
    assert not any(p.name.startswith(".") for p in out.iterdir())  # written atomically, no temp left


def test_loha_run_lists_its_peft_folders_and_no_diffusers_claim(base):
    res = train(Config(**{**base, "network_type": "loha", "max_train_steps": 1,
                          "save_formats": ["kohya", "diffusers"]}))
    _, md = read_lora_file(res.files["kohya"])
    assert json.loads(md[LOADERS_KEY]) == UIS  # diffusers cannot read LyCORIS LoHa keys
    text = (res.output_dir / "files.md").read_text(encoding="utf-8")
    assert "`lora_peft/unet/adapter_model.safetensors` (peft adapter): peft PeftModel.from_pretrained" in text
    assert "`lora.safetensors` (kohya/LyCORIS format): ComfyUI" in text


@pytest.mark.parametrize("family, kind, mlp, tools, note", [
    ("sd15", "lora", False, UIS + [DIFFUSERS], ""),
    ("sdxl", "locon", False, UIS + [DIFFUSERS], ""),
    ("sd15", "dora", False, ["ComfyUI", "Forge"], "per input column"),  # dora_scale for ComfyUI's formula
    ("flux", "dora", False, ["ComfyUI", "Forge"], "strength 1"),
    ("sd15", "lokr", False, UIS, "cannot apply lokr"),
    ("flux", "lora", False, ["ComfyUI", "Forge", DIFFUSERS], ""),  # A1111 runs no Flux
    ("flux", "lora", True, ["ComfyUI", "Forge", DIFFUSERS], ""),  # BFL names: diffusers reads the MLP keys too
    ("flux", "loha", True, ["ComfyUI", "Forge"], "changes nothing"),  # diffusers loads it without effect
])
def test_kohya_file_claims(family, kind, mlp, tools, note):
    got, why = loaders("kohya", Config(family=family, network_type=kind, train_mlp=mlp))
    assert got == tools and note in why
    assert loaders("diffusers", Config(family=family, network_type=kind)) == (
        [DIFFUSERS], "not for ComfyUI / A1111 / Forge (they load only part of its keys): use the kohya file")
    assert loaders("peft", Config(family=family, network_type=kind))[0] == [PEFT]


def test_flux_metadata_has_kohyas_flux_keys():
    cfg = Config(family="flux", resolution=1024, timestep_sampling="shift", flow_shift=3.1, guidance_scale=1.0,
                 train_mlp=True)
    md = lora_metadata(cfg, steps=1, epoch=1, num_train_images=3, tag_frequency={})
    assert set(KOHYA_ALWAYS) - {"ss_sd_model_name"} <= set(md) and set(FLUX_EXTRAS) <= set(md)
    assert md["ss_model_type"] == "flux" and md["ss_timestep_sampling"] == "shift"
    assert md["ss_discrete_flow_shift"] == "3.1" and md["ss_guidance_scale"] == "1.0"
    assert json.loads(md["ss_network_args"])["train_mlp"] == "True"
    assert md["ss_bucket_info"] == "null" and md["ss_num_batches_per_epoch"] == "None"  # no scan given


# --- Prodigy / D-Adaptation ------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["prodigy", "dadaptation"])
def test_adaptive_optimizer_trains_the_text_encoder_too(base, name, monkeypatch):
    import lora_nb.training.trainer as T

    built = []
    real = T.make_optimizer
    monkeypatch.setattr(T, "make_optimizer", lambda cfg, groups: built.append(real(cfg, groups)) or built[-1])
    res = train(Config(**{**base, "optimizer": name, "learning_rate": 1.0, "train_text_encoder": True}))
    assert res.steps == 2
    assert [g["initial_lr"] for g in built[0].param_groups] == [1.0, 1.0]  # one lr for both groups, as advised
    sd, md = read_lora_file(res.files["kohya"])
    assert md["ss_unet_lr"] == md["ss_text_encoder_lr"] == "1.0"
    te_up = [v for k, v in sd.items() if k.startswith("lora_te_") and k.endswith("lora_up.weight")]
    assert te_up and any(v.abs().sum() > 0 for v in te_up)  # the text encoder's zero-initialised B moved


def test_adaptive_optimizer_refuses_two_learning_rates():
    with pytest.raises(ConfigError, match=r"text_encoder_lr: prodigy .* -> set unet_lr and text_encoder_lr to 0"):
        Config(optimizer="prodigy", learning_rate=1.0, text_encoder_lr=0.5, train_text_encoder=True)
    Config(optimizer="prodigy", learning_rate=1.0, text_encoder_lr=0.5)  # text encoder not trained: no conflict
    assert Config(optimizer="adamw", train_text_encoder=True).effective_text_encoder_lr == 5e-5  # others: lr/2
    p = [torch.nn.Parameter(torch.zeros(2)) for _ in range(2)]
    with pytest.raises(LoraNbError, match="one learning rate for every parameter group"):
        make_optimizer(Config(optimizer="dadaptation", learning_rate=1.0),
                       [{"params": [p[0]], "lr": 1.0}, {"params": [p[1]], "lr": 0.5}])
