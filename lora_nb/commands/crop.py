"""Crop a dataset folder to training sizes into a new folder (concept folders and captions kept).

Modes: focus (default; keeps the subject, found with the rembg mask when its model file is
present, else a saliency estimate), center, or bucket (keeps the aspect ratio in the closest
bucket of 64-multiples, cropping the minimum). Without --resolution the family's native side is
used (see --resolution below for the sides each family offers). Images are never upscaled unless
--upscale true is given; small ones are reported. The crop options below are the fields of
`CropOptions`, with the same defaults as `crop_folder` and notebook 02's form.

    lora-nb crop dataset --out cropped --resolution 512 --mode focus --preview crop_preview.png
    lora-nb crop dataset --out cropped --family sdxl --mode bucket
    lora-nb crop dataset --out cut --remove-background true --background white --rembg-model u2netp
"""

from __future__ import annotations

PREFIX = "crop_"  # the generated flags' dest prefix


def add_arguments(p):
    from ..dataset.crop import CropOptions
    from ._option_flags import add_option_flags

    p.add_argument("src", metavar="DIR", help="dataset folder to crop (e.g. the output of `lora-nb collect`)")
    p.add_argument("--out", required=True, help="new folder for the cropped images (never the input folder)")
    add_option_flags(p, CropOptions, PREFIX, "crop options")
    p.add_argument("--preview", metavar="PNG", help="save a before/after grid with the crop boxes to this PNG file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    from ..dataset.crop import CropOptions, crop_folder, render_crop_preview
    from ._option_flags import options_from_args

    options = options_from_args(args, CropOptions, PREFIX)
    if args.preview:
        from ..fscheck import output_file

        output_file(args.preview, "--preview")  # before the crop, not after it
    report = crop_folder(args.src, args.out, options, progress=not args.quiet)
    print(report.summary())
    if args.preview:
        from ..fileio import atomic_path

        with atomic_path(args.preview) as tmp:
            render_crop_preview(report).save(tmp, format="PNG")
        print(f"preview -> {args.preview}")
    return 0 if report.items else 1
