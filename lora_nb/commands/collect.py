"""Import images into a dataset folder: checked, normalised to RGB, deduplicated, in kohya concept folders.

SOURCE is a folder (searched recursively), a .zip, a text file with one http(s) URL per line, an
image file, a URL, or a Google Drive path on Colab (/content/drive/MyDrive/...). Originals are
only read. Files that cannot be used are listed with their reason; manifest.json in the dataset
folder maps every output to its source. The audit (concept balance, dataset size) follows.

    lora-nb collect raw_photos/ more.zip urls.txt --out dataset --concept "uehxbfklaq cat" --repeats 10
    lora-nb collect raw/ --out dataset --dedupe remove --audit-grid audit.png
"""

from __future__ import annotations


def add_arguments(p):
    from ..dataset.auditor import RECOMMENDED_IMAGES
    from ..dataset.collector import DEDUPE_CHOICES, MIN_SIDE
    from ..dataset.duplicates import HASH_DISTANCE
    from ..dataset.sources import MAX_MB, TIMEOUT
    from ..images import DEFAULT_MAX_PIXELS

    p.add_argument("sources", nargs="+", metavar="SOURCE",
                   help="folder, .zip, text file of URLs, image file, http(s) URL or Drive path")
    p.add_argument("--out", required=True, help="dataset folder to add the images to (created if missing)")
    p.add_argument("--concept", help="put all images into the concept folder N_CONCEPT (e.g. the trigger id and "
                                     "class: 'uehxbfklaq cat'); default: keep N_name folders of the source, else "
                                     "name the concept after the source")
    p.add_argument("--repeats", type=int, help="repeats N of the concept folder N_name (default 1, or the "
                                               "existing folder's)")
    p.add_argument("--min-side", type=int, default=MIN_SIDE,
                   help=f"reject images whose shorter side is below this many pixels (default {MIN_SIDE})")
    p.add_argument("--max-mb", type=float, default=MAX_MB,
                   help=f"reject files and downloads larger than this many MB (default {MAX_MB:g})")
    p.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS,
                   help="reject images claiming more pixels than this (decompression bombs; default PIL's limit)")
    p.add_argument("--timeout", type=float, default=TIMEOUT,
                   help=f"seconds allowed per URL download (default {TIMEOUT:g})")
    p.add_argument("--background", default="white",
                   help="colour transparent images are flattened onto: a name, #rrggbb or r,g,b (default white)")
    p.add_argument("--dedupe", choices=DEDUPE_CHOICES, default="report",
                   help="near-duplicates: report them, remove them (keeping the larger image) or off")
    p.add_argument("--hash-distance", type=int, default=HASH_DISTANCE,
                   help=f"largest perceptual-hash distance (of 256 bits) counted as near-duplicate "
                        f"(default {HASH_DISTANCE})")
    p.add_argument("--kind", choices=tuple(RECOMMENDED_IMAGES), default="object",
                   help="what the LoRA learns, for the audit's dataset-size advice (object/person ~30 images, "
                        "style/scene 50+)")
    p.add_argument("--resolution", type=int, default=512,
                   help="training resolution, for the audit's small-image notes (default 512)")
    p.add_argument("--audit-grid", metavar="PNG", help="also save the audit as an image grid to this PNG file")
    p.add_argument("--no-audit", action="store_true", help="skip the audit after collecting")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    from ..dataset.collector import collect
    from ..errors import ConfigError
    from ..images import parse_color

    try:
        background = parse_color(args.background)
    except ValueError as e:
        raise ConfigError(f"--background: {e}") from None
    report = collect(args.sources, args.out, concept=args.concept, repeats=args.repeats, min_side=args.min_side,
                     max_pixels=args.max_pixels, max_mb=args.max_mb, timeout=args.timeout,
                     background=background or (255, 255, 255), dedupe=args.dedupe,
                     hash_distance=args.hash_distance, progress=not args.quiet)
    print(report.summary())
    if not args.no_audit and report.out_dir.is_dir():
        from ..dataset.auditor import audit, render_audit
        from ..errors import DatasetError

        try:
            a = audit(report.out_dir, args.kind, resolution=args.resolution, hash_distance=args.hash_distance)
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
