"""Encodes SRC into OUT through ffmpeg-python with DFFMPEG as the executable.

ffmpeg-python builds an ordinary argv (-i SRC -acodec copy -crf 23 ... OUT -y)
and runs it; dffmpeg must take it for what it is and distribute it.
"""
import sys

import ffmpeg

dffmpeg, src, out = sys.argv[1:4]
stream = ffmpeg.input(src).output(
    out, vcodec="libx264", crf=23, preset="ultrafast", acodec="copy"
)
_, stderr = (
    stream.global_args("-loglevel", "verbose")
    .overwrite_output()
    .run(cmd=dffmpeg, capture_stderr=True)
)
sys.stderr.write(stderr.decode(errors="replace"))
