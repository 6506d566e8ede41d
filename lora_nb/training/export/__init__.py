"""LoRA files that diffusers, ComfyUI and AUTOMATIC1111/Forge load: kohya and diffusers layouts.

The trainer keeps its adapters as peft LoRA layers (adapter "default"); at each checkpoint this
package turns them into files:

    out_dir/
      {name}.safetensors                          kohya layout + ss_*/modelspec.* metadata:
                                                  A1111/Forge (models/Lora), ComfyUI (models/loras)
      {name}_diffusers/pytorch_lora_weights.safetensors
                                                  diffusers layout, written by diffusers' own
                                                  writer: `pipe.load_lora_weights(folder or file)`

Kohya keys are ``{prefix}_{module path with '.' -> '_'}.lora_down.weight`` / ``.lora_up.weight``
/ ``.alpha``; the loader scales each update by alpha / rank. The alpha written is the one the
peft layer really uses (``scaling * r``), so ``lora_alpha != r`` (LoRA explainer: alpha = rank/2) and
per-layer alpha patterns survive the round trip; diffusers' `convert_state_dict_to_kohya` would
write alpha = rank and the SDXL-style ``lora_te1`` prefix for SD1, which is why the names are
built here. Diffusers files carry the peft `LoraConfig` in the ``lora_adapter_metadata`` header
entry (as diffusers 0.42's `save_lora_weights` does), which is how `load_lora_weights` restores
``lora_alpha != r``.

CLIP text encoders are named as in the original checkpoints (``text_model.encoder.layers.N...``):
transformers 5 flattened `CLIPTextModel` (no ``text_model`` wrapper), but A1111, ComfyUI and the
hub's LoRA files all use the original names, and diffusers strips the prefix again when loading.

LoRA variants (Kohya practice guide §1.4) are written in the layout each ecosystem loads:

    network_type   kohya file (A1111/Forge/ComfyUI)           diffusers format
    lora, locon    lora_down / lora_up / alpha (convs too)     pytorch_lora_weights.safetensors
    dora           + dora_scale, one value per output row,     + lora_magnitude_vector (exact in
                   written for ComfyUI's / Forge's formula     diffusers' load_lora_weights)
                   (exact there at strength 1); with
                   save_dora_a1111 also {name}.a1111.safetensors:
                   full ``diff`` keys, exact in A1111 too
    loha           LyCORIS hada_w1_a/_b, hada_w2_a/_b, alpha   no diffusers loader exists: a peft
    lokr           LyCORIS lokr_w1[_a/_b], lokr_w2[_a/_b]      folder per component instead
                                                               ({name}_peft/<component>/, load with
                                                               peft.PeftModel.from_pretrained)

DoRA: ComfyUI and Forge divide a per-output-row dora_scale by the ORIGINAL weight's row norm, so the file stores
``m * ||W|| / ||W + dW||`` (the base weight is known at export) and their result is peft's. A1111 always
normalises per input column, which no dora_scale can turn into DoRA's per-row magnitude: only the full-weight
file is exact there; diffusers drops dora_scale from kohya files (its own format is exact). `applied` has each
UI loader's maths; tests/test_exactness.py measures every claim against the adapter.

SDXL's UNet keys use the original sgm block names (input_blocks.N...) through `ExportTarget.key_name`;
Flux's are kohya sd-scripts' ``lora_unet_`` + Black Forest Labs' module names
(``double_blocks_N_img_attn_qkv``, ``single_blocks_N_linear1`` ...), the form ComfyUI, Forge and diffusers
all load, with diffusers' separate q/k/v (+ proj_mlp) written as BFL's fused layers (`fusing`: stacked
downs, block-diagonal ups, alpha scaled to keep alpha / rank).

Only ``.safetensors`` is written or read by default: pickle files (.ckpt/.pt/.bin) can run code
when loaded.

Which tool takes which file (DoRA and LoHa/LoKr files do not load everywhere) is in
`loaders`: each file's ``lora_nb_loaders`` header entry and the run folder's ``files.md`` say it.

Modules: `naming` (which peft layers, under which checkpoint names), `state_dicts` (kohya /
diffusers / peft tensors), `metadata` (ss_* / modelspec.* header, sshs_* hashes), `dataset_info`
(kohya's dataset keys from the run's scan), `loaders` (which tool takes which file, files.md),
`files` (`save_lora_files`), `compat` (ComfyUI's key map, to check a file loads completely), `a1111_keys`
(A1111's name conversion), `applied` (the weight change each UI loader applies from a file, and the DoRA
conventions), `fusing` (separately trained layers as one fused layer of the original checkpoint).
"""
