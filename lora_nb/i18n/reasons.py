"""Chinese for the reasons the image reader, collect and crop give (`ImageRejected` texts, crop notes).

The reports and manifests keep the English reason (searchable, machine-read); `reason_text` translates it only
where a summary shows it. A reason no pattern matches is shown as it is."""

from __future__ import annotations

import re

# (English reason, full match) -> Chinese template with the pattern's named groups
REASONS_ZH: list[tuple[str, str]] = [
    (r"empty file \(0 bytes\)", "空文件（0 字节）"),
    (r"not an image \(no known image format in the file's content\)", "不是图像（文件内容不是已知的图像格式）"),
    (r"decompression bomb: header claims (?P<w>\d+)x(?P<h>\d+) px \((?P<mp>\d+) MP\), above the limit of "
     r"(?P<lim>\d+) MP", "解压炸弹：文件头声称 {w}x{h} 像素（{mp} MP），超过 {lim} MP 的上限"),
    (r"decompression bomb: (?P<e>.*)", "解压炸弹：{e}"),
    (r"corrupt or truncated image data: (?P<e>.*)", "图像数据损坏或不完整：{e}"),
    (r"corrupt image: (?P<e>.*)", "图像损坏：{e}"),
    (r"unsupported format (?P<fmt>\S+): convert it to PNG or JPEG", "不支持的格式 {fmt}：请转换为 PNG 或 JPEG"),
    (r"unsupported colour mode (?P<mode>\S+): (?P<e>.*)", "不支持的颜色模式 {mode}：{e}"),
    (r"cannot read file: (?P<e>.*)", "无法读取文件：{e}"),
    (r"file too large: (?P<mb>[\d.]+) MB > max_mb=(?P<max>\d+) \(raise max_mb / --max-mb to allow it\)",
     "文件太大：{mb} MB > max_mb={max}（要允许它，请提高 max_mb / --max-mb）"),
    (r"too small: (?P<w>\d+)x(?P<h>\d+) px, shorter side below min_side=(?P<min>\d+) "
     r"\(lower min_side / --min-side to keep it\)",
     "太小：{w}x{h} 像素，短边小于 min_side={min}（要保留它，请降低 min_side / --min-side）"),
    (r"too small for training: (?P<w>\d+)x(?P<h>\d+) px \(a side below (?P<step>\d+) px\)",
     "太小，无法训练：{w}x{h} 像素（有一边小于 {step} 像素）"),
    (r"too small: (?P<w>\d+)x(?P<h>\d+) px gives a (?P<bw>\d+)x(?P<bh>\d+) crop, below (?P<tw>\d+)x(?P<th>\d+); "
     r"pass upscale=True \(--upscale true\), a lower resolution, or use bucket mode",
     "太小：{w}x{h} 像素只能裁出 {bw}x{bh}，小于 {tw}x{th}；请设置 upscale=True（--upscale true）、"
     "降低分辨率或使用分桶模式"),
    (r"small: kept at (?P<w>\d+)x(?P<h>\d+) instead of upscaling \(upscale=True enlarges it\)",
     "小图：保持 {w}x{h}，不放大（upscale=True 会放大它）"),
    (r"upscaled x(?P<x>[\d.]+)", "已放大 {x} 倍"),
    (r"symlink loop: this folder was already visited, skipped", "符号链接循环：这个文件夹已访问过，已跳过"),
    (r"symlink loop", "符号链接循环"),
    (r"cannot list folder: (?P<e>.*)", "无法列出文件夹：{e}"),
    (r"hidden file or folder, skipped", "隐藏的文件或文件夹，已跳过"),
    (r"hidden or macOS metadata entry, skipped", "隐藏项或 macOS 元数据项，已跳过"),
    (r"unsafe path in zip \(absolute or containing '\.\.'\): refused, nothing written",
     "zip 中的路径不安全（绝对路径或含 '..'）：已拒绝，未写入任何文件"),
    (r"encrypted zip entry: extract it with its password and collect the folder",
     "加密的 zip 项：请用密码解压后再收集这个文件夹"),
    (r"broken symlink \(its target is missing\)", "损坏的符号链接（目标不存在）"),
    (r"file not found", "文件不存在"),
    (r"not imported: (?P<e>.*)", "未导入：{e}"),
    (r"(?P<e>.*) \(copied unchanged to (?P<to>.+); tags and train stop on it until it is re-saved\)",
     "{e}（已原样复制到 {to}；重新保存前，标签统计和训练会在这里停止）"),
]
_COMPILED = [(re.compile(p, re.DOTALL), zh) for p, zh in REASONS_ZH]


def reason_zh(text: str) -> str:
    """`text` (one English reason) in Chinese; unchanged when no pattern matches it."""
    for pattern, zh in _COMPILED:
        m = pattern.fullmatch(text)
        if m:
            return zh.format(**m.groupdict())
    return text
