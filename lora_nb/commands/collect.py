"""Import images into a dataset folder: checked, normalised to RGB, deduplicated, in kohya concept folders.

SOURCE is a folder (searched recursively), a .zip, a text file with one http(s) URL per line, an
image file, a URL, or a Google Drive path on Colab (/content/drive/MyDrive/...). Originals are
only read. Files that cannot be used are listed with their reason; manifest.json in the dataset
folder maps every output to its source. The audit (concept balance, dataset size) follows.

    lora-nb collect raw_photos/ more.zip urls.txt --out dataset --concept "uehxbfklaq cat" --repeats 10
    lora-nb collect raw/ --out dataset --dedupe remove --audit-grid audit.png
"""

from __future__ import annotations

from ._option_flags import add_option_flags, options_from_args

PREFIX = "collect_"  # dest prefix of the generated CollectOptions flags


def add_arguments(p):
    from ..dataset.auditor import RECOMMENDED_IMAGES
    from ..dataset.collector import CollectOptions

    p.add_argument("sources", nargs="+", metavar="SOURCE",
                   help="folder, .zip, text file of URLs, image file, http(s) URL or Drive path")
    p.add_argument("--out", required=True, help="dataset folder to add the images to (created if missing)")
    add_option_flags(p, CollectOptions, PREFIX, "collect options")
    p.add_argument("--kind", choices=tuple(RECOMMENDED_IMAGES), default="object",
                   help="what the LoRA learns, for the audit's dataset-size advice (object/person ~30 images, "
                        "style/scene 50+)")
    p.add_argument("--resolution", type=int,
                   help="training resolution, for the audit's small-image notes (default: Config's resolution)")
    p.add_argument("--audit-grid", metavar="PNG", help="also save the audit as an image grid to this PNG file")
    p.add_argument("--no-audit", action="store_true", help="skip the audit after collecting")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    from ..dataset.collector import CollectOptions, collect

    opts = options_from_args(args, CollectOptions, PREFIX)
    if args.audit_grid and not args.no_audit:
        from ..fscheck import output_file

        output_file(args.audit_grid, "--audit-grid")  # before the import, not after it
    report = collect(args.sources, args.out, opts, progress=not args.quiet)
    print(report.summary())
    if not args.no_audit and report.out_dir.is_dir():
        from ..dataset.auditor import audit, render_audit
        from ..errors import DatasetError

        try:
            a = audit(report.out_dir, args.kind, resolution=args.resolution, hash_distance=opts.hash_distance)
        except DatasetError as e:
            print(f"audit: {e}")
        else:
            print(a.summary())
            if args.audit_grid:
                from ..fileio import atomic_path

                with atomic_path(args.audit_grid) as tmp:
                    render_audit(a).save(tmp, format="PNG")
                print(f"audit grid -> {args.audit_grid}")
    return 0 if report.imported else 1
