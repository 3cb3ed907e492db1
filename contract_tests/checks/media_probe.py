"""The pixel size of a video and an image, read from their bytes without ffmpeg:
`mp4_size` walks an MP4's ISO-BMFF boxes to the first visual track's ``tkhd``, and
`jpeg_size` walks a JPEG's markers to its frame header. Each raises ValueError when the
bytes are not what they claim to be.

The ``media-size`` check uses them to hold ``video_url`` and ``thumbnail_url`` to the
width and height a result states; they are byte parsers with no notion of checks or
exchanges, so they sit on their own.
"""

from __future__ import annotations

from collections.abc import Iterator


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """The ISO-BMFF boxes in data[start:end]: (type, payload start, box end)."""
    pos = start
    while pos + 8 <= end:
        size = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        header = 8
        if size == 1:  # a 64-bit size follows the type
            size, header = int.from_bytes(data[pos + 8 : pos + 16], "big"), 16
        elif size == 0:  # the box runs to the end
            size = end - pos
        if size < header or pos + size > end:
            raise ValueError(f"not an MP4: bad box size {size} at offset {pos}")
        yield kind, pos + header, pos + size
        pos += size


def mp4_size(data: bytes) -> tuple[int, int]:
    """(width, height) of an MP4's first video track, from its ``tkhd`` box (16.16 fixed
    point), without ffmpeg; ValueError if it is not an MP4 with a visual track."""
    top = {kind: (start, end) for kind, start, end in _boxes(data, 0, len(data))}
    if b"ftyp" not in top or b"moov" not in top:
        raise ValueError("not an MP4: no ftyp or moov box")
    for kind, start, end in _boxes(data, *top[b"moov"]):
        if kind != b"trak":
            continue
        for inner, at, stop in _boxes(data, start, end):
            if inner != b"tkhd":
                continue
            # version 1 has 64-bit times: 32 bytes of times and ids instead of 20
            offset = at + 4 + (32 if data[at] == 1 else 20) + 52
            if offset + 8 > stop:
                raise ValueError("not an MP4: tkhd box too short")
            width = int.from_bytes(data[offset : offset + 4], "big") >> 16
            height = int.from_bytes(data[offset + 4 : offset + 8], "big") >> 16
            if width and height:  # audio tracks have 0x0
                return width, height
    raise ValueError("not an MP4 video: no track with a size")


_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # DHT, JPG and DAC are not frames
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RSTn: no length field


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a JPEG's SOFn segment; ValueError if it is not a JPEG."""
    if data[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG: no SOI marker")
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise ValueError(f"not a JPEG: no marker at offset {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _STANDALONE:
            pos += 2
            continue
        if marker in (0xD9, 0xDA):
            break
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker in _SOF and pos + 9 <= len(data):
            height = int.from_bytes(data[pos + 5 : pos + 7], "big")
            width = int.from_bytes(data[pos + 7 : pos + 9], "big")
            return width, height
        pos += 2 + length
    raise ValueError("not a JPEG: no frame header before the image data")


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk, which must come first; ValueError if
    it is not a PNG."""
    if data[:8] != PNG_SIGNATURE or data[12:16] != b"IHDR" or len(data) < 24:
        raise ValueError("not a PNG: no signature and IHDR chunk")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
