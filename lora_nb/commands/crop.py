"""Crop a dataset folder to training sizes into a new folder (concept folders and captions kept).

Modes: focus (default; keeps the subject, found with the rembg mask when its model file is
present, else a saliency estimate), center, or bucket (keeps the aspect ratio in the closest
bucket of 64-multiples, cropping the minimum). Sizes: SD1.5 512, SDXL/Flux 1024 (or 768).
Images are never upscaled unless --upscale is given; small ones are reported.

    lora-nb crop dataset --out cropped --resolution 512 --mode focus --preview crop_preview.png
    lora-nb crop dataset --out cropped --family sdxl --mode bucket
    lora-nb crop dataset --out cut --remove-background --background white --rembg-model u2netp
"""

from __future__ import annotations


def add_arguments(p):
    from ..dataset.background import DEFAULT_MODEL, MODELS
    from ..dataset.crop import FOCUS_SOURCES, MODES
    from ..families.facts import FACTS

    p.add_argument("src", metavar="DIR", help="dataset folder to crop (e.g. the output of `lora-nb collect`)")
    p.add_argument("--out", required=True, help="new folder for the cropped images (never the input folder)")
    p.add_argument("--resolution", type=int,
                   help="side in pixels, a multiple of 64 (default: the family's, "
                        + ", ".join(f"{n} {'/'.join(map(str, f.crop_resolutions))}" for n, f in FACTS.items()) + ")")
    p.add_argument("--family", choices=tuple(FACTS), default="sd15",
                   help="model family, for the default resolution")
    p.add_argument("--mode", choices=MODES, default="focus",
                   help="focus: square around the subject (LoRA explainer); center: square from the middle; bucket: "
                        "closest aspect-ratio bucket")
    p.add_argument("--upscale", action="store_true",
                   help="enlarge images smaller than the target instead of reporting/skipping them")
    p.add_argument("--focus", choices=FOCUS_SOURCES, default="auto",
                   help="how the focus mode finds the subject: rembg mask, saliency estimate, or auto (rembg if "
                        "its model file is present)")
    p.add_argument("--remove-background", action="store_true",
                   help="cut the background out with rembg before cropping (Flux LoRA guide: when the LoRA learns "
                        "the background instead of the subject)")
    p.add_argument("--background", default="white",
                   help="with --remove-background: colour to put behind the subject (name, #rrggbb, r,g,b) or "
                        "'transparent' for RGBA PNGs (default white)")
    p.add_argument("--rembg-model", choices=tuple(MODELS), default=DEFAULT_MODEL,
                   help=f"rembg model (default {DEFAULT_MODEL}, small and fast)")
    p.add_argument("--model-path", help="your own ONNX file for --rembg-model (e.g. on Drive); no download")
    p.add_argument("--model-dir", help="extra folder holding <model>.onnx, searched before rembg's own")
    p.add_argument("--min-bucket", type=int, default=256, help="bucket mode: smallest bucket side (default 256)")
    p.add_argument("--max-bucket", type=int, help="bucket mode: largest bucket side (default 2 x resolution)")
    p.add_argument("--preview", metavar="PNG", help="save a before/after grid with the crop boxes to this PNG file")
    p.add_argument("--overwrite", action="store_true",
                   help="replace --out even if it was not made by `lora-nb crop`")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    from ..dataset.crop import crop_folder, render_crop_preview
    from ..errors import ConfigError
    from ..images import parse_color

    try:
        parse_color(args.background)
    except ValueError as e:
        raise ConfigError(f"--background: {e}") from None
    report = crop_folder(args.src, args.out, args.resolution, args.mode, family=args.family, upscale=args.upscale,
                         focus=args.focus, rembg_model=args.rembg_model, model_path=args.model_path,
                         model_dir=args.model_dir, remove_background=args.remove_background,
                         background=args.background, min_bucket=args.min_bucket, max_bucket=args.max_bucket,
                         overwrite=args.overwrite, progress=not args.quiet)
    print(report.summary())
    if args.preview:
        from ..fileio import atomic_path

        with atomic_path(args.preview) as tmp:
            render_crop_preview(report).save(tmp, format="PNG")
        print(f"preview -> {args.preview}")
    return 0 if report.items else 1
