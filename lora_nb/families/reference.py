"""The full-size architectures each family trains on, as their published hub configs (torch-free):
what the memory planner and the GPU benchmarks build on the ``meta`` device or with random weights.

`min_resolution` is the smallest side the planner suggests when memory is short; the native side is
`facts.FACTS[family].resolution`.
"""

_CLIP_L = dict(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
               num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu", projection_dim=768)
_CLIP_BIGG = dict(vocab_size=49408, hidden_size=1280, intermediate_size=5120, num_hidden_layers=32,
                  num_attention_heads=20, max_position_embeddings=77, hidden_act="gelu", projection_dim=1280)
_T5_XXL = dict(vocab_size=32128, d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64,
               relative_attention_num_buckets=32, feed_forward_proj="gated-gelu", dense_act_fn="gelu_new",
               is_gated_act=True, tie_word_embeddings=False)
_SD_VAE = dict(in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2,
               block_out_channels=(128, 256, 512, 512), down_block_types=("DownEncoderBlock2D",) * 4,
               up_block_types=("UpDecoderBlock2D",) * 4, sample_size=512)

REFERENCE = {
    # stable-diffusion-v1-5/stable-diffusion-v1-5
    "sd15": dict(
        denoiser=("UNet2DConditionModel", dict(
            sample_size=64, in_channels=4, out_channels=4, layers_per_block=2,
            block_out_channels=(320, 640, 1280, 1280), cross_attention_dim=768, attention_head_dim=8,
            down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
            up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3)),
        text_encoders=(("CLIPTextModel", _CLIP_L),),
        vae=_SD_VAE, latent_channels=4, vae_scale=8, patch=1, text_tokens=77, text_dim=768, pooled_dim=0,
        min_resolution=256),
    # stabilityai/stable-diffusion-xl-base-1.0
    "sdxl": dict(
        denoiser=("UNet2DConditionModel", dict(
            sample_size=128, in_channels=4, out_channels=4, layers_per_block=2,
            block_out_channels=(320, 640, 1280), cross_attention_dim=2048, attention_head_dim=(5, 10, 20),
            transformer_layers_per_block=(1, 2, 10), use_linear_projection=True,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
            addition_embed_type="text_time", addition_time_embed_dim=256,
            projection_class_embeddings_input_dim=2816)),
        text_encoders=(("CLIPTextModel", _CLIP_L), ("CLIPTextModelWithProjection", _CLIP_BIGG)),
        vae=_SD_VAE, latent_channels=4, vae_scale=8, patch=1, text_tokens=77, text_dim=2048, pooled_dim=1280,
        min_resolution=512),
    # black-forest-labs/FLUX.1-dev
    "flux": dict(
        denoiser=("FluxTransformer2DModel", dict(
            patch_size=1, in_channels=64, num_layers=19, num_single_layers=38, attention_head_dim=128,
            num_attention_heads=24, joint_attention_dim=4096, pooled_projection_dim=768, guidance_embeds=True,
            axes_dims_rope=(16, 56, 56))),
        text_encoders=(("CLIPTextModel", _CLIP_L), ("T5EncoderModel", _T5_XXL)),
        vae=dict(_SD_VAE, latent_channels=16, use_quant_conv=False, use_post_quant_conv=False),
        latent_channels=16, vae_scale=8, patch=2, text_tokens=512, text_dim=4096, pooled_dim=768, min_resolution=512),
}
