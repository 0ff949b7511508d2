"""Writes a generated 2 s clip to OUT with moviepy, through whatever ffmpeg
IMAGEIO_FFMPEG_EXE names (dffmpeg, or the real ffmpeg for the reference).

moviepy pipes raw RGB frames into `ffmpeg -f rawvideo ... -i -`, so this is
the pipe-input path: dffmpeg spools the frames and distributes the encode.
Lossless (-qp 0), so the frames can be compared with ffmpeg's exactly.
"""
import sys

import numpy as np
from moviepy import VideoClip


def frame(t):
    image = np.zeros((120, 160, 3), dtype=np.uint8)
    image[:, :, 0] = int(t * 100) % 256
    image[:, int(t * 60) % 160, 1] = 255
    return image


VideoClip(frame, duration=2).write_videofile(
    sys.argv[1], fps=25, codec="libx264", audio=False, logger=None, ffmpeg_params=["-qp", "0"]
)
