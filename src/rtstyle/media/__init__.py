"""Media in and out: images, video files (PyAV, audio kept), cameras and a preview window.

One module a part: :mod:`.images`, :mod:`.decode` (video in), :mod:`.encode` (video
out), :mod:`.tracks` (a source's audio and subtitles carried over), :mod:`.camera`, :mod:`.window`;
:mod:`.base` holds what they share. Everything public is importable from here.

Frames are HxWx3 ``uint8`` RGB numpy arrays everywhere. Bad input (a missing, empty,
truncated or foreign file, an unwritable output, a camera that will not open) raises
:class:`~rtstyle.errors.RtStyleError` with a one-line message naming the path; misuse by
a programmer (a frame of the wrong shape, ``size <= 0``) raises ``ValueError``.

This package stays light on purpose: numpy, Pillow, OpenCV and PyAV, never torch.
Outputs are atomic (see :mod:`rtstyle.fileio`): nothing half-written is left behind.
"""

from .animation import ANIMATED_OUTPUT_EXTS, frame_count, picture_gif, read_animation, write_animation
from .base import IMAGE_EXTS, IMAGE_OUTPUT_EXTS, VIDEO_EXTS, VIDEO_OUTPUT_EXTS, PathLike
from .camera import Camera
from .decode import VideoReader
from .encode import VideoWriter
from .images import (
    image_tags,
    input_kind,
    list_images,
    read_image,
    read_image_with_alpha,
    resize_shorter,
    resize_to,
    shorter_size,
    write_image,
)
from .window import Window, display_available, draw_fps

__all__ = ["ANIMATED_OUTPUT_EXTS", "IMAGE_EXTS", "IMAGE_OUTPUT_EXTS", "VIDEO_EXTS", "VIDEO_OUTPUT_EXTS", "PathLike",
           "Camera", "VideoReader", "VideoWriter", "Window", "display_available", "draw_fps", "frame_count", "picture_gif",
           "image_tags", "input_kind", "list_images", "read_animation", "read_image", "read_image_with_alpha",
           "resize_shorter", "resize_to", "shorter_size", "write_animation", "write_image"]
