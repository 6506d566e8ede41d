"""Memory fit: predict peak GPU memory and host RAM for a config, say whether it fits a GPU, and
which changes make it fit -- before a long wait ends in "CUDA out of memory".

The trainer runs in three phases; the peak is the largest of them:

    caching   text encoders (+ VAE) encode every caption, then leave  (before the denoiser loads)
    encode    each step's images go through the VAE (first epoch, or every step without a cache)
    training  forward + backward of the denoiser with LoRA:
                frozen weights (16-bit, NF4 or int8) + adapter weights, gradients, optimizer state
              + activations saved for the backward pass + transients (a dequantised layer)

plus, on the device but outside PyTorch's allocator, the caching allocator's slack and the CUDA
context.

Parameter counts and adapter layer shapes come from the real diffusers/transformers classes,
built on the ``meta`` device from the hub configs of the reference models (no weights, no
download), with the adapter targets chosen by the same family code the trainer uses. Activation
sizes come from `profile_activations`, which runs the real architecture's forward pass on
``meta`` tensors and adds up every tensor autograd saves for the backward pass (autocast and
flash attention emulated as on a GPU). Its results, and every other constant a measurement can
correct, live in the one `CALIBRATION` table (`calibration`); `bench/memory_fit.py` measures real
peaks on a GPU and prints the corrected values.

Modules: `calibration` (the table), `gpus` (GPU presets and detection), `reference` (the reference
architectures on meta, adapter layers and shapes, file sizes), `optimizer_states`, `activations`
(the meta-device profiler and the table lookup), `predict` (`predict_memory`), `fit` (`memory_fit`:
fits or not, and the changes that make it fit), `measure` (`measure_peak`, GPU only) and `timing`
(`estimate_time`).
"""
