"""Tiny helpers for tests to check that served media is real and has the expected size.

``video_size`` and ``has_audio`` shell out to the ffmpeg binary bundled with ``imageio_ffmpeg``;
``jpeg_size`` is pure Python.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

import imageio_ffmpeg

_FFMPEG_TIMEOUT_S = 60

# e.g. "Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(progressive),
# 1360x752 [SAR 1:1 DAR 85:47], 38 kb/s, 24 fps, ..."
_VIDEO_STREAM_RE = re.compile(r"Stream #\d+:\d+.*?: Video: .*?, (\d+)x(\d+)\b")

# SOFn markers carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range
# but are not SOFs.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length field: TEM and RST0..RST7 (SOI/EOI are handled separately).
_STANDALONE_MARKERS = frozenset({0x01, *range(0xD0, 0xD8)})


def _run_ffmpeg(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=_FFMPEG_TIMEOUT_S,
        check=False,
    )


def video_size(data: bytes) -> tuple[int, int]:
    """Return (width, height) of the first video stream in ``data``.

    Raises ValueError (with ffmpeg's message) unless the whole file decodes cleanly.
    """
    with tempfile.TemporaryDirectory(prefix="media_probe_") as tmp:
        path = Path(tmp) / "input.mp4"
        path.write_bytes(data)

        decode = _run_ffmpeg("-v", "error", "-i", str(path), "-f", "null", "-")
        decode_err = decode.stderr.decode("utf-8", "replace").strip()
        if decode.returncode != 0 or decode_err:
            raise ValueError(
                f"ffmpeg could not decode video cleanly (exit {decode.returncode}): "
                f"{decode_err or '<no message>'}"
            )

        # Without an output ffmpeg exits non-zero, but stderr still describes the input.
        info = _run_ffmpeg("-i", str(path)).stderr.decode("utf-8", "replace")

    match = _VIDEO_STREAM_RE.search(info)
    if match is None:
        raise ValueError(f"no video stream found by ffmpeg: {info.strip()}")
    return int(match.group(1)), int(match.group(2))


def has_audio(data: bytes) -> bool:
    """Whether ``data`` (a media file) has an audio stream that decodes cleanly."""
    with tempfile.TemporaryDirectory(prefix="media_probe_") as tmp:
        path = Path(tmp) / "input.mp4"
        path.write_bytes(data)
        decode = _run_ffmpeg("-v", "error", "-i", str(path), "-map", "0:a:0", "-f", "null", "-")
        return decode.returncode == 0 and not decode.stderr.strip()


def jpeg_size(data: bytes) -> tuple[int, int]:
    """Return (width, height) from the SOFn segment of a JPEG; ValueError if not a JPEG."""
    if data[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG: missing SOI marker")
    pos = 2
    while True:
        if pos >= len(data):
            raise ValueError("not a JPEG: truncated before a SOF marker")
        if data[pos] != 0xFF:
            raise ValueError(f"not a JPEG: expected a marker at offset {pos}")
        while pos < len(data) and data[pos] == 0xFF:  # skip fill bytes
            pos += 1
        if pos >= len(data):
            raise ValueError("not a JPEG: truncated before a marker")
        marker = data[pos]
        pos += 1
        if marker in _STANDALONE_MARKERS:
            continue
        if marker in (0xD9, 0xDA):  # EOI / SOS before any frame header
            raise ValueError("not a JPEG: no SOF marker before image data")
        if pos + 2 > len(data):
            raise ValueError("not a JPEG: truncated segment length")
        length = int.from_bytes(data[pos : pos + 2], "big")
        if length < 2 or pos + length > len(data):
            raise ValueError(f"not a JPEG: bad segment length {length} at offset {pos}")
        if marker in _SOF_MARKERS:
            if length < 7:
                raise ValueError("not a JPEG: SOF segment too short")
            height = int.from_bytes(data[pos + 3 : pos + 5], "big")
            width = int.from_bytes(data[pos + 5 : pos + 7], "big")
            if width == 0 or height == 0:
                raise ValueError(f"unsupported JPEG frame size {width}x{height}")
            return width, height
        pos += length
