"""This API's media: real, playable MP4s whose pixel size follows ``resolution`` and
``aspect_ratio``, and images (JPEG or PNG, per ``format``) per aspect ratio, all shipped
in ``fixtures/media`` (made by ``fixtures/media/generate.sh``).

Decisions: a video's short side is the resolution's (540p 540, 720p 720, 1080p 1080,
4k 2160) and its long side that times the ratio (720p 16:9 is 1280x720, 720p 9:16 is
720x1280); the files last 1 s to keep the repository small. Images have the sizes the
AceDataCloud dialect's videos have (its JPEG thumbnails are reused for ``jpg``). A
video with a sound track (what "add audio" makes) is the same picture with a 1 s tone,
in ``dream-machine/audio``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from contract_tests.contract import media_dir

DEFAULT_ASPECT_RATIO = "16:9"
DEFAULT_RESOLUTION = "720p"  # decision: the documents name no default
DEFAULT_FORMAT = "jpg"

SHORT_SIDES = {"540p": 540, "720p": 720, "1080p": 1080, "4k": 2160}
DURATIONS = ("5s", "9s")

# Images are the sample JPEGs (and PNGs) of fixtures/media, so their sizes are those files'
# — the same table the AceData dialect keeps for its thumbnails; a dialect imports no other.
IMAGE_SIZES: dict[str, tuple[int, int]] = {
    "16:9": (1360, 752),
    "9:16": (752, 1360),
    "21:9": (1552, 656),
    "9:21": (656, 1552),
    "1:1": (1024, 1024),
    "4:3": (1168, 864),
    "3:4": (864, 1168),
}

KINDS = {"mp4": "video/mp4", "jpg": "image/jpeg", "png": "image/png"}
MEDIA_PREFIX = "/dream-machine/media"


def video_size(aspect_ratio: str, resolution: str) -> tuple[int, int]:
    """(width, height): the short side the resolution's, the long side by the ratio."""
    short = SHORT_SIDES[resolution]
    w, h = (int(part) for part in aspect_ratio.split(":"))
    return (short * w // h, short) if w >= h else (short, short * h // w)


def image_size(aspect_ratio: str) -> tuple[int, int]:
    return IMAGE_SIZES[aspect_ratio]


# A task's variant says what it makes: "video|<ratio>|<resolution>", "audio|<ratio>|
# <resolution>" (a video with sound) or "image|<ratio>|<format>" (the engine keeps it as
# one string).
# A generation made from another one (upscale, add audio) has no model in its request:
# its variant carries the source's, as a fourth part.
def video_variant(
    aspect_ratio: str, resolution: str, *, sound: bool = False, model: str | None = None
) -> str:
    made = f"{'audio' if sound else 'video'}|{aspect_ratio}|{resolution}"
    return f"{made}|{model}" if model else made


def image_variant(aspect_ratio: str, image_format: str) -> str:
    return f"image|{aspect_ratio}|{image_format}"


def parse_variant(variant: str) -> tuple[str, str, str]:
    kind, ratio, detail, *_ = variant.split("|")
    return kind, ratio, detail


def variant_model(variant: str) -> str | None:
    """The model a variant carries (see `video_variant`), else None."""
    parts = variant.split("|")
    return parts[3] if len(parts) > 3 else None


def generation_type(variant: str) -> str:
    """``video`` or ``image``: a video with sound is a video (the SDK knows no other)."""
    return "image" if variant.startswith("image|") else "video"


def media_kind(variant: str) -> str:
    """The extension of the file a task makes: mp4, jpg or png."""
    kind, _, detail = parse_variant(variant)
    return detail if kind == "image" else "mp4"


def media_file(variant: str, kind: str) -> Path:
    made, ratio, detail = parse_variant(variant)
    if kind != media_kind(variant):
        raise FileNotFoundError(f"a {generation_type(variant)} generation has no .{kind} file")
    if made != "image":
        width, height = video_size(ratio, detail)
        folder = media_dir("dream-machine")
        return (folder / "audio" if made == "audio" else folder) / f"{width}x{height}.mp4"
    width, height = image_size(ratio)
    return media_dir("dream-machine") / f"{width}x{height}.{kind}"


def media_url(public_url: str, task_id: str, kind: str) -> str:
    return f"{public_url.rstrip('/')}{MEDIA_PREFIX}/{task_id}.{kind}"


def task_of_url(url: str) -> str | None:
    """The id of the generation behind one of the fake's own media URLs, else None."""
    path = urlsplit(url).path
    if not path.startswith(MEDIA_PREFIX + "/"):
        return None
    name = path.removeprefix(MEDIA_PREFIX + "/")
    stem, dot, kind = name.rpartition(".")
    return stem if dot and kind in KINDS and "/" not in stem else None
